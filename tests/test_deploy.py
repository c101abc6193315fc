"""labkit/_deploy.py: the IAM policy, the botocore check and the CloudFormation template made
from a real trigger on DynamoDB Local (lesson 11)."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from _esm import trigger_factory

import labkit

QUEUE = "arn:aws:sqs:us-east-1:123456789012:order-failures"
BUCKET = "arn:aws:s3:::order-failures"
STREAM_ACTIONS = {
    "dynamodb:DescribeStream",
    "dynamodb:GetRecords",
    "dynamodb:GetShardIterator",
    "dynamodb:ListStreams",
}


def ignore(event: dict[str, Any], context: Any) -> None:
    return None


@pytest.fixture
def make_trigger(lab: labkit.Lab) -> Iterator[Callable[..., labkit.Trigger]]:
    yield from trigger_factory(lab)


@pytest.fixture
def setup(lab, table_name, make_trigger):
    """A source with a stream, a target and a failure table, and a trigger sending failures to
    the failure table."""
    source, target, failures = table_name("orders"), table_name("totals"), table_name("fail")
    lab.create_table(source)
    lab.create_table(target, stream=None)
    lab.create_table(failures, stream=None)
    trigger = make_trigger(
        source,
        ignore,
        batch_size=25,
        maximum_retry_attempts=2,
        destination_config={"OnFailure": {"Destination": failures}},
    )
    target_arn = lab.dynamodb.describe_table(TableName=target)["Table"]["TableArn"]
    return trigger, target_arn


def _statement(policy: dict[str, Any], sid: str) -> dict[str, Any]:
    return next(s for s in policy["Statement"] if s["Sid"] == sid)


def test_policy_grants_the_stream_actions_on_the_stream_and_writes_on_the_target(lab, setup):
    trigger, target_arn = setup
    policy = labkit.iam_policy(trigger, writes_to=[target_arn], destination_arn=QUEUE)
    assert policy["Version"] == "2012-10-17"
    read = _statement(policy, "ReadTheStream")
    assert set(read["Action"]) == STREAM_ACTIONS
    assert read["Resource"] == lab.stream_arn(trigger.table_name)
    write = _statement(policy, "WriteTheTargetTables")
    assert write["Resource"] == [target_arn]
    assert "dynamodb:UpdateItem" in write["Action"]
    assert not any(a.startswith("dynamodb:") for a in _statement(policy, "WriteLogs")["Action"])
    send = _statement(policy, "SendFailedBatchRecords")
    assert send["Action"] == ["sqs:SendMessage"] and send["Resource"] == QUEUE
    json.dumps(policy)  # a plain JSON document


def test_policy_for_sns_and_s3_destinations_uses_their_own_actions(setup):
    trigger, _ = setup
    topic = "arn:aws:sns:us-east-1:123456789012:order-failures"
    sns = labkit.iam_policy(trigger, destination_arn=topic)
    assert _statement(sns, "SendFailedBatchRecords")["Action"] == ["sns:Publish"]
    s3 = _statement(labkit.iam_policy(trigger, destination_arn=BUCKET), "SendFailedBatchRecords")
    assert s3["Action"] == ["s3:PutObject", "s3:ListBucket"]
    assert s3["Resource"] == [BUCKET, BUCKET + "/*"]


def test_policy_without_targets_or_destination_has_no_such_statements(
    lab, table_name, make_trigger
):
    name = table_name("orders")
    lab.create_table(name)
    policy = labkit.iam_policy(make_trigger(name, ignore))
    assert [s["Sid"] for s in policy["Statement"]] == ["ReadTheStream", "WriteLogs"]


def test_a_lab_destination_needs_an_aws_arn_and_a_wrong_arn_is_refused(setup):
    trigger, _ = setup
    with pytest.raises(labkit.DeployError, match="SQS queue, SNS topic or S3 bucket"):
        labkit.iam_policy(trigger)
    with pytest.raises(labkit.DeployError, match="not the ARN"):
        labkit.iam_policy(trigger, destination_arn=trigger.config.destination)
    with pytest.raises(labkit.DeployError, match="table ARNs"):
        labkit.iam_policy(trigger, writes_to="totals", destination_arn=QUEUE)


def test_a_destination_arn_without_a_destination_config_is_refused(lab, table_name, make_trigger):
    name = table_name("orders")
    lab.create_table(name)
    with pytest.raises(labkit.DeployError, match="no destination_config"):
        labkit.iam_policy(make_trigger(name, ignore), destination_arn=QUEUE)


def test_check_esm_config_accepts_esm_config_and_refuses_a_misspelled_name(setup):
    trigger, _ = setup
    kwargs = trigger.esm_config("order-totals", destination_arn=QUEUE)
    assert labkit.check_esm_config(kwargs) is kwargs
    with pytest.raises(labkit.DeployError, match="BatchSizes"):
        labkit.check_esm_config({**kwargs, "BatchSizes": 5})


def test_template_holds_the_esm_config_unchanged_and_the_policy(lab, setup):
    trigger, target_arn = setup
    real_stream = (
        "arn:aws:dynamodb:eu-west-1:123456789012:table/orders/stream/2026-01-01T00:00:00.000"
    )
    template = labkit.cloudformation_template(
        trigger,
        "order-totals",
        role_name="order-totals-role",
        writes_to=[target_arn],
        destination_arn=QUEUE,
        stream_arn=real_stream,
    )
    resources = template["Resources"]
    mapping = resources["OrderTotalsStreamMapping"]
    assert mapping["Type"] == "AWS::Lambda::EventSourceMapping"
    expected = {**trigger.esm_config("order-totals", destination_arn=QUEUE)}
    expected["EventSourceArn"] = real_stream
    assert mapping["Properties"] == expected
    assert mapping["Properties"]["MaximumRetryAttempts"] == 2
    policy = resources["OrderTotalsStreamPolicy"]
    assert policy["Type"] == "AWS::IAM::RolePolicy"
    assert policy["Properties"]["RoleName"] == "order-totals-role"
    read = _statement(policy["Properties"]["PolicyDocument"], "ReadTheStream")
    assert read["Resource"] == real_stream
    # the lab's own stream ARN is left untouched by the override
    assert trigger.esm_config("f", destination_arn=QUEUE)["EventSourceArn"] == lab.stream_arn(
        trigger.table_name
    )
    json.dumps(template)

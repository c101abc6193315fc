"""labkit/esm/_deploy.py and _creation.py: the function and its trigger as a deployment (lesson 11).

Made from real functions and triggers on DynamoDB Local: the create_function arguments (the
module the lab ran, zipped), the IAM policy for an account and Region, and CloudFormation
templates for several kinds of trigger, each linted with cfn-lint (errors, warnings and
informational findings: none allowed). cfn-lint is a test dependency (pyproject's [test] extra).
"""

from __future__ import annotations

import io
import json
import zipfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from _esm import trigger_factory
from cfnlint.api import ManualArgs, lint

import labkit
from labkit.esm import function_files, function_zip, lab_arns

QUEUE = "arn:aws:sqs:us-east-1:123456789012:order-failures"
TOPIC = "arn:aws:sns:us-east-1:123456789012:order-failures"
BUCKET = "arn:aws:s3:::order-failures"
ROLE = "arn:aws:iam::123456789012:role/order-totals"
WHERE = {"region": "eu-west-1", "account": "111122223333"}
STREAM_ACTIONS = {
    "dynamodb:DescribeStream",
    "dynamodb:GetRecords",
    "dynamodb:GetShardIterator",
    "dynamodb:ListStreams",
}
# A function written as AWS deploys it: module-level client, table name from the environment.
TOTALS_SOURCE = """import os

import boto3
from boto3.dynamodb.types import TypeDeserializer

deserialize = TypeDeserializer().deserialize
totals = boto3.resource("dynamodb").Table(os.environ["TOTALS_TABLE"])


def handler(event, context):
    for record in event["Records"]:
        new = record["dynamodb"].get("NewImage")
        if new:
            order = {k: deserialize(v) for k, v in new.items()}
            totals.update_item(
                Key={"customer": order["customer"]},
                UpdateExpression="ADD revenue :r",
                ExpressionAttributeValues={":r": order["total"]},
            )
"""
# Partial batch response, and a tumbling window's state, as the handler returns them.
PARTIAL_SOURCE = """def handler(event, context):
    return {"batchItemFailures": []}
"""
WINDOW_SOURCE = """def handler(event, context):
    return {"state": {"seen": len(event["Records"]) + event["state"].get("seen", 0)}}
"""


def ignore(event: dict[str, Any], context: Any) -> None:
    return None


def lint_findings(template: dict[str, Any]) -> list[str]:
    """cfn-lint's findings on the template (every level: E, W and informational I)."""
    matches = lint(
        json.dumps(template), config=ManualArgs(regions=["us-east-1"], include_checks=["I"])
    )
    return [f"{m.rule.id} {m.message}" for m in matches]


def _resources(template: dict[str, Any], kind: str) -> dict[str, dict[str, Any]]:
    return {k: r for k, r in template["Resources"].items() if r["Type"] == kind}


def _one(template: dict[str, Any], kind: str) -> tuple[str, dict[str, Any]]:
    (found,) = _resources(template, kind).items()
    return found


def _statement(policy: dict[str, Any], sid: str) -> dict[str, Any]:
    return next(s for s in policy["Statement"] if s["Sid"] == sid)


@pytest.fixture
def make_trigger(lab: labkit.Lab) -> Iterator[Callable[..., labkit.Trigger]]:
    yield from trigger_factory(lab)


@pytest.fixture
def code(tmp_path: Path) -> Path:
    """A code folder with the test's function modules (as notebooks/functions/ for a lesson)."""
    folder = tmp_path / "functions"
    folder.mkdir()
    (folder / "order_totals.py").write_text(TOTALS_SOURCE)
    (folder / "partial.py").write_text(PARTIAL_SOURCE)
    (folder / "window.py").write_text(WINDOW_SOURCE)
    return folder


@pytest.fixture
def tables(lab, table_name):
    """A source with a stream, a target and a failure table."""
    source, target, failures = table_name("orders"), table_name("totals"), table_name("fail")
    lab.create_table(source)
    totals = lab.create_table(target, key="customer", stream=None)
    lab.create_table(failures, stream=None)
    return source, totals, failures


@pytest.fixture
def totals_function(lab, code, tables):
    _, totals, _ = tables
    return lab.function(
        "order-totals",
        "order_totals.handler",
        code=code,
        environment={"TOTALS_TABLE": totals.table_name},
        timeout=30,
        memory_size=256,
    )


@pytest.fixture
def setup(lab, tables, totals_function, make_trigger):
    """The totals function on the source's stream, failures sent to the failure table."""
    source, totals, failures = tables
    trigger = make_trigger(
        source,
        totals_function,
        batch_size=25,
        maximum_retry_attempts=2,
        destination_config={"OnFailure": {"Destination": failures}},
    )
    return trigger, totals


# -- the IAM policy, for an account and Region --------------------------------------------------
def test_policy_grants_the_stream_actions_on_the_stream_and_writes_on_the_target(setup):
    trigger, totals = setup
    policy = labkit.iam_policy(trigger, **WHERE, writes_to=[totals], destination_arn=QUEUE)
    assert policy["Version"] == "2012-10-17"
    read = _statement(policy, "ReadTheStream")
    assert set(read["Action"]) == STREAM_ACTIONS
    assert read["Resource"] == (
        f"arn:aws:dynamodb:eu-west-1:111122223333:table/{trigger.table_name}/stream/*"
    )
    write = _statement(policy, "WriteTheTargetTables")
    assert write["Resource"] == [
        f"arn:aws:dynamodb:eu-west-1:111122223333:table/{totals.table_name}"
    ]
    assert "dynamodb:UpdateItem" in write["Action"]
    assert not any(a.startswith("dynamodb:") for a in _statement(policy, "WriteLogs")["Action"])
    send = _statement(policy, "SendFailedBatchRecords")
    assert send["Action"] == ["sqs:SendMessage"] and send["Resource"] == QUEUE
    assert lab_arns(policy) == []
    json.dumps(policy)  # a plain JSON document


def test_policy_takes_table_names_and_real_table_arns(setup):
    trigger, totals = setup
    real = "arn:aws:dynamodb:eu-west-1:111122223333:table/elsewhere"
    policy = labkit.iam_policy(
        trigger, **WHERE, writes_to=[totals.table_name, real], destination_arn=QUEUE
    )
    resources = _statement(policy, "WriteTheTargetTables")["Resource"]
    assert resources[1] == real and resources[0].endswith(f":table/{totals.table_name}")


def test_policy_refuses_dynamodb_locals_arns_and_needs_an_account(lab, setup):
    trigger, totals = setup
    with pytest.raises(labkit.DeployError, match="account and Region"):
        labkit.iam_policy(trigger, destination_arn=QUEUE)
    with pytest.raises(labkit.DeployError, match="DynamoDB Local's"):
        labkit.iam_policy(trigger, stream_arn=trigger.stream_arn, destination_arn=QUEUE)
    lab_table_arn = lab.dynamodb.describe_table(TableName=totals.table_name)["Table"]["TableArn"]
    with pytest.raises(labkit.DeployError, match="DynamoDB Local's"):
        labkit.iam_policy(trigger, **WHERE, writes_to=[lab_table_arn], destination_arn=QUEUE)
    with pytest.raises(labkit.DeployError, match="not an AWS account"):
        labkit.iam_policy(trigger, region="eu-west-1", account="000000000000")
    with pytest.raises(labkit.DeployError, match="not an AWS Region"):
        labkit.iam_policy(trigger, region="ddblocal", account="111122223333")


def test_policy_for_sns_and_s3_destinations_uses_their_own_actions(setup):
    trigger, _ = setup
    sns = labkit.iam_policy(trigger, **WHERE, destination_arn=TOPIC)
    assert _statement(sns, "SendFailedBatchRecords")["Action"] == ["sns:Publish"]
    s3 = _statement(
        labkit.iam_policy(trigger, **WHERE, destination_arn=BUCKET), "SendFailedBatchRecords"
    )
    assert s3["Action"] == ["s3:PutObject", "s3:ListBucket"]
    assert s3["Resource"] == [BUCKET, BUCKET + "/*"]


def test_policy_without_targets_or_destination_has_no_such_statements(
    lab, table_name, make_trigger
):
    name = table_name("orders")
    lab.create_table(name)
    policy = labkit.iam_policy(make_trigger(name, ignore), **WHERE)
    assert [s["Sid"] for s in policy["Statement"]] == ["ReadTheStream", "WriteLogs"]


def test_a_lab_destination_needs_an_aws_arn_and_a_wrong_arn_is_refused(setup):
    trigger, _ = setup
    with pytest.raises(labkit.DeployError, match="SQS queue, SNS topic or S3 bucket"):
        labkit.iam_policy(trigger, **WHERE)
    with pytest.raises(labkit.DeployError, match="not the ARN"):
        labkit.iam_policy(trigger, **WHERE, destination_arn=trigger.config.destination)
    with pytest.raises(labkit.DeployError, match="one string"):
        labkit.iam_policy(trigger, **WHERE, writes_to="totals", destination_arn=QUEUE)


def test_a_destination_arn_without_a_destination_config_is_refused(lab, table_name, make_trigger):
    name = table_name("orders")
    lab.create_table(name)
    with pytest.raises(labkit.DeployError, match="no destination_config"):
        labkit.iam_policy(make_trigger(name, ignore), **WHERE, destination_arn=QUEUE)


# -- botocore's check -------------------------------------------------------------------------
def test_check_esm_config_accepts_esm_config_and_refuses_a_misspelled_name(setup):
    trigger, _ = setup
    kwargs = trigger.esm_config(destination_arn=QUEUE)
    assert kwargs["FunctionName"] == "order-totals"  # the function's own name
    assert labkit.check_esm_config(kwargs) is kwargs
    with pytest.raises(labkit.DeployError, match="BatchSizes"):
        labkit.check_esm_config({**kwargs, "BatchSizes": 5})
    real = "arn:aws:dynamodb:eu-west-1:111122223333:table/orders/stream/2026-01-01T00:00:00.000"
    assert trigger.esm_config(destination_arn=QUEUE, stream_arn=real)["EventSourceArn"] == real


# -- the function: create_function's arguments --------------------------------------------------
def test_function_config_carries_the_module_the_lab_ran_and_only_its_own_variables(setup, code):
    trigger, totals = setup
    kwargs = labkit.function_config(trigger, role_arn=ROLE)
    assert kwargs["FunctionName"] == "order-totals"
    assert kwargs["Handler"] == "order_totals.handler"
    assert kwargs["Runtime"] in ("python3.12", "python3.13")
    assert (kwargs["Timeout"], kwargs["MemorySize"], kwargs["Role"]) == (30, 256, ROLE)
    # the function's own variables: never the lab's credentials or endpoints
    assert kwargs["Environment"] == {"Variables": {"TOTALS_TABLE": totals.table_name}}
    assert trigger.variables, "the lab gives the function its endpoints while it runs here"
    assert not set(trigger.variables) & set(kwargs["Environment"]["Variables"])
    with zipfile.ZipFile(io.BytesIO(kwargs["Code"]["ZipFile"])) as package:
        assert package.namelist() == ["order_totals.py"]
        assert package.read("order_totals.py").decode() == (code / "order_totals.py").read_text()
    assert function_zip(trigger) == kwargs["Code"]["ZipFile"]  # the same bytes every time


def test_function_files_follow_the_code_folders_own_imports(lab, code):
    (code / "shared_rules.py").write_text("LIMIT = 3\n")
    (code / "with_helper.py").write_text(
        "import json\nfrom shared_rules import LIMIT\n\n\ndef handler(event, context):\n"
        "    return LIMIT\n"
    )
    function = lab.function("with-helper", "with_helper.handler", code=code)
    assert sorted(function_files(function)) == ["shared_rules.py", "with_helper.py"]


def test_a_callable_or_a_lab_role_cannot_be_deployed(lab, setup, table_name, make_trigger):
    trigger, _ = setup
    name = table_name("orders")
    lab.create_table(name)
    with pytest.raises(labkit.DeployError, match="Lambda deploys a file"):
        labkit.function_config(make_trigger(name, ignore), role_arn=ROLE)
    with pytest.raises(labkit.DeployError, match="DynamoDB Local's"):
        labkit.function_config(trigger, role_arn="arn:aws:iam::000000000000:role/lab")


# -- CloudFormation: one template per kind of trigger, each linted ------------------------------
TRIGGERS: dict[str, dict[str, Any]] = {
    "plain": {},
    "filter": {
        "filter_criteria": {
            "Filters": [
                {"Pattern": json.dumps({"dynamodb": {"NewImage": {"status": {"S": ["paid"]}}}})},
                {"Pattern": json.dumps({"eventName": ["REMOVE"]})},
            ]
        }
    },
    "sqs-destination-made-by-the-template": {
        "maximum_retry_attempts": 2,
        "bisect_batch_on_function_error": True,
        "maximum_record_age_in_seconds": 3600,
        "destination": None,
    },
    "sns-destination": {"maximum_retry_attempts": 0, "destination": TOPIC},
    "s3-destination": {"maximum_retry_attempts": 1, "destination": BUCKET},
    "tumbling-window": {"tumbling_window_in_seconds": 60, "module": "window"},
    "partial-batch-response": {
        "function_response_types": ["ReportBatchItemFailures"],
        "parallelization_factor": 4,
        "batch_size": 500,
        "maximum_batching_window_in_seconds": 5,
        "module": "partial",
    },
}


@pytest.mark.parametrize("kind", list(TRIGGERS))
def test_every_kind_of_template_deploys_as_it_is(lab, tables, code, make_trigger, kind):
    source, totals, failures = tables
    options = dict(TRIGGERS[kind])
    module = options.pop("module", "order_totals")
    environment = {"TOTALS_TABLE": totals.table_name} if module == "order_totals" else {}
    function = lab.function(
        f"{kind}-fn", f"{module}.handler", code=code, environment=environment, timeout=12
    )
    destination_arn = options.pop("destination", "no destination")
    if destination_arn != "no destination":
        options["destination_config"] = {"OnFailure": {"Destination": failures}}
    else:
        destination_arn = None
    trigger = make_trigger(source, function, **options)
    writes = [totals] if module == "order_totals" else []
    template = labkit.cloudformation_template(
        trigger, writes_to=writes, destination_arn=destination_arn
    )

    assert lint_findings(template) == []
    text = json.dumps(template)
    assert "ddblocal" not in text and "000000000000" not in text and lab_arns(template) == []

    source_id, table = next(
        (k, r)
        for k, r in _resources(template, "AWS::DynamoDB::Table").items()
        if r["Properties"]["TableName"] == source
    )
    assert table["Properties"]["StreamSpecification"] == {"StreamViewType": "NEW_AND_OLD_IMAGES"}
    policy_id, policy = _one(template, "AWS::IAM::RolePolicy")
    role_id, role = _one(template, "AWS::IAM::Role")
    (trust,) = role["Properties"]["AssumeRolePolicyDocument"]["Statement"]
    assert trust["Principal"] == {"Service": "lambda.amazonaws.com"}
    assert policy["Properties"]["RoleName"] == {"Ref": role_id}
    read = _statement(policy["Properties"]["PolicyDocument"], "ReadTheStream")
    assert read["Resource"] == {"Fn::GetAtt": [source_id, "StreamArn"]}

    function_id, deployed = _one(template, "AWS::Lambda::Function")
    properties = deployed["Properties"]
    # the code in the template is the file the lab ran
    assert properties["Code"] == {"ZipFile": (code / f"{module}.py").read_text()}
    assert properties["Handler"] == "index.handler"  # CloudFormation names an inline file index
    assert (properties["Timeout"], properties["MemorySize"]) == (12, 128)
    assert properties["Role"] == {"Fn::GetAtt": [role_id, "Arn"]}
    if environment:
        (target_id,) = (
            k
            for k, r in _resources(template, "AWS::DynamoDB::Table").items()
            if r["Properties"]["TableName"] == totals.table_name
        )
        assert properties["Environment"] == {"Variables": {"TOTALS_TABLE": {"Ref": target_id}}}
    else:
        assert "Environment" not in properties

    _, mapping = _one(template, "AWS::Lambda::EventSourceMapping")
    assert mapping["DependsOn"] == [policy_id]  # Lambda checks the role's access at creation
    has_destination = trigger.config.destination is not None
    expected = trigger.esm_config(
        destination_arn=(destination_arn or QUEUE) if has_destination else None
    )
    got = dict(mapping["Properties"])
    assert got.pop("EventSourceArn") == {"Fn::GetAtt": [source_id, "StreamArn"]}
    assert got.pop("FunctionName") == {"Ref": function_id}
    for key in ("EventSourceArn", "FunctionName"):
        expected.pop(key)
    if "DestinationConfig" in expected:
        destination = got.pop("DestinationConfig")["OnFailure"]["Destination"]
        expected.pop("DestinationConfig")
        if destination_arn is None:
            (queue_id,) = _resources(template, "AWS::SQS::Queue")
            assert destination == {"Fn::GetAtt": [queue_id, "Arn"]}
        else:
            assert destination == destination_arn
    assert got == expected  # every other option exactly as esm_config has it


def test_a_template_with_event_count_metrics_and_iterator_age_alarms_deploys_as_it_is(
    lab, tables, totals_function, make_trigger
):
    """Lesson 13's template: the mapping asks for the EventCount metrics (MetricsConfig, as
    esm_config has it) and AWS::CloudWatch::Alarm resources watch the function's IteratorAge
    (namespace AWS/Lambda, dimension FunctionName: a Ref to the template's function)."""
    source, totals, _ = tables
    trigger = make_trigger(source, totals_function, metrics_config={"Metrics": ["EventCount"]})
    paging = trigger.iterator_age_alarm(
        300_000,
        evaluation_periods=3,
        datapoints_to_alarm=2,
        actions=["arn:aws:sns:us-east-1:123456789012:on-call"],
    )
    early = trigger.iterator_age_alarm(60_000)
    template = labkit.cloudformation_template(trigger, writes_to=[totals], alarms=[paging, early])
    assert lint_findings(template) == []
    function_id, _ = _one(template, "AWS::Lambda::Function")
    _, mapping = _one(template, "AWS::Lambda::EventSourceMapping")
    assert mapping["Properties"]["MetricsConfig"] == {"Metrics": ["EventCount"]}
    alarms = _resources(template, "AWS::CloudWatch::Alarm")
    assert list(alarms) == ["OrderTotalsIteratorAgeAlarm1", "OrderTotalsIteratorAgeAlarm2"]
    first = alarms["OrderTotalsIteratorAgeAlarm1"]["Properties"]
    assert first == paging.properties({"Ref": function_id})
    assert first["Dimensions"] == [{"Name": "FunctionName", "Value": {"Ref": function_id}}]
    assert (first["Namespace"], first["MetricName"], first["Statistic"]) == (
        "AWS/Lambda",
        "IteratorAge",
        "Maximum",
    )
    assert (first["Threshold"], first["EvaluationPeriods"], first["DatapointsToAlarm"]) == (
        300_000,
        3,
        2,
    )
    assert first["AlarmActions"] == ["arn:aws:sns:us-east-1:123456789012:on-call"]
    assert "AlarmActions" not in alarms["OrderTotalsIteratorAgeAlarm2"]["Properties"]
    single = labkit.cloudformation_template(trigger, writes_to=[totals], alarms=[early])
    assert list(_resources(single, "AWS::CloudWatch::Alarm")) == ["OrderTotalsIteratorAgeAlarm"]
    assert lint_findings(single) == []


def test_a_template_refuses_an_alarm_of_another_function(
    lab, tables, totals_function, make_trigger, table_name
):
    source, totals, _ = tables
    trigger = make_trigger(source, totals_function)
    other_table = table_name("other")
    lab.create_table(other_table)
    other = make_trigger(other_table, ignore)
    with pytest.raises(labkit.DeployError, match="watches 'ignore'"):
        labkit.cloudformation_template(
            trigger, writes_to=[totals], alarms=[other.iterator_age_alarm(1000)]
        )
    with pytest.raises(labkit.DeployError, match="not a list"):
        labkit.cloudformation_template(
            trigger, writes_to=[totals], alarms=trigger.iterator_age_alarm(1000)
        )
    with pytest.raises(labkit.DeployError, match="not an alarm"):
        labkit.cloudformation_template(trigger, writes_to=[totals], alarms=[{"Threshold": 1}])


def test_a_large_module_goes_to_s3_and_keeps_its_handler(lab, tables, code, make_trigger):
    source, _, _ = tables
    (code / "big.py").write_text(
        "def handler(event, context):\n    return None\n" + "# padding\n" * 500
    )
    function = lab.function("big-fn", "big.handler", code=code)
    template = labkit.cloudformation_template(make_trigger(source, function))
    assert lint_findings(template) == []
    _, deployed = _one(template, "AWS::Lambda::Function")
    assert deployed["Properties"]["Handler"] == "big.handler"
    assert deployed["Properties"]["Code"] == {
        "S3Bucket": {"Ref": "CodeS3Bucket"},
        "S3Key": {"Ref": "CodeS3Key"},
    }
    assert set(template["Parameters"]) == {"CodeS3Bucket", "CodeS3Key"}


def test_the_lab_stream_arn_is_what_aws_refuses(setup):
    """Before: the template named the lab's stream ARN, and cfn-lint said E3031."""
    trigger, totals = setup
    template = labkit.cloudformation_template(trigger, writes_to=[totals])
    mapping_id, _ = _one(template, "AWS::Lambda::EventSourceMapping")
    template["Resources"][mapping_id]["Properties"]["EventSourceArn"] = trigger.stream_arn
    assert any(finding.startswith("E3031") for finding in lint_findings(template))


def test_template_refuses_what_it_cannot_create(lab, setup, table_name, make_trigger):
    trigger, totals = setup
    with pytest.raises(labkit.DeployError, match="one string"):
        labkit.cloudformation_template(trigger, writes_to=totals.table_name)
    with pytest.raises(labkit.DeployError, match="no table"):
        labkit.cloudformation_template(trigger, writes_to=["no_such_table"])
    with pytest.raises(labkit.DeployError, match="not the ARN"):
        labkit.cloudformation_template(trigger, destination_arn="order_failures")
    name = table_name("orders")
    lab.create_table(name)
    with pytest.raises(labkit.DeployError, match="Lambda deploys a file"):
        labkit.cloudformation_template(make_trigger(name, ignore))


# -- what Lambda checks at creation ----------------------------------------------------------
def test_creation_checks_show_how_little_botocore_refuses(setup):
    trigger, totals = setup
    template = labkit.cloudformation_template(trigger, writes_to=[totals])
    rows = {
        row["Lambda checks"]: row for row in labkit.creation_checks(template).to_dict("records")
    }
    syntax = rows["Filter Pattern: filter rule syntax [E2]"]
    assert syntax["botocore"] == "accepts both"  # a Pattern is an opaque string to botocore
    assert syntax["labkit"] == "refuses both at lab.trigger"
    assert rows["BatchSize: 1 to 10,000 [E1]"]["botocore"] == "refuses 0; accepts 10,001"
    assert rows["EventSourceArn: a real Region and account [E4]"]["botocore"] == "accepts"
    # every rule is either refused by labkit or provided by the template
    for row in rows.values():
        assert not row["labkit"].startswith("accepts"), row
        assert "not in the template" not in row["labkit"], row

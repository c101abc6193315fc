"""From the lab to AWS: what a trigger needs around it to run as a real Lambda deployment.

``trigger.esm_config(...)`` already gives the keyword arguments of boto3's
``lambda.create_event_source_mapping``. This module adds, from the same trigger:

* ``check_esm_config(kwargs)``: botocore's own validation of those arguments (no AWS call);
* ``iam_policy(trigger, ...)``: the policy of the function's execution role: the four stream
  actions on the stream ("IAM policy to allow an AWS Lambda function to access DynamoDB stream
  records", the AWSLambdaDynamoDBExecutionRole managed policy), write actions on the tables the
  handler writes, the send action of the on-failure destination (SQS ``sqs:SendMessage``, SNS
  ``sns:Publish``, S3 ``s3:PutObject`` and ``s3:ListBucket``), and CloudWatch Logs;
* ``cloudformation_template(trigger, ...)``: an ``AWS::Lambda::EventSourceMapping`` resource (its
  properties are named exactly as the API's parameters) and the role policy, as a template dict
  (``json.dumps`` it, or let CloudFormation read it as JSON).

Engine module: no Jupyter imports.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Sequence
from typing import Any

import botocore.session
from botocore.exceptions import ParamValidationError
from botocore.validate import validate_parameters

from .._errors import DeployError
from ._trigger import Trigger

__all__ = [
    "LOG_ACTIONS",
    "STREAM_ACTIONS",
    "WRITE_ACTIONS",
    "check_esm_config",
    "cloudformation_template",
    "destination_actions",
    "iam_policy",
]

POLICY_VERSION = "2012-10-17"
STREAM_ACTIONS = (
    "dynamodb:DescribeStream",
    "dynamodb:GetRecords",
    "dynamodb:GetShardIterator",
    "dynamodb:ListStreams",
)
WRITE_ACTIONS = (
    "dynamodb:PutItem",
    "dynamodb:UpdateItem",
    "dynamodb:DeleteItem",
    "dynamodb:BatchWriteItem",
)
LOG_ACTIONS = ("logs:CreateLogGroup", "logs:CreateLogStream", "logs:PutLogEvents")
# The on-failure destinations Lambda accepts for DynamoDB Streams, by the ARN's service, with
# the actions the execution role needs to send the failure document there.
_DESTINATION_ACTIONS = {
    "sqs": ("sqs:SendMessage",),
    "sns": ("sns:Publish",),
    "s3": ("s3:PutObject", "s3:ListBucket"),
}
_ARN = re.compile(r"^arn:aws[a-zA-Z0-9-]*:([a-z0-9-]+):")


def _esm_shape() -> Any:
    model = botocore.session.get_session().get_service_model("lambda")
    return model.operation_model("CreateEventSourceMapping").input_shape


def check_esm_config(kwargs: dict[str, Any]) -> dict[str, Any]:
    """Validate ``create_event_source_mapping`` arguments with botocore's own model, offline.

    Returns ``kwargs`` unchanged when botocore accepts them; raises ``DeployError`` (with
    botocore's report) when it would refuse them before sending anything.

    Introduced in notebooks/11-from-the-lab-to-aws.ipynb.
    """
    try:
        validate_parameters(kwargs, _esm_shape())
    except ParamValidationError as exc:
        raise DeployError(
            f"boto3 would refuse these create_event_source_mapping arguments: {exc}",
            "build them with trigger.esm_config(function_name, ...) and change only values, "
            "not names.",
            cause=exc,
        ) from exc
    return kwargs


def destination_actions(destination_arn: str) -> tuple[str, ...]:
    """The actions an execution role needs to send failure documents to ``destination_arn``.

    Introduced in notebooks/11-from-the-lab-to-aws.ipynb.
    """
    match = _ARN.match(destination_arn) if isinstance(destination_arn, str) else None
    service = match.group(1) if match else None
    if service not in _DESTINATION_ACTIONS:
        raise DeployError(
            f"{destination_arn!r} is not the ARN of an SQS queue, SNS topic or S3 bucket, the "
            "on-failure destinations Lambda accepts for DynamoDB Streams.",
            "pass an ARN such as 'arn:aws:sqs:us-east-1:123456789012:orders-failures' "
            "(or arn:aws:sns:... / arn:aws:s3:::bucket).",
        )
    return _DESTINATION_ACTIONS[service]


def _destination_resources(destination_arn: str) -> list[str] | str:
    if destination_arn.startswith("arn:aws") and ":s3:" in destination_arn:
        return [destination_arn, f"{destination_arn}/*"]  # ListBucket: bucket; PutObject: objects
    return destination_arn


def _destination_for(trigger: Trigger, destination_arn: str | None) -> str | None:
    if trigger.config.destination is None:
        if destination_arn is not None:
            raise DeployError(
                f"destination_arn={destination_arn!r} was given, but the trigger on "
                f"{trigger.table_name!r} has no destination_config, so nothing is sent there.",
                "make the trigger with destination_config={'OnFailure': {'Destination': ...}}, "
                "or leave destination_arn out.",
            )
        return None
    if destination_arn is None:
        raise DeployError(
            f"The trigger on {trigger.table_name!r} sends failures to the lab table "
            f"{trigger.config.destination!r}; on AWS that must be an SQS queue, SNS topic or S3 "
            "bucket, whose ARN the policy needs.",
            "pass destination_arn='arn:aws:sqs:<region>:<account>:<queue>' (or sns / s3).",
        )
    destination_actions(destination_arn)  # checks the ARN
    return destination_arn


def iam_policy(
    trigger: Trigger,
    *,
    writes_to: Sequence[str] = (),
    destination_arn: str | None = None,
    stream_arn: str | None = None,
) -> dict[str, Any]:
    """The IAM policy document for the execution role of the function behind ``trigger``.

    ``writes_to`` lists the ARNs of the tables the handler writes (``describe_table`` gives
    them); ``destination_arn`` is the on-failure destination on AWS (required when the trigger
    has a ``destination_config``); ``stream_arn`` replaces the lab's stream ARN (on AWS, the
    table's ``LatestStreamArn``). Each statement grants only what the function uses.

    Introduced in notebooks/11-from-the-lab-to-aws.ipynb.
    """
    if not isinstance(trigger, Trigger):
        raise DeployError(
            f"iam_policy() needs a trigger, not {str(trigger)[:60]!r}.",
            "pass the trigger you ran in the lab: lk.iam_policy(trigger, writes_to=[...]).",
        )
    if isinstance(writes_to, str) or not all(
        isinstance(a, str) and a.startswith("arn:") for a in writes_to
    ):
        raise DeployError(
            f"writes_to={writes_to!r} is not a list of table ARNs.",
            "pass writes_to=[lab.dynamodb.describe_table(TableName=name)['Table']['TableArn']].",
        )
    destination = _destination_for(trigger, destination_arn)
    statements: list[dict[str, Any]] = [
        {
            "Sid": "ReadTheStream",
            "Effect": "Allow",
            "Action": list(STREAM_ACTIONS),
            "Resource": stream_arn or trigger.stream_arn,
        }
    ]
    if writes_to:
        statements.append(
            {
                "Sid": "WriteTheTargetTables",
                "Effect": "Allow",
                "Action": list(WRITE_ACTIONS),
                "Resource": list(writes_to),
            }
        )
    if destination is not None:
        statements.append(
            {
                "Sid": "SendFailedBatchRecords",
                "Effect": "Allow",
                "Action": list(destination_actions(destination)),
                "Resource": _destination_resources(destination),
            }
        )
    statements.append(
        {"Sid": "WriteLogs", "Effect": "Allow", "Action": list(LOG_ACTIONS), "Resource": "*"}
    )
    return {"Version": POLICY_VERSION, "Statement": statements}


def _logical_id(name: str) -> str:
    parts = re.split(r"[^A-Za-z0-9]+", name)
    return "".join(p[:1].upper() + p[1:] for p in parts if p) or "Function"


def cloudformation_template(
    trigger: Trigger,
    function_name: str,
    *,
    role_name: str,
    writes_to: Sequence[str] = (),
    destination_arn: str | None = None,
    stream_arn: str | None = None,
) -> dict[str, Any]:
    """A CloudFormation template (as a dict) with the trigger's event source mapping and the
    execution role's policy.

    The mapping's properties are ``trigger.esm_config(...)`` unchanged: CloudFormation's
    ``AWS::Lambda::EventSourceMapping`` names its properties as the API names its parameters.
    The policy (``iam_policy``) is attached to the existing role ``role_name`` as an
    ``AWS::IAM::RolePolicy``; the function itself is deployed as you deploy code.

    Introduced in notebooks/11-from-the-lab-to-aws.ipynb.
    """
    if not isinstance(function_name, str) or not function_name:
        raise DeployError(
            f"function_name={function_name!r} is not a function name.",
            "pass the name of the Lambda function, like 'order-totals'.",
        )
    properties = copy.deepcopy(trigger.esm_config(function_name, destination_arn=destination_arn))
    if stream_arn is not None:
        properties["EventSourceArn"] = stream_arn
    check_esm_config(properties)
    policy = iam_policy(
        trigger, writes_to=writes_to, destination_arn=destination_arn, stream_arn=stream_arn
    )
    stem = _logical_id(function_name)
    return {
        "AWSTemplateFormatVersion": "2010-09-09",
        "Description": f"Event source mapping of {function_name} on the stream of "
        f"{trigger.table_name}, made from a labkit trigger",
        "Resources": {
            f"{stem}StreamMapping": {
                "Type": "AWS::Lambda::EventSourceMapping",
                "Properties": properties,
            },
            f"{stem}StreamPolicy": {
                "Type": "AWS::IAM::RolePolicy",
                "Properties": {
                    "RoleName": role_name,
                    "PolicyName": f"{function_name}-stream-processing",
                    "PolicyDocument": policy,
                },
            },
        },
    }

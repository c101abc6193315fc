"""From the lab to AWS: the function and its trigger as a real Lambda deployment.

Everything here is made from what ran in the lab, never typed by hand:

* ``function_config(function, role_arn=...)``: the keyword arguments of boto3's
  ``lambda.create_function`` for a function defined with ``lab.function(name, "module.handler",
  ...)``: its code (a .zip of the module file the lab ran, and the code folder's modules it
  imports), handler, environment (the function's own variables, never the lab's credentials or
  endpoints), timeout and memory size, checked by botocore (``check_function_config``);
* ``trigger.esm_config(...)`` (in ``_mapping``) and ``check_esm_config(kwargs)``: the same for
  ``lambda.create_event_source_mapping``;
* ``iam_policy(trigger, ...)``: the execution role's policy for an account and Region;
* ``cloudformation_template(trigger, ...)``: one template that deploys it all as it is: the
  tables (the source with its stream), the on-failure queue, the execution role and its policy,
  the function with its code, and the event source mapping, which waits for the policy.

Sources (AWS documentation):

[CF1] CloudFormation template reference, ``AWS::Lambda::Function Code``, ``ZipFile``: "(Node.js
      and Python) ... CFN places it in a file named ``index`` and zips it ... For the
      ``Handler`` property, the first part of the handler identifier must be ``index``". The
      property was long limited to 4,096 characters (CloudFormation has since raised it to a
      4 MB zip); labkit still inlines only a single module of at most ``INLINE_CODE_MAX``
      characters, so the template stays readable and far below the 51,200 bytes a template
      passed as ``TemplateBody`` may have, and refers anything larger to S3 (``S3Bucket``,
      ``S3Key`` parameters).
[CF2] ``AWS::Lambda::EventSourceMapping``: its properties are named as the API's parameters
      (so ``esm_config`` goes in unchanged); ``EventSourceArn`` must match the ARN pattern
      ``arn:(aws[a-zA-Z0-9-]*):...:((eusc-)?[a-z]{2}...-\\d{1})?:(\\d{12})?:(.*)``, which
      DynamoDB Local's ``arn:aws:dynamodb:ddblocal:000000000000:...`` does not (cfn-lint E3031).
[CF3] ``AWS::DynamoDB::Table``: ``Fn::GetAtt [Table, StreamArn]`` is the stream's ARN, ``Ref``
      the table's name; ``AWS::SQS::Queue``: ``Fn::GetAtt [Queue, Arn]``.
[L1]  Lambda DG, "Defining Lambda function permissions with an execution role": the role's
      trust policy "must specify the Lambda service principal (lambda.amazonaws.com)".
[L2]  DynamoDB DG, "IAM policy to allow an AWS Lambda function to access DynamoDB stream
      records": ``dynamodb:GetRecords``, ``GetShardIterator``, ``DescribeStream``,
      ``ListStreams`` on ``arn:aws:dynamodb:<region>:<account>:table/<table>/stream/*``; the
      AWSLambdaDynamoDBExecutionRole managed policy adds CloudWatch Logs.
[L5]  AWS managed policy AWSLambdaKinesisExecutionRole (v2): ``kinesis:DescribeStream``,
      ``DescribeStreamSummary``, ``GetRecords``, ``GetShardIterator``, ``ListShards``,
      ``ListStreams``, ``SubscribeToShard`` (and CloudWatch Logs); a Kinesis stream's ARN is
      ``arn:aws:kinesis:<region>:<account>:stream/<name>``.
[L3]  CreateEventSourceMapping checks that the role can read the stream when the mapping is
      made: "Cannot access stream <arn>. Please ensure the role can perform the GetRecords,
      GetShardIterator, DescribeStream, and ListStreams Actions on your stream in IAM."
      (InvalidParameterValueException), and likewise the on-failure destination ("The provided
      execution role does not have permissions to call SendMessage on SQS"). So the template's
      mapping ``DependsOn`` the role's policy.
[L4]  Lambda DG, "Lambda runtimes": Python 3.13 is a supported runtime (``RUNTIME``).
[CW1] ``AWS::CloudWatch::Alarm``: ``Namespace`` ``AWS/Lambda``, ``MetricName`` ``IteratorAge``,
      ``Dimensions`` ``FunctionName`` (a ``Ref`` to the function gives its name),
      ``Statistic``, ``Period``, ``EvaluationPeriods``, ``DatapointsToAlarm``, ``Threshold``,
      ``ComparisonOperator``, ``TreatMissingData``, ``AlarmActions`` (``_metrics.IteratorAgeAlarm``
      holds them, and evaluates the same rule on the lab's run).

Engine module: no Jupyter imports.
"""

from __future__ import annotations

import ast
import copy
import io
import re
import zipfile
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

import botocore.session
from botocore.exceptions import ClientError, ParamValidationError
from botocore.validate import validate_parameters

from .._errors import DeployError
from ._function import Function, _module_file
from ._mapping import EventSourceMapping
from ._metrics import IteratorAgeAlarm

__all__ = [
    "INLINE_CODE_MAX",
    "KINESIS_STREAM_ACTIONS",
    "LOG_ACTIONS",
    "RUNTIME",
    "STREAM_ACTIONS",
    "WRITE_ACTIONS",
    "check_esm_config",
    "check_function_config",
    "cloudformation_template",
    "destination_actions",
    "function_config",
    "function_files",
    "function_zip",
    "iam_policy",
    "lab_arns",
]

POLICY_VERSION = "2012-10-17"
RUNTIME = "python3.13"  # [L4]
INLINE_CODE_MAX = 4096  # [CF1]
STREAM_ACTIONS = (
    "dynamodb:DescribeStream",
    "dynamodb:GetRecords",
    "dynamodb:GetShardIterator",
    "dynamodb:ListStreams",
)
KINESIS_STREAM_ACTIONS = (  # [L5]
    "kinesis:DescribeStream",
    "kinesis:DescribeStreamSummary",
    "kinesis:GetRecords",
    "kinesis:GetShardIterator",
    "kinesis:ListShards",
    "kinesis:ListStreams",
    "kinesis:SubscribeToShard",
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
_LAB_REGION, _LAB_ACCOUNT = "ddblocal", "000000000000"  # DynamoDB Local's ARNs
_ACCOUNT = re.compile(r"^\d{12}$")
_REGION = re.compile(r"^[a-z]{2}(-gov|-iso[a-z]?)?-[a-z]+-\d$")
_TRUST_POLICY = {
    "Version": POLICY_VERSION,
    "Statement": [
        {
            "Effect": "Allow",
            "Principal": {"Service": "lambda.amazonaws.com"},
            "Action": "sts:AssumeRole",
        }
    ],
}  # [L1]
_ZIP_DATE = (1980, 1, 1, 0, 0, 0)  # the same bytes for the same code
# Said, not left to the default: deleting the lab's stack deletes its tables and queue with their
# data (a production stack would say "Retain"; cfn-lint's I3011 asks for it to be explicit).
_DELETE = {"DeletionPolicy": "Delete", "UpdateReplacePolicy": "Delete"}


# -- botocore's own check (the shape only) -----------------------------------------------------
def _input_shape(operation: str) -> Any:
    model = botocore.session.get_session().get_service_model("lambda")
    return model.operation_model(operation).input_shape


def _botocore_check(operation: str, kwargs: dict[str, Any], how: str) -> dict[str, Any]:
    try:
        validate_parameters(kwargs, _input_shape(operation))
    except ParamValidationError as exc:
        raise DeployError(
            f"boto3 would refuse these {operation} arguments: {exc}",
            f"build them with {how} and change only values, not names.",
            cause=exc,
        ) from exc
    return kwargs


def check_esm_config(kwargs: dict[str, Any]) -> dict[str, Any]:
    """Validate ``create_event_source_mapping`` arguments with botocore's own model, offline.

    Returns ``kwargs`` unchanged when botocore accepts them; raises ``DeployError`` (with
    botocore's report) when it would refuse them before sending anything. botocore checks the
    shape only (names, types, minimums): a filter ``Pattern`` is an opaque string to it, and
    most of what Lambda refuses at creation passes (``creation_checks()`` shows which).

    Introduced in notebooks/11-from-the-lab-to-aws.ipynb.
    """
    return _botocore_check(
        "CreateEventSourceMapping", kwargs, "trigger.esm_config(function_name, ...)"
    )


def check_function_config(kwargs: dict[str, Any]) -> dict[str, Any]:
    """Validate ``create_function`` arguments with botocore's own model, offline (the shape
    only, like ``check_esm_config``).

    Introduced in notebooks/11-from-the-lab-to-aws.ipynb.
    """
    return _botocore_check("CreateFunction", kwargs, "lk.function_config(function, ...)")


# -- ARNs: the lab's are never deployed ---------------------------------------------------------
def _is_lab_arn(value: str) -> bool:
    parts = value.split(":")
    return (
        value.startswith("arn:")
        and len(parts) > 4
        and (parts[3] == _LAB_REGION or parts[4] == _LAB_ACCOUNT)
    )


def lab_arns(document: Any) -> list[str]:
    """Every DynamoDB Local ARN (Region ``ddblocal``, account ``000000000000``) in a template,
    policy or argument dict: AWS refuses them all.

    Introduced in notebooks/11-from-the-lab-to-aws.ipynb.
    """

    def walk(node: Any) -> Iterator[str]:
        if isinstance(node, str):
            if node.startswith("arn:") and _is_lab_arn(node):
                yield node
        elif isinstance(node, Mapping):
            for value in node.values():
                yield from walk(value)
        elif isinstance(node, list | tuple):
            for value in node:
                yield from walk(value)

    return list(walk(document))


def _refuse_lab_arn(value: str, what: str, fix: str) -> str:
    if _is_lab_arn(value):
        raise DeployError(
            f"{what} {value!r} is DynamoDB Local's (Region {_LAB_REGION}, account "
            f"{_LAB_ACCOUNT}); AWS refuses it.",
            fix,
        )
    return value


# -- the function: its files, its package, create_function's arguments -------------------------
def _as_function(source: Function | EventSourceMapping) -> Function:
    function = source.function if isinstance(source, EventSourceMapping) else source
    if not isinstance(function, Function):
        raise DeployError(
            f"{str(source)[:60]!r} is neither a function nor a trigger.",
            "pass the function from lab.function(...) or the trigger that runs it.",
        )
    if not isinstance(function.handler, str) or function.code is None:
        raise DeployError(
            f"The function {function.function_name!r} is a Python callable defined in the "
            "notebook; Lambda deploys a file, and a notebook cell is not one.",
            "write the function's module with %%writefile functions/<module>.py and define it "
            "with lab.function(name, '<module>.handler', environment=...).",
        )
    return function


def _imported(tree: ast.Module) -> Iterator[str]:
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                parts = alias.name.split(".")
                yield from (".".join(parts[: i + 1]) for i in range(len(parts)))
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            parts = node.module.split(".")
            yield from (".".join(parts[: i + 1]) for i in range(len(parts)))
            yield from (f"{node.module}.{alias.name}" for alias in node.names)


def function_files(function: Function | EventSourceMapping) -> dict[str, str]:
    """The function's deployment package as ``{path in the .zip: source}``: the module its
    handler names, exactly as the lab ran it, and the modules of the code folder it imports
    (the lab puts the code folder on ``sys.path``, as Lambda does with ``LAMBDA_TASK_ROOT``).

    Introduced in notebooks/11-from-the-lab-to-aws.ipynb.
    """
    fn = _as_function(function)
    assert isinstance(fn.handler, str) and fn.code is not None
    files: dict[str, str] = {}
    todo = [fn.handler.rpartition(".")[0]]
    while todo:
        module = todo.pop()
        path = _module_file(fn.code, module)
        if path is None:
            continue
        name = path.relative_to(fn.code).as_posix()
        if name in files:
            continue
        files[name] = path.read_text(encoding="utf-8")
        parent = path.parent
        while parent != fn.code and (parent / "__init__.py").is_file():
            todo.append(parent.relative_to(fn.code).as_posix().replace("/", "."))
            parent = parent.parent
        todo.extend(_imported(ast.parse(files[name], filename=str(path))))
    return files


def function_zip(function: Function | EventSourceMapping) -> bytes:
    """The .zip deployment package of ``function_files`` (the same bytes for the same code):
    the ``ZipFile`` of ``create_function``, or the object to upload to S3 for a template whose
    code is too large to inline.

    Introduced in notebooks/11-from-the-lab-to-aws.ipynb.
    """
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, source in sorted(function_files(function).items()):
            info = zipfile.ZipInfo(name, date_time=_ZIP_DATE)
            info.external_attr = 0o644 << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(info, source)
    return buffer.getvalue()


def function_config(
    function: Function | EventSourceMapping, *, role_arn: str, runtime: str = RUNTIME
) -> dict[str, Any]:
    """Keyword arguments for boto3's ``lambda.create_function``: the function the lab ran.

    ``function`` is the function from ``lab.function(...)`` (or the trigger running it);
    ``role_arn`` the ARN of its execution role on AWS (with ``iam_policy``'s permissions and a
    trust policy for lambda.amazonaws.com). ``Code.ZipFile`` is ``function_zip(function)``;
    ``Environment`` holds the function's own variables only. Checked by botocore.

    Introduced in notebooks/11-from-the-lab-to-aws.ipynb.
    """
    fn = _as_function(function)
    _refuse_lab_arn(
        role_arn, "role_arn", "pass the ARN of an IAM role of your account (arn:aws:iam::...)."
    )
    kwargs: dict[str, Any] = {
        "FunctionName": fn.function_name,
        "Runtime": runtime,
        "Role": role_arn,
        "Handler": fn.handler_name,
        "Code": {"ZipFile": function_zip(fn)},
        "Timeout": fn.timeout,
        "MemorySize": fn.memory_size,
        "PackageType": "Zip",
    }
    if fn.environment:
        kwargs["Environment"] = {"Variables": dict(fn.environment)}
    return check_function_config(kwargs)


# -- the execution role's policy ----------------------------------------------------------------
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


def _destination_for(trigger: EventSourceMapping, destination_arn: str | None) -> str | None:
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
    _refuse_lab_arn(destination_arn, "destination_arn", "pass your queue's, topic's or bucket's.")
    return destination_arn


def _check_trigger(trigger: object, call: str) -> EventSourceMapping:
    if not isinstance(trigger, EventSourceMapping):
        raise DeployError(
            f"{call}() needs a trigger, not {str(trigger)[:60]!r}.",
            f"pass the trigger you ran in the lab: lk.{call}(trigger, ...).",
        )
    if hasattr(trigger, "create_pipe_args"):  # an EventBridge pipe (lesson 14), not a mapping
        raise DeployError(
            f"{call}() describes a Lambda function's event source mapping and its execution "
            "role; a pipe has no mapping, and its own role is assumed by EventBridge Pipes "
            "(it reads the stream and invokes the enrichment and the target).",
            "deploy a pipe with pipe.create_pipe_args(role_arn=...), whose role allows "
            "dynamodb:DescribeStream/GetRecords/GetShardIterator/ListStreams on the stream and "
            "lambda:InvokeFunction on its functions (sqs:SendMessage on a queue).",
        )
    return trigger


def _table_name(table: Any) -> str:
    name = getattr(table, "table_name", table)  # a boto3 Table, or its name
    if not isinstance(name, str) or not name:
        raise DeployError(
            f"{table!r} is not a table (a boto3 Table or a table name).",
            "pass the tables the function writes, e.g. writes_to=[totals] or ['order_totals'].",
        )
    return name


def _policy(
    stream: Any,
    tables: Sequence[Any],
    destination: Any,
    actions: Sequence[str],
    read_actions: Sequence[str] = STREAM_ACTIONS,
) -> dict[str, Any]:
    statements: list[dict[str, Any]] = [
        {
            "Sid": "ReadTheStream",
            "Effect": "Allow",
            "Action": list(read_actions),
            "Resource": stream,
        }
    ]
    if tables:
        statements.append(
            {
                "Sid": "WriteTheTargetTables",
                "Effect": "Allow",
                "Action": list(WRITE_ACTIONS),
                "Resource": list(tables),
            }
        )
    if destination is not None:
        statements.append(
            {
                "Sid": "SendFailedBatchRecords",
                "Effect": "Allow",
                "Action": list(actions),
                "Resource": destination,
            }
        )
    statements.append(
        {"Sid": "WriteLogs", "Effect": "Allow", "Action": list(LOG_ACTIONS), "Resource": "*"}
    )
    return {"Version": POLICY_VERSION, "Statement": statements}


def iam_policy(
    trigger: EventSourceMapping,
    *,
    region: str | None = None,
    account: str | None = None,
    writes_to: Sequence[Any] = (),
    destination_arn: str | None = None,
    stream_arn: str | None = None,
) -> dict[str, Any]:
    """The IAM policy document of the execution role of the function behind ``trigger``, for
    the AWS account and Region you deploy to.

    ``region`` and ``account`` name where: the stream is then
    ``arn:aws:dynamodb:<region>:<account>:table/<table>/stream/*`` (any stream of the table, as
    AWS's own example policy has it [L2]) and ``writes_to`` (the tables the function writes:
    boto3 Tables, names or table ARNs) are that account's tables. On a lab running on AWS
    (``LABKIT_USE_AWS=1``) the trigger's own, real ARNs are used when they are left out.
    ``destination_arn`` is the on-failure destination (required when the trigger has a
    ``destination_config``); ``stream_arn`` names one stream instead. A DynamoDB Local ARN
    (``ddblocal``) is refused: AWS would refuse it. Each statement grants only what the
    function uses. Inside a CloudFormation template the same statements name the template's
    resources instead (``cloudformation_template``).

    Introduced in notebooks/11-from-the-lab-to-aws.ipynb.
    """
    trigger = _check_trigger(trigger, "iam_policy")
    if isinstance(writes_to, str):
        raise DeployError(
            f"writes_to={writes_to!r} is one string, not a list of tables.",
            f"pass writes_to=[{writes_to!r}].",
        )
    where = _account_region(trigger, region, account)

    def table_arn(table: Any) -> str:
        name = _table_name(table)
        if name.startswith("arn:"):
            return _refuse_lab_arn(name, "The table ARN", "pass the table's name instead.")
        if where is None:
            raise _no_account(trigger)
        return f"arn:aws:dynamodb:{where[0]}:{where[1]}:table/{name}"

    kinesis = _is_kinesis(trigger.stream_arn)
    if stream_arn is not None:
        stream = _refuse_lab_arn(stream_arn, "stream_arn", "pass the real table's stream ARN.")
    elif kinesis and where is not None:  # a trigger on a Kinesis stream (lesson 15) [L5]
        name = trigger.stream_arn.rpartition("/")[2]
        stream = f"arn:aws:kinesis:{where[0]}:{where[1]}:stream/{name}"
    elif where is not None:
        stream = f"arn:aws:dynamodb:{where[0]}:{where[1]}:table/{trigger.table_name}/stream/*"
    elif not _is_lab_arn(trigger.stream_arn):
        stream = trigger.stream_arn  # a lab on AWS: the real stream
    else:
        raise _no_account(trigger)
    tables = [table_arn(t) for t in writes_to]
    destination = _destination_for(trigger, destination_arn)
    return _policy(
        stream,
        tables,
        None if destination is None else _destination_resources(destination),
        () if destination is None else destination_actions(destination),
        KINESIS_STREAM_ACTIONS if kinesis else STREAM_ACTIONS,
    )


def _is_kinesis(stream_arn: str) -> bool:
    return stream_arn.startswith("arn:aws:kinesis:")


def _account_region(
    trigger: EventSourceMapping, region: str | None, account: str | None
) -> tuple[str, str] | None:
    if region is None and account is None:
        if _is_lab_arn(trigger.stream_arn):
            return None
        parts = trigger.stream_arn.split(":")
        return parts[3], parts[4]
    if region is None or not _REGION.fullmatch(str(region)):
        raise DeployError(
            f"region={region!r} is not an AWS Region.",
            "pass region='us-east-1' (or the Region you deploy to) with account=.",
        )
    if account is None or not _ACCOUNT.fullmatch(str(account)) or account == _LAB_ACCOUNT:
        raise DeployError(
            f"account={account!r} is not an AWS account ID (12 digits).",
            "pass account='123456789012', your account's ID (aws sts get-caller-identity).",
        )
    return region, account


def _no_account(trigger: EventSourceMapping) -> DeployError:
    return DeployError(
        f"The stream of {trigger.table_name!r} is the lab's "
        f"({'its local Kinesis' if _is_kinesis(trigger.stream_arn) else 'DynamoDB Local'}: "
        f"{trigger.stream_arn}); "
        "the policy needs the AWS account and Region you deploy to.",
        "pass region='us-east-1', account='123456789012' (yours), or use "
        "lk.cloudformation_template, whose policy names the template's own resources.",
    )


# -- the CloudFormation template ----------------------------------------------------------------
def _logical_id(name: str) -> str:
    parts = re.split(r"[^A-Za-z0-9]+", name)
    stem = "".join(p[:1].upper() + p[1:] for p in parts if p)
    return stem if stem[:1].isalpha() else f"T{stem}"


def _describe(trigger: EventSourceMapping, name: str) -> dict[str, Any]:
    if trigger.describe_table is None:
        raise DeployError(
            f"This trigger cannot describe the table {name!r} (it was not made by a lab).",
            "make the trigger with lab.trigger(...).",
        )
    try:
        return trigger.describe_table(name)
    except ClientError as exc:
        raise DeployError(
            f"The lab has no table {name!r} to put in the template.",
            "name the tables the function writes as the lab created them "
            "(writes_to=[totals] with the Table from lab.create_table).",
            cause=exc,
        ) from exc


def _table_resource(description: dict[str, Any]) -> dict[str, Any]:
    keys = description["KeySchema"]
    key_names = {k["AttributeName"] for k in keys}
    properties: dict[str, Any] = {
        "TableName": description["TableName"],
        "AttributeDefinitions": [
            {"AttributeName": a["AttributeName"], "AttributeType": a["AttributeType"]}
            for a in description["AttributeDefinitions"]
            if a["AttributeName"] in key_names
        ],
        "KeySchema": [{"AttributeName": k["AttributeName"], "KeyType": k["KeyType"]} for k in keys],
        "BillingMode": "PAY_PER_REQUEST",
    }
    spec = description.get("StreamSpecification") or {}
    if spec.get("StreamEnabled"):
        properties["StreamSpecification"] = {"StreamViewType": spec["StreamViewType"]}
    return {"Type": "AWS::DynamoDB::Table", **_DELETE, "Properties": properties}


def _code(fn: Function) -> tuple[dict[str, Any], str, dict[str, Any]]:
    """The function's Code, Handler and the template parameters they need [CF1]."""
    assert isinstance(fn.handler, str)
    files = function_files(fn)
    module, _, name = fn.handler.rpartition(".")
    (_, source), *others = files.items()
    if not others and "." not in module and len(source) <= INLINE_CODE_MAX:
        return {"ZipFile": source}, f"index.{name}", {}
    parameters = {
        "CodeS3Bucket": {
            "Type": "String",
            "Description": f"The S3 bucket holding {fn.function_name}'s .zip "
            "(lk.function_zip(function), uploaded first)",
        },
        "CodeS3Key": {
            "Type": "String",
            "Default": f"{fn.function_name}.zip",
            "Description": "The .zip's key in that bucket",
        },
    }
    code = {"S3Bucket": {"Ref": "CodeS3Bucket"}, "S3Key": {"Ref": "CodeS3Key"}}
    return code, fn.handler, parameters


def _check_alarms(alarms: Any, trigger: EventSourceMapping) -> list[IteratorAgeAlarm]:
    if isinstance(alarms, IteratorAgeAlarm) or not isinstance(alarms, list | tuple):
        raise DeployError(
            f"alarms={alarms!r} is not a list of alarms.",
            "pass alarms=[trigger.iterator_age_alarm(threshold_ms=60_000)].",
        )
    for alarm in alarms:
        if not isinstance(alarm, IteratorAgeAlarm):
            raise DeployError(
                f"alarms holds {alarm!r}, not an alarm made by trigger.iterator_age_alarm().",
                "pass alarms=[trigger.iterator_age_alarm(threshold_ms=60_000)].",
            )
        if alarm.function_name != trigger.function_name:
            raise DeployError(
                f"The alarm watches {alarm.function_name!r}, but this template deploys "
                f"{trigger.function_name!r}.",
                "make the alarm from this trigger: trigger.iterator_age_alarm(...).",
            )
    return list(alarms)


def cloudformation_template(
    trigger: EventSourceMapping,
    function_name: str | None = None,
    *,
    writes_to: Sequence[Any] = (),
    destination_arn: str | None = None,
    role_name: str | None = None,
    alarms: Sequence[IteratorAgeAlarm] = (),
) -> dict[str, Any]:
    """A CloudFormation template (as a dict) that deploys the trigger and its function as they
    ran in the lab, with nothing to fill in:

    * the source table (``AWS::DynamoDB::Table`` with its ``StreamSpecification``) and the
      tables in ``writes_to`` (boto3 Tables or names of lab tables), with the lab's names and
      key schemas;
    * the on-failure destination: ``destination_arn`` if given (an SQS queue, SNS topic or S3
      bucket of yours), else, when the trigger has a ``destination_config``, a new SQS queue;
    * the execution role (``AWS::IAM::Role`` trusting lambda.amazonaws.com [L1]) and its policy
      (``AWS::IAM::RolePolicy``: ``iam_policy``'s statements on the template's resources);
    * the function (``AWS::Lambda::Function``): the module the lab ran, inline when it is one
      small file (``Code.ZipFile``, ``Handler`` ``index.<function>``) [CF1], else from S3
      (parameters ``CodeS3Bucket``, ``CodeS3Key``; upload ``function_zip(...)`` there), runtime
      ``RUNTIME``, the function's own environment (a value naming one of the template's tables
      becomes a ``Ref`` to it), timeout and memory size;
    * the event source mapping: ``trigger.esm_config(...)`` unchanged [CF2], except that the
      stream, function and queue are the template's (``Fn::GetAtt`` / ``Ref``); it
      ``DependsOn`` the policy, since Lambda checks the role's stream and destination
      permissions when the mapping is created [L3]; its ``MetricsConfig`` when the trigger
      has one;
    * each alarm in ``alarms`` (``trigger.iterator_age_alarm(...)``): an
      ``AWS::CloudWatch::Alarm`` on the function's IteratorAge [CW1].

    No DynamoDB Local ARN appears in it (``lab_arns(template) == []``). Deploy with
    ``aws cloudformation deploy --capabilities CAPABILITY_IAM`` (``CAPABILITY_NAMED_IAM`` with
    ``role_name``). ``function_name`` defaults to the function's.

    Introduced in notebooks/11-from-the-lab-to-aws.ipynb.
    """
    trigger = _check_trigger(trigger, "cloudformation_template")
    if _is_kinesis(trigger.stream_arn):
        raise DeployError(
            f"The trigger reads the Kinesis stream {trigger.stream_arn}; the template describes "
            "a table, its DynamoDB stream and a mapping on it (lesson 11), not a Kinesis stream "
            "and the table's Kinesis streaming destination.",
            "for a Kinesis trigger use lk.iam_policy(trigger, region=..., account=...) and "
            "trigger.esm_config() with your own AWS::Kinesis::Stream.",
        )
    fn = _as_function(trigger)
    name = function_name or fn.function_name
    if not isinstance(name, str) or not name:
        raise DeployError(
            f"function_name={function_name!r} is not a function name.",
            "leave it out (the function's own name is used) or pass one like 'order-totals'.",
        )
    if isinstance(writes_to, str):
        raise DeployError(
            f"writes_to={writes_to!r} is one string, not a list of tables.",
            f"pass writes_to=[{writes_to!r}].",
        )
    if destination_arn is not None:
        _destination_for(trigger, destination_arn)
    stem = _logical_id(name)
    ids = {"role": f"{stem}Role", "policy": f"{stem}Policy", "function": f"{stem}Function"}
    resources: dict[str, Any] = {}
    table_ids: dict[str, str] = {}
    for table in [trigger.table_name, *(_table_name(t) for t in writes_to)]:
        if table.startswith("arn:"):
            raise DeployError(
                f"writes_to names {table!r}, an ARN; the template creates the tables it writes.",
                "pass the lab's table (writes_to=[totals]) or its name.",
            )
        if table in table_ids:
            continue
        logical, n = f"{_logical_id(table)}Table", 1
        while logical in table_ids.values():  # 'a-b' and 'a_b' would share one id
            logical, n = f"{_logical_id(table)}{n}Table", n + 1
        table_ids[table] = logical
        resources[table_ids[table]] = _table_resource(_describe(trigger, table))
    source_id = table_ids[trigger.table_name]
    if "StreamSpecification" not in resources[source_id]["Properties"]:
        raise DeployError(
            f"The table {trigger.table_name!r} has no stream in the lab.",
            "create it with lab.create_table(name, stream='NEW_AND_OLD_IMAGES').",
        )

    # the on-failure destination
    destination: Any = None
    actions: tuple[str, ...] = ()
    if trigger.config.destination is not None:
        if destination_arn is None:
            ids["queue"] = f"{stem}FailureQueue"
            resources[ids["queue"]] = {
                "Type": "AWS::SQS::Queue",
                **_DELETE,
                "Properties": {"MessageRetentionPeriod": 1_209_600},  # 14 days, SQS's longest
            }
            destination = {"Fn::GetAtt": [ids["queue"], "Arn"]}
            actions = _DESTINATION_ACTIONS["sqs"]
        else:
            destination, actions = destination_arn, destination_actions(destination_arn)

    # the role and its policy
    role: dict[str, Any] = {"AssumeRolePolicyDocument": copy.deepcopy(_TRUST_POLICY)}
    if role_name is not None:
        role["RoleName"] = role_name
    resources[ids["role"]] = {"Type": "AWS::IAM::Role", "Properties": role}
    policy = _policy(
        {"Fn::GetAtt": [source_id, "StreamArn"]},
        [{"Fn::GetAtt": [table_ids[_table_name(t)], "Arn"]} for t in writes_to],
        None
        if destination is None
        else destination
        if isinstance(destination, dict)
        else _destination_resources(destination),
        actions,
    )
    resources[ids["policy"]] = {
        "Type": "AWS::IAM::RolePolicy",
        "Properties": {
            "RoleName": {"Ref": ids["role"]},
            "PolicyName": f"{name}-stream-processing",
            "PolicyDocument": policy,
        },
    }

    # the function
    code, handler, parameters = _code(fn)
    properties: dict[str, Any] = {
        "FunctionName": name,
        "Runtime": RUNTIME,
        "Handler": handler,
        "Code": code,
        "Role": {"Fn::GetAtt": [ids["role"], "Arn"]},
        "Timeout": fn.timeout,
        "MemorySize": fn.memory_size,
    }
    if fn.environment:
        properties["Environment"] = {
            "Variables": {
                key: {"Ref": table_ids[value]} if value in table_ids else value
                for key, value in fn.environment.items()
            }
        }
    resources[ids["function"]] = {"Type": "AWS::Lambda::Function", "Properties": properties}

    # the event source mapping, once the policy exists
    example = "arn:aws:sqs:us-east-1:123456789012:example" if destination is not None else None
    mapping = copy.deepcopy(trigger.esm_config(name, destination_arn=destination_arn or example))
    mapping["EventSourceArn"] = "arn:aws:dynamodb:us-east-1:123456789012:table/t/stream/x"
    check_esm_config(mapping)  # botocore's check, on the same values with concrete ARNs
    mapping["EventSourceArn"] = {"Fn::GetAtt": [source_id, "StreamArn"]}
    mapping["FunctionName"] = {"Ref": ids["function"]}
    if destination is not None:
        mapping["DestinationConfig"] = {"OnFailure": {"Destination": destination}}
    resources[f"{stem}StreamMapping"] = {
        "Type": "AWS::Lambda::EventSourceMapping",
        "DependsOn": [ids["policy"]],
        "Properties": mapping,
    }
    for n, alarm in enumerate(_check_alarms(alarms, trigger), start=1):
        alarm_id = f"{stem}IteratorAgeAlarm" + (str(n) if len(alarms) > 1 else "")
        resources[alarm_id] = {
            "Type": "AWS::CloudWatch::Alarm",
            "Properties": alarm.properties({"Ref": ids["function"]}),
        }

    template: dict[str, Any] = {
        "AWSTemplateFormatVersion": "2010-09-09",
        "Description": f"{name} ({fn.handler_name}) on the stream of {trigger.table_name}, "
        "made by labkit from the function and trigger the lab ran",
    }
    if parameters:
        template["Parameters"] = parameters
    template["Resources"] = resources
    if found := lab_arns(template):
        raise DeployError(  # a guard: every ARN above is the template's own
            f"The template would name DynamoDB Local ARNs: {found}.",
            "report this as a labkit bug.",
        )
    return template

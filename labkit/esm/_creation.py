"""What Lambda itself checks when a function or an event source mapping is created, set against
what botocore checks offline and what labkit checks in the lab: "botocore accepts it" is not
"deploy-ready".

botocore validates a call against the API model before sending it: member names, types,
required members and *minimums* (``botocore.validate.range_check`` has no maximum), never a
pattern or an enum, and a filter ``Pattern`` is a string to it like any other. Lambda checks far
more when the call arrives, and answers ``InvalidParameterValueException``. Each rule below is
tried on both with a value Lambda refuses; the verdicts are computed, not typed.

Sources (AWS documentation):

[F1] Lambda API Reference, CreateFunction: ``Timeout``, ``MemorySize``, ``Role``
     (``arn:(aws[a-zA-Z-]*)?:iam::\\d{12}:role/...``), ``Handler`` (``[^\\s]+``, at most 128).
[F2] Lambda DG, "Lambda runtimes": Lambda blocks creating functions on a runtime shortly after
     it is deprecated.
[F3] Lambda DG, "Defining Lambda function permissions with an execution role": the role's trust
     policy must name the Lambda service principal (lambda.amazonaws.com); CreateFunction
     refuses otherwise: "The role defined for the function cannot be assumed by Lambda."
[F4] Lambda DG, "Configure Lambda function timeout" (1 to 900 s), "Configure Lambda function
     memory" (128 to 10,240 MB), "Working with Lambda environment variables" (reserved keys,
     4 KB in all).
[F5] Lambda DG, "Define Lambda function handler in Python": the handler names
     ``file.function``; the file is imported at the first invocation (init), where a missing
     module or function fails as ``Runtime.ImportModuleError`` / ``Runtime.HandlerNotFound``:
     CreateFunction does not look inside the package.
[E1] Lambda API Reference, CreateEventSourceMapping, and Lambda DG, "Lambda parameters for
     Amazon DynamoDB event source mappings": the ranges of BatchSize (1 to 10,000),
     MaximumBatchingWindowInSeconds (0 to 300), MaximumRetryAttempts (-1 to 10,000),
     MaximumRecordAgeInSeconds (-1, 60 to 604,800), ParallelizationFactor (1 to 10),
     TumblingWindowInSeconds (0 to 900), StartingPosition (TRIM_HORIZON, LATEST; AT_TIMESTAMP
     is Kinesis's), FunctionResponseTypes (ReportBatchItemFailures); the function must exist.
[E2] Lambda DG, "Control which events Lambda sends to your function": up to 5 filters (10 with a
     quota increase); a pattern Lambda cannot read is refused, "Invalid filter pattern
     definition."; API Reference, ``Filter``: ``Pattern`` is at most 4,096 characters.
[E3] CreateEventSourceMapping checks that the function's role can read the stream: "Cannot
     access stream <arn>. Please ensure the role can perform the GetRecords, GetShardIterator,
     DescribeStream, and ListStreams Actions on your stream in IAM."; and that it can send to
     the on-failure destination: "The provided execution role does not have permissions to
     call SendMessage on SQS".
[E4] ``EventSourceArn``'s pattern needs a real Region and a 12-digit account; DynamoDB Local's
     ``arn:aws:dynamodb:ddblocal:000000000000:...`` matches neither.

Engine module: no Jupyter imports.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from botocore.exceptions import ParamValidationError
from botocore.validate import validate_parameters

from .. import _seams
from .._errors import LabError
from ._deploy import (
    STREAM_ACTIONS,
    _input_shape,
    _refuse_lab_arn,
    destination_actions,
)
from ._function import Function
from ._options import TriggerConfig

__all__ = ["CREATION_COLUMNS", "creation_checks"]

CREATION_COLUMNS = ["Call", "Lambda checks", "Tried with", "botocore", "labkit"]
_FUNCTION = "CreateFunction"
_MAPPING = "CreateEventSourceMapping"
_BASE: dict[str, dict[str, Any]] = {
    _FUNCTION: {
        "FunctionName": "order-totals",
        "Runtime": "python3.13",
        "Role": "arn:aws:iam::123456789012:role/order-totals",
        "Handler": "index.handler",
        "Code": {"ZipFile": b"PK"},
    },
    _MAPPING: {
        "EventSourceArn": "arn:aws:dynamodb:us-east-1:123456789012:table/orders/stream/"
        "2026-01-01T00:00:00.000",
        "FunctionName": "order-totals",
        "StartingPosition": "TRIM_HORIZON",
    },
}
_LAB_STREAM = "arn:aws:dynamodb:ddblocal:000000000000:table/orders/stream/2026-01-01T00:00:00.000"


def _noop(event: Any, context: Any) -> None:
    return None


def _snake(name: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower()


def _function_probe(arguments: dict[str, Any]) -> None:
    """labkit's check of a function's settings: ``lab.function`` (``Function``)."""
    settings: dict[str, Any] = {}
    for key, value in arguments.items():
        if key == "Environment":
            settings["environment"] = value["Variables"]
        elif key == "Handler":
            settings["handler"] = value
        else:
            settings[_snake(key)] = value
    handler = settings.pop("handler", _noop)
    Function("probe", handler, code=Path(__file__).parent, **settings)


def _trigger_probe(arguments: dict[str, Any]) -> None:
    """labkit's check of a mapping's options: ``lab.trigger`` (``TriggerConfig``)."""
    TriggerConfig(**{_snake(key): value for key, value in arguments.items()})


def _destination_probe(arguments: dict[str, Any]) -> None:
    destination_actions(arguments["DestinationConfig"]["OnFailure"]["Destination"])


def _arn_probe(arguments: dict[str, Any]) -> None:
    _refuse_lab_arn(arguments["EventSourceArn"], "EventSourceArn", "")


def _resources(template: dict[str, Any], kind: str) -> list[tuple[str, dict[str, Any]]]:
    return [
        (key, resource)
        for key, resource in template.get("Resources", {}).items()
        if resource.get("Type") == kind
    ]


def _first(template: dict[str, Any], kind: str) -> tuple[str, dict[str, Any]]:
    found = _resources(template, kind)
    return found[0] if found else ("", {})


def _runtime(template: dict[str, Any]) -> str:
    _, function = _first(template, "AWS::Lambda::Function")
    runtime = function.get("Properties", {}).get("Runtime")
    return f"{runtime} (template)" if runtime else "not in the template"


def _trust(template: dict[str, Any]) -> str:
    key, role = _first(template, "AWS::IAM::Role")
    document = role.get("Properties", {}).get("AssumeRolePolicyDocument", {})
    trusted = [
        s["Principal"].get("Service")
        for s in document.get("Statement", [])
        if s.get("Action") == "sts:AssumeRole" and isinstance(s.get("Principal"), dict)
    ]
    if "lambda.amazonaws.com" in trusted:
        return f"{key} trusts it (template)"
    return "not in the template"


def _policy_of(template: dict[str, Any]) -> tuple[str, list[dict[str, Any]]]:
    key, policy = _first(template, "AWS::IAM::RolePolicy")
    statements = policy.get("Properties", {}).get("PolicyDocument", {}).get("Statement", [])
    return key, statements


def _mapping_waits(template: dict[str, Any], policy: str) -> bool:
    _, mapping = _first(template, "AWS::Lambda::EventSourceMapping")
    depends = mapping.get("DependsOn", [])
    return policy in ([depends] if isinstance(depends, str) else depends)


def _stream_access(template: dict[str, Any]) -> str:
    table, _ = _first(template, "AWS::DynamoDB::Table")
    policy, statements = _policy_of(template)
    reads = any(set(STREAM_ACTIONS) <= set(s.get("Action", [])) for s in statements)
    _, mapping = _first(template, "AWS::Lambda::EventSourceMapping")
    source = mapping.get("Properties", {}).get("EventSourceArn")
    if reads and isinstance(source, dict) and _mapping_waits(template, policy):
        return f"{table}'s stream; the mapping DependsOn {policy} (template)"
    return "not in the template"


def _function_exists(template: dict[str, Any]) -> str:
    _, mapping = _first(template, "AWS::Lambda::EventSourceMapping")
    name = mapping.get("Properties", {}).get("FunctionName")
    if isinstance(name, dict) and "Ref" in name:
        return f"Ref {name['Ref']} (template)"
    return "not in the template"


def _destination_access(template: dict[str, Any]) -> str:
    _, mapping = _first(template, "AWS::Lambda::EventSourceMapping")
    config = mapping.get("Properties", {}).get("DestinationConfig")
    if config is None:
        return "no destination in the template"
    policy, statements = _policy_of(template)
    sends = [a for s in statements if s.get("Sid") == "SendFailedBatchRecords" for a in s["Action"]]
    target = config["OnFailure"]["Destination"]
    made = isinstance(target, dict)
    if sends and _mapping_waits(template, policy):
        where = target["Fn::GetAtt"][0] if made else "your destination"
        return f"{where}, {', '.join(sends)}; the mapping DependsOn {policy} (template)"
    return "not in the template"


@dataclass(frozen=True)
class _Rule:
    """One thing Lambda checks at ``call``, tried with ``probes`` (shown value, arguments)."""

    call: str
    checks: str
    probes: tuple[tuple[str, dict[str, Any]], ...] = ()
    labkit: Callable[[dict[str, Any]], None] | None = None  # raises LabError to refuse
    where: str = ""  # where labkit refuses it
    template: Callable[[dict[str, Any]], str] | None = None  # what the template does
    botocore_note: str = field(default="cannot know: not in the call")


def _range(call: str, name: str, low: int, high: int, check: Any, where: str, text: str) -> _Rule:
    return _Rule(
        call,
        text,
        ((f"{low - 1}", {name: low - 1}), (f"{high + 1:,}", {name: high + 1})),
        check,
        where,
    )


_PATTERN = json.dumps({"eventName": "INSERT"})
_RULES = (
    _Rule(
        _FUNCTION,
        "Runtime: still open to new functions [F2]",
        (("'python3.8'", {"Runtime": "python3.8"}),),
        template=_runtime,
    ),
    _Rule(
        _FUNCTION,
        "Role: trusts lambda.amazonaws.com [F3]",
        (("a role without that trust", {}),),
        template=_trust,
    ),
    _range(
        _FUNCTION, "Timeout", 1, 900, _function_probe, "lab.function", "Timeout: 1 to 900 s [F4]"
    ),
    _range(
        _FUNCTION,
        "MemorySize",
        128,
        10_240,
        _function_probe,
        "lab.function",
        "MemorySize: 128 to 10,240 MB [F4]",
    ),
    _Rule(
        _FUNCTION,
        "Environment: no reserved key, 4 KB [F4]",
        (
            (
                "{'AWS_REGION': 'eu-west-1'}",
                {"Environment": {"Variables": {"AWS_REGION": "eu-west-1"}}},
            ),
        ),
        _function_probe,
        "lab.function",
    ),
    _Rule(
        _FUNCTION,
        "Handler: not at creation; the first call fails (Runtime.ImportModuleError) [F5]",
        (("'no_such_module.handler'", {"Handler": "no_such_module.handler"}),),
        _function_probe,
        "lab.function",
    ),
    _Rule(
        _MAPPING,
        "EventSourceArn: a real Region and account [E4]",
        (("DynamoDB Local's stream ARN", {"EventSourceArn": _LAB_STREAM}),),
        _arn_probe,
        "iam_policy, cloudformation_template",
    ),
    _Rule(
        _MAPPING,
        "The stream exists, the role can read it ('Cannot access stream') [E3]",
        (("a role without the stream actions", {}),),
        template=_stream_access,
    ),
    _Rule(
        _MAPPING,
        "FunctionName: the function exists [E1]",
        (("'no-such-function'", {"FunctionName": "no-such-function"}),),
        template=_function_exists,
    ),
    _range(
        _MAPPING,
        "BatchSize",
        1,
        10_000,
        _trigger_probe,
        "lab.trigger",
        "BatchSize: 1 to 10,000 [E1]",
    ),
    _range(
        _MAPPING,
        "MaximumBatchingWindowInSeconds",
        0,
        300,
        _trigger_probe,
        "lab.trigger",
        "MaximumBatchingWindowInSeconds: 0 to 300 [E1]",
    ),
    _range(
        _MAPPING,
        "MaximumRetryAttempts",
        -1,
        10_000,
        _trigger_probe,
        "lab.trigger",
        "MaximumRetryAttempts: -1 to 10,000 [E1]",
    ),
    _Rule(
        _MAPPING,
        "MaximumRecordAgeInSeconds: -1, or 60 to 604,800 [E1]",
        (
            ("30", {"MaximumRecordAgeInSeconds": 30}),
            ("604,801", {"MaximumRecordAgeInSeconds": 604_801}),
        ),
        _trigger_probe,
        "lab.trigger",
    ),
    _range(
        _MAPPING,
        "ParallelizationFactor",
        1,
        10,
        _trigger_probe,
        "lab.trigger",
        "ParallelizationFactor: 1 to 10 [E1]",
    ),
    _range(
        _MAPPING,
        "TumblingWindowInSeconds",
        0,
        900,
        _trigger_probe,
        "lab.trigger",
        "TumblingWindowInSeconds: 0 to 900 [E1]",
    ),
    _Rule(
        _MAPPING,
        "StartingPosition: TRIM_HORIZON or LATEST [E1]",
        (("'AT_TIMESTAMP'", {"StartingPosition": "AT_TIMESTAMP"}),),
        _trigger_probe,
        "lab.trigger",
    ),
    _Rule(
        _MAPPING,
        "FunctionResponseTypes: ReportBatchItemFailures [E1]",
        (("['ReportItemFailures']", {"FunctionResponseTypes": ["ReportItemFailures"]}),),
        _trigger_probe,
        "lab.trigger",
    ),
    _Rule(
        _MAPPING,
        "Filter Pattern: filter rule syntax [E2]",
        (
            (repr(_PATTERN), {"FilterCriteria": {"Filters": [{"Pattern": _PATTERN}]}}),
            ("'not json'", {"FilterCriteria": {"Filters": [{"Pattern": "not json"}]}}),
        ),
        _trigger_probe,
        "lab.trigger",
    ),
    _Rule(
        _MAPPING,
        "Filter Pattern: 4,096 characters at most [E2]",
        (
            (
                "4,097 characters",
                {"FilterCriteria": {"Filters": [{"Pattern": " " * 4080 + _PATTERN}]}},
            ),
        ),
        _trigger_probe,
        "lab.trigger",
    ),
    _Rule(
        _MAPPING,
        "Filters: 5 at most (10 with a quota increase) [E2]",
        (
            (
                "6 filters",
                {
                    "FilterCriteria": {
                        "Filters": [
                            {"Pattern": json.dumps({"eventName": [str(i)]})} for i in range(6)
                        ]
                    }
                },
            ),
        ),
        _trigger_probe,
        "lab.trigger",
    ),
    _Rule(
        _MAPPING,
        "Destination: an SQS, SNS or S3 ARN [E1]",
        (
            (
                "'order_failures'",
                {"DestinationConfig": {"OnFailure": {"Destination": "order_failures"}}},
            ),
        ),
        _destination_probe,
        "esm_config, iam_policy",
    ),
    _Rule(
        _MAPPING,
        "The destination exists, the role can send to it [E3]",
        (("a role without sqs:SendMessage", {}),),
        template=_destination_access,
    ),
)


def _botocore(call: str, arguments: dict[str, Any]) -> str:
    try:
        validate_parameters({**_BASE[call], **arguments}, _input_shape(call))
    except ParamValidationError:
        return "refuses"
    return "accepts"


def _labkit(rule: _Rule, arguments: dict[str, Any]) -> str:
    assert rule.labkit is not None
    try:
        rule.labkit(arguments)
    except LabError:
        return "refuses"
    return "accepts"


def _verdicts(values: list[str], shown: list[str]) -> str:
    if len(set(values)) == 1:
        return values[0] + (" both" if len(values) == 2 else "")
    return "; ".join(f"{v} {s}" for v, s in zip(values, shown, strict=True))


def _row(rule: _Rule, template: dict[str, Any]) -> dict[str, str]:
    shown = [text for text, _ in rule.probes]
    calls = [arguments for _, arguments in rule.probes]
    if all(calls):
        botocore = _verdicts([_botocore(rule.call, a) for a in calls], shown)
    else:
        botocore = rule.botocore_note
    if rule.labkit is not None:
        labkit = _verdicts([_labkit(rule, a) for a in calls], shown)
        labkit = f"{labkit} at {rule.where}" if labkit.startswith("refuses") else labkit
    else:
        assert rule.template is not None
        labkit = rule.template(template)
    return {
        "Call": rule.call,
        "Lambda checks": rule.checks,
        "Tried with": " / ".join(shown),
        "botocore": botocore,
        "labkit": labkit,
    }


def creation_checks(template: dict[str, Any]) -> Any:
    """What Lambda checks when ``create_function`` and ``create_event_source_mapping`` arrive,
    each tried with a value Lambda refuses: does botocore's offline check refuse it too, and
    does labkit (at ``lab.function``, ``lab.trigger``, ``esm_config``, ``iam_policy``), or
    does the CloudFormation ``template`` (from ``cloudformation_template``) make it true?

    The verdicts are computed each time: botocore on the API model installed, labkit on its own
    checks, the template by reading it. A table in a notebook, a list of row dicts elsewhere.

    Introduced in notebooks/11-from-the-lab-to-aws.ipynb.
    """
    rows = [_row(rule, template) for rule in _RULES]
    return _seams.table(rows, CREATION_COLUMNS)

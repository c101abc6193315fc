"""A pipe's source parameters for a DynamoDB stream, checked as EventBridge Pipes checks them, and
turned into the settings of the lab's stream engine.

The shape is boto3's ``pipes.create_pipe(SourceParameters=...)``: ``{"DynamoDBStreamParameters":
{...}, "FilterCriteria": {...}}``. Each range is read from botocore's own ``pipes`` service
model (``PipeSourceDynamoDBStreamParameters``: ``BatchSize`` ``LimitMax10000`` 1..10,000,
``MaximumBatchingWindowInSeconds`` 0..300, ``MaximumRetryAttemptsESM`` -1..10,000,
``MaximumRecordAgeInSeconds`` -1..604,800, ``ParallelizationFactor`` ``LimitMax10`` 1..10,
``StartingPosition`` TRIM_HORIZON | LATEST and *required*, ``OnPartialBatchItemFailure``
AUTOMATIC_BISECT; ``FilterList`` at most 5 filters; ``PipeName`` 1..64 of ``[.\\-_A-Za-z0-9]``),
so the lab and the SDK never disagree. Defaults, from AWS's documentation:

[P1] "Amazon DynamoDB stream as a source" (EventBridge user guide): batch size "The default
     value is 100. If, for example, the target is Amazon SQS, then the maximum value is 10";
     AUTOMATIC_BISECT "Halve each batch and retry each half until all the records are processed
     or there is one failed message remaining"; without it, "you can return specific failed
     records and only those get retried".
[P2] botocore's model documentation: ``MaximumRecordAgeInSeconds`` and ``MaximumRetryAttempts``
     default to -1 (infinite); ``ParallelizationFactor`` "The default value is 1".
[P3] "Amazon EventBridge Pipes filtering": "you can filter based on the fields sent by the source
     API, and not on fields added by the polling operation. The following fields can't be used in
     event patterns: awsRegion, eventSource, eventSourceARN, eventVersion, eventID, eventName,
     invokeIdentityArn, eventSourceKey"; the data field of a DynamoDB record is ``dynamodb``.
[P4] "Batching and concurrency": "you can't configure a pipe with a larger batch size than the
     target supports" (an SQS queue: 10).

labkit's reading: Lambda's mappings refuse ``MaximumRecordAgeInSeconds`` from 0 to 59, and the
Pipes model's minimum is -1 with nothing documented in between; the lab refuses 0 to 59 too. A
pattern on a field [P3] lists is refused when the pipe is made (AWS documents that it "can't be
used", not what happens).
"""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Mapping
from typing import Any

import botocore.session

from .._errors import InvalidTriggerOptionError
from ._options import TriggerConfig

__all__ = [
    "DEFAULTS",
    "METADATA_FIELDS",
    "SQS_MAX_BATCH",
    "check_pipe_name",
    "pipe_config",
    "pipes_shape",
]

DEFAULTS = {  # [P1][P2]; StartingPosition has none: it is required
    "BatchSize": 100,
    "MaximumBatchingWindowInSeconds": 0,
    "MaximumRetryAttempts": -1,
    "MaximumRecordAgeInSeconds": -1,
    "ParallelizationFactor": 1,
}
METADATA_FIELDS = (  # [P3]
    "awsRegion",
    "eventSource",
    "eventSourceARN",
    "eventVersion",
    "eventID",
    "eventName",
    "invokeIdentityArn",
    "eventSourceKey",
)
SQS_MAX_BATCH = 10  # [P4]
_PARAMS = "PipeSourceDynamoDBStreamParameters"


@functools.cache
def _model() -> Any:
    return botocore.session.get_session().get_service_model("pipes")


def pipes_shape(name: str) -> Any:
    """A shape of botocore's ``pipes`` model (its ranges are the API's)."""
    return _model().shape_for(name)


def check_pipe_name(name: object) -> str:
    """A pipe's name as CreatePipe accepts it (``PipeName`` in botocore's model)."""
    shape = pipes_shape("PipeName")
    low, high = shape.metadata.get("min", 1), shape.metadata.get("max", 64)
    if not isinstance(name, str) or not (
        low <= len(name) <= high and re.fullmatch(shape.metadata["pattern"], name)
    ):
        raise InvalidTriggerOptionError(
            f"The pipe name {name!r} is not one CreatePipe accepts: {low} to {high} letters, "
            "digits, '.', '-' or '_'.",
            "name the pipe like 'orders-to-shipping'.",
        )
    return name


def _range(member: str) -> tuple[int, int]:
    shape = pipes_shape(_PARAMS).members[member]
    return int(shape.metadata["min"]), int(shape.metadata["max"])


def _whole(params: Mapping[str, Any], member: str) -> int:
    value = params.get(member, DEFAULTS[member])
    low, high = _range(member)
    if member == "MaximumRecordAgeInSeconds" and isinstance(value, int) and 0 <= value < 60:
        raise InvalidTriggerOptionError(
            f"DynamoDBStreamParameters {member}={value} is under a minute: the Pipes model's "
            "minimum is -1 and AWS documents nothing between 0 and 59, while Lambda's mappings "
            "refuse those values; the lab refuses them too.",
            f"pass -1 (never discard, the default) or 60 to {high:,} seconds.",
        )
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        extra = " (-1: no limit)" if low == -1 else ""
        raise InvalidTriggerOptionError(
            f"DynamoDBStreamParameters {member}={value!r} is out of range: the Pipes API accepts "
            f"a whole number from {low} to {high:,}{extra}.",
            f"pass {member} within that range, or leave it out (default {DEFAULTS[member]}).",
        )
    return value


def _check_filter_fields(patterns: list[str]) -> None:
    """[P3]: metadata fields added by the poller cannot be filtered on in a pipe."""
    for index, text in enumerate(patterns):
        try:
            raw = json.loads(text) if isinstance(text, str) else None
        except json.JSONDecodeError:
            continue  # the filter engine says what is wrong with it
        if not isinstance(raw, dict):
            continue
        tops = [raw, *[p for p in raw.get("$or", []) if isinstance(p, dict)]]
        named = sorted({key for top in tops for key in top if key in METADATA_FIELDS})
        if named:
            raise InvalidTriggerOptionError(
                f"FilterCriteria Filters[{index}] filters on {', '.join(named)}, a field the "
                "Pipes poller adds: AWS lists awsRegion, eventSource, eventSourceARN, "
                "eventVersion, eventID, eventName, invokeIdentityArn and eventSourceKey as "
                "fields that 'can't be used in event patterns' (a Lambda mapping accepts "
                "eventName).",
                "filter inside the dynamodb data field instead: an INSERT is "
                '{"dynamodb": {"OldImage": {"pk": {"S": [{"exists": false}]}}}} (no old image), '
                "a REMOVE the same on NewImage.",
            )


def pipe_config(source_parameters: Any) -> tuple[TriggerConfig, dict[str, Any]]:
    """The stream engine's settings for a pipe, and the DynamoDBStreamParameters with every
    default filled in (what the pipe shows and what ``create_pipe`` is given)."""
    fix = (
        'pass source_parameters={"DynamoDBStreamParameters": {"StartingPosition": '
        '"TRIM_HORIZON"}} (optionally with "FilterCriteria": {"Filters": [...]}).'
    )
    if not isinstance(source_parameters, Mapping) or "DynamoDBStreamParameters" not in (
        source_parameters
    ):
        raise InvalidTriggerOptionError(
            f"source_parameters={source_parameters!r} has no DynamoDBStreamParameters, and a "
            "pipe from a DynamoDB stream needs them (StartingPosition is required).",
            fix,
        )
    unknown = set(source_parameters) - {"DynamoDBStreamParameters", "FilterCriteria"}
    if unknown:
        raise InvalidTriggerOptionError(
            f"source_parameters has {', '.join(sorted(unknown))}, which a DynamoDB stream "
            "source does not take (those are other sources' parameters).",
            "keep DynamoDBStreamParameters and FilterCriteria only.",
        )
    params = source_parameters["DynamoDBStreamParameters"]
    members = set(pipes_shape(_PARAMS).members)
    if not isinstance(params, Mapping) or set(params) - members:
        wrong = sorted(set(params) - members) if isinstance(params, Mapping) else params
        raise InvalidTriggerOptionError(
            f"DynamoDBStreamParameters has {wrong!r}, which is not one of its members "
            f"({', '.join(sorted(members))}).",
            "spell the members as the Pipes API does (BatchSize, not batch_size; no "
            "BisectBatchOnFunctionError: OnPartialBatchItemFailure='AUTOMATIC_BISECT').",
        )
    positions = pipes_shape("DynamoDBStreamStartPosition").enum
    if params.get("StartingPosition") not in positions:
        given = params.get("StartingPosition", "nothing")
        raise InvalidTriggerOptionError(
            f"DynamoDBStreamParameters StartingPosition is {given!r}: a pipe's starting "
            f"position is required (no default, unlike the lab's triggers) and is one of "
            f"{', '.join(positions)}.",
            'add "StartingPosition": "TRIM_HORIZON" (from the oldest record) or "LATEST".',
        )
    bisect = params.get("OnPartialBatchItemFailure")
    if bisect is not None and bisect not in pipes_shape("OnPartialBatchItemFailureStreams").enum:
        raise InvalidTriggerOptionError(
            f"OnPartialBatchItemFailure={bisect!r}: its one value is 'AUTOMATIC_BISECT'.",
            "pass OnPartialBatchItemFailure='AUTOMATIC_BISECT', or leave it out.",
        )
    dead = params.get("DeadLetterConfig")
    if dead is not None and not (
        isinstance(dead, Mapping) and set(dead) == {"Arn"} and isinstance(dead["Arn"], str)
    ):
        raise InvalidTriggerOptionError(
            f"DeadLetterConfig={dead!r} is not {{'Arn': '<queue ARN>'}}.",
            "pass DeadLetterConfig={'Arn': dlq.arn} with dlq = lab.queue('orders-dlq').",
        )
    filters = source_parameters.get("FilterCriteria")
    if filters is not None and isinstance(filters, Mapping):
        patterns = [f.get("Pattern") for f in filters.get("Filters", []) if isinstance(f, Mapping)]
        _check_filter_fields(patterns)
    full = {m: _whole(params, m) for m in DEFAULTS}
    full["StartingPosition"] = params["StartingPosition"]
    if bisect is not None:
        full["OnPartialBatchItemFailure"] = bisect
    if dead is not None:
        full["DeadLetterConfig"] = dict(dead)
    config = TriggerConfig(
        batch_size=full["BatchSize"],
        maximum_batching_window_in_seconds=full["MaximumBatchingWindowInSeconds"],
        starting_position=full["StartingPosition"],
        filter_criteria=dict(filters) if filters else None,
        maximum_retry_attempts=full["MaximumRetryAttempts"],
        maximum_record_age_in_seconds=full["MaximumRecordAgeInSeconds"],
        bisect_batch_on_function_error=bisect is not None,
        parallelization_factor=full["ParallelizationFactor"],
    )
    return config, full

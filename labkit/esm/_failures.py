"""The failure document: what Lambda sends to an on-failure destination for a DynamoDB stream.

Its shape is the one the AWS Lambda guide shows in "Retaining discarded records for a DynamoDB
event source in Lambda": ``requestContext``, ``responseContext``, ``version``, ``timestamp`` and
``DDBStreamBatchInfo``, in that order. What AWS recorded beyond the guide's one example
(LocalStack's AWS-validated snapshots of ``test_lambda_integration_dynamodbstreams`` and
``test_lambda_integration_kinesis``, 2025-11-25; the guide's DynamoDB and Kinesis pages describe
the same error handling and the same document, ``KinesisBatchInfo`` for ``DDBStreamBatchInfo``):

* ``responseContext.functionError`` is always there: ``"Unhandled"`` when the last invocation
  raised (or timed out), ``null`` when the function returned normally and the mapping judged the
  batch failed (an invalid ``itemIdentifier``, a real partial failure).
* Records discarded for age (``RecordAgeExceeded``) get no ``responseContext``, even when they
  were invoked before, and their ``approximateInvokeCount`` counts the attempt not made: 1 for
  records never sent to the function.
"""

from __future__ import annotations

import datetime as dt
import json
import uuid
from typing import Any

from ._invocations import Discard, Invocation

__all__ = [
    "approximate_invoke_count",
    "discard",
    "failure_document",
    "iso_utc",
    "store_failure_document",
]


def iso_utc(epoch: float) -> str:
    """Epoch seconds as ISO 8601 UTC to the second, as in AWS's documents."""
    return dt.datetime.fromtimestamp(epoch, dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def approximate_invoke_count(condition: str, failed_invocations: int) -> int:
    """``requestContext.approximateInvokeCount``: the number of the attempt at which Lambda gave
    up on the records.

    After the last retry (``RetryAttemptsExhausted``) that is the invocations made (the guide's
    example: 1 with no retry; recorded: 4 with ``MaximumRetryAttempts`` 3). For records too old to
    send (``RecordAgeExceeded``) it counts the attempt that was not made: 1 when the records were
    never sent (recorded, ``test_kinesis_maximum_record_age_exceeded[expire-before-ingestion]``),
    so one more than the failed invocations when they were (labkit's reading of the same counter;
    AWS's ``expire-while-retrying`` recording says 8 without recording how many calls ran).
    """
    if condition == "RecordAgeExceeded":
        return failed_invocations + 1
    return failed_invocations


def failure_document(
    *,
    condition: str,
    function_arn: str,
    invocation: Invocation | None,
    failed_invocations: int,
    shard_id: str,
    sequence_numbers: list[str],
    created: list[float],
    stream_arn: str,
) -> dict[str, Any]:
    """The document for records given up on (``RetryAttemptsExhausted`` or
    ``RecordAgeExceeded``); ``invocation`` is the last one that failed (None for an age
    discard, whose document has no ``responseContext``)."""
    document: dict[str, Any] = {
        "requestContext": {
            "requestId": invocation.request_id if invocation else str(uuid.uuid4()),
            "functionArn": function_arn,
            "condition": condition,
            "approximateInvokeCount": approximate_invoke_count(condition, failed_invocations),
        }
    }
    if invocation is not None:
        document["responseContext"] = {
            "statusCode": 200,
            "executedVersion": "$LATEST",
            "functionError": invocation.function_error,  # None when the function returned
        }
    document["version"] = "1.0"
    document["timestamp"] = dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"
    document["DDBStreamBatchInfo"] = {
        "shardId": shard_id,
        "startSequenceNumber": sequence_numbers[0],
        "endSequenceNumber": sequence_numbers[-1],
        "approximateArrivalOfFirstRecord": iso_utc(created[0]),
        "approximateArrivalOfLastRecord": iso_utc(created[-1]),
        "batchSize": len(sequence_numbers),
        "streamArn": stream_arn,
    }
    return document


def store_failure_document(table: Any, document: dict[str, Any]) -> None:
    """Write the document to a lab table (a boto3 Table), keyed by shard, sequence and request."""
    keys = [k["AttributeName"] for k in table.key_schema]
    info = document["DDBStreamBatchInfo"]
    item: dict[str, Any] = json.loads(json.dumps(document))
    item[keys[0]] = (
        f"{info['shardId']}:{info['startSequenceNumber']}:{document['requestContext']['requestId']}"
    )
    if len(keys) > 1:
        item[keys[1]] = document["timestamp"]
    table.put_item(Item=item)


def discard(
    *,
    condition: str,
    function_arn: str,
    invocation: Invocation | None,
    failed_invocations: int,
    shard_id: str,
    sequence_numbers: list[str],
    created: list[float],
    stream_arn: str,
    destination: Any = None,
    **where: Any,
) -> Discard:
    """Give up on records: their failure document, stored in ``destination`` (a boto3 Table of
    the on-failure destination) when there is one, and the ``Discard`` that says so; ``where``
    are the Discard's own fields (lane, batch, bisect, records)."""
    document = failure_document(
        condition=condition,
        function_arn=function_arn,
        invocation=invocation,
        failed_invocations=failed_invocations,
        shard_id=shard_id,
        sequence_numbers=sequence_numbers,
        created=created,
        stream_arn=stream_arn,
    )
    name = None
    if destination is not None:
        store_failure_document(destination, document)
        name = destination.table_name
    return Discard(shard_id, condition, tuple(sequence_numbers), document, name, **where)

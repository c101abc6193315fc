"""The failure document: what Lambda sends to an on-failure destination for a DynamoDB stream.

Its shape is the one the AWS Lambda guide shows in "Retaining discarded records for a DynamoDB
event source in Lambda": ``requestContext``, ``responseContext`` (absent when the records were
discarded before any invocation), ``version``, ``timestamp`` and ``DDBStreamBatchInfo``.
"""

from __future__ import annotations

import datetime as dt
import json
import uuid
from typing import Any

from ._invocations import Discard, Invocation, Outcome

__all__ = ["discard", "failure_document", "iso_utc", "store_failure_document"]


def iso_utc(epoch: float) -> str:
    """Epoch seconds as ISO 8601 UTC to the second, as in AWS's documents."""
    return dt.datetime.fromtimestamp(epoch, dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def failure_document(
    *,
    condition: str,
    function_arn: str,
    invocation: Invocation | None,
    invoke_count: int,
    shard_id: str,
    sequence_numbers: list[str],
    created: list[float],
    stream_arn: str,
) -> dict[str, Any]:
    """The document for records given up on (``RetryAttemptsExhausted`` or
    ``RecordAgeExceeded``)."""
    document: dict[str, Any] = {
        "requestContext": {
            "requestId": invocation.request_id if invocation else str(uuid.uuid4()),
            "functionArn": function_arn,
            "condition": condition,
            "approximateInvokeCount": invoke_count,
        },
        "version": "1.0",
        "timestamp": dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z",
        "DDBStreamBatchInfo": {
            "shardId": shard_id,
            "startSequenceNumber": sequence_numbers[0],
            "endSequenceNumber": sequence_numbers[-1],
            "approximateArrivalOfFirstRecord": iso_utc(created[0]),
            "approximateArrivalOfLastRecord": iso_utc(created[-1]),
            "batchSize": len(sequence_numbers),
            "streamArn": stream_arn,
        },
    }
    if invocation is not None:  # records discarded before any invocation have none
        document["responseContext"] = {"statusCode": 200, "executedVersion": "$LATEST"}
        if invocation.outcome is Outcome.ERROR:
            document["responseContext"]["functionError"] = "Unhandled"
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
    invoke_count: int,
    shard_id: str,
    sequence_numbers: list[str],
    created: list[float],
    stream_arn: str,
    destination: Any = None,
) -> Discard:
    """Give up on records: their failure document, stored in ``destination`` (a boto3 Table of
    the on-failure destination) when there is one, and the ``Discard`` that says so."""
    document = failure_document(
        condition=condition,
        function_arn=function_arn,
        invocation=invocation,
        invoke_count=invoke_count,
        shard_id=shard_id,
        sequence_numbers=sequence_numbers,
        created=created,
        stream_arn=stream_arn,
    )
    name = None
    if destination is not None:
        store_failure_document(destination, document)
        name = destination.table_name
    return Discard(shard_id, condition, tuple(sequence_numbers), document, name)

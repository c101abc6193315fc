"""Helpers for checking stream records, in the style of ScyllaDB's DynamoDB-compatible stream tests.

An expected event is ``(eventName, keys, old image, new image)`` with the images as plain Python
values (``None`` when the record carries no such image). Events are compared per key, in order:
the stream orders the changes of one item, not those of different items.

Polling is bounded: a reader or trigger is drained until a condition holds or a deadline passes,
and the caller then asserts on what arrived (so a timeout shows up as a readable mismatch).
"""

from __future__ import annotations

import time
from collections import defaultdict
from collections.abc import Callable
from typing import Any

from boto3.dynamodb.types import TypeDeserializer
from botocore.exceptions import ClientError

import labkit

Event = tuple[str, dict[str, Any], dict[str, Any] | None, dict[str, Any] | None]

_deserializer = TypeDeserializer()
POLL_TIMEOUT_S = 10.0


def plain(image: dict[str, Any] | None) -> dict[str, Any] | None:
    """A typed DynamoDB image ({"pk": {"S": "a"}}) as Python values ({"pk": "a"})."""
    if image is None:
        return None
    return {name: _deserializer.deserialize(value) for name, value in image.items()}


def as_event(record: dict[str, Any]) -> Event:
    ddb = record["dynamodb"]
    return (
        record["eventName"],
        plain(ddb["Keys"]),
        plain(ddb.get("OldImage")),
        plain(ddb.get("NewImage")),
    )


def per_key(records: list[dict[str, Any]]) -> dict[tuple[Any, ...], list[Event]]:
    """Events grouped by item key (key values in attribute-name order), each group in order."""
    out: dict[tuple[Any, ...], list[Event]] = defaultdict(list)
    for record in records:
        event = as_event(record)
        out[tuple(v for _, v in sorted(event[1].items()))].append(event)
    return dict(out)


def records_of(invocations: list[labkit.Invocation]) -> list[dict[str, Any]]:
    return [r for inv in invocations for r in inv.records]


def has_key(records: list[dict[str, Any]], pk: str) -> bool:
    return any(plain(r["dynamodb"]["Keys"]) == {"pk": pk} for r in records)


def run_trigger_until(
    trigger: labkit.Trigger,
    done: Callable[[list[dict[str, Any]]], bool],
    timeout: float = POLL_TIMEOUT_S,
) -> list[labkit.Invocation]:
    """Run the trigger until ``done(records delivered so far)``, or until the deadline."""
    invocations: list[labkit.Invocation] = []
    deadline = time.monotonic() + timeout
    while True:
        invocations += trigger.run_until_idle()
        if done(records_of(invocations)) or time.monotonic() > deadline:
            return invocations
        time.sleep(0.05)


def read_until(
    reader: labkit.StreamReader,
    done: Callable[[list[dict[str, Any]]], bool],
    timeout: float = POLL_TIMEOUT_S,
) -> list[dict[str, Any]]:
    """Read the stream until ``done(records read so far)``, or until the deadline."""
    records: list[dict[str, Any]] = []
    deadline = time.monotonic() + timeout
    while True:
        records += reader.read_all()
        if done(records) or time.monotonic() > deadline:
            return records
        time.sleep(0.05)


def at_least(n: int) -> Callable[[list[dict[str, Any]]], bool]:
    return lambda records: len(records) >= n


def set_attr(table: Any, pk: str, name: str, value: Any) -> None:
    table.update_item(
        Key={"pk": pk},
        UpdateExpression="SET #a = :v",
        ExpressionAttributeNames={"#a": name},
        ExpressionAttributeValues={":v": value},
    )


# The keys of a record in a Lambda event for DynamoDB Streams (AWS Lambda guide, with-ddb).
RECORD_FIELDS = {
    "eventID",
    "eventName",
    "eventVersion",
    "eventSource",
    "awsRegion",
    "dynamodb",
    "eventSourceARN",
}


def delete_tables(lab: labkit.Lab, names: list[str]) -> None:
    """Delete the tables a test made; ones never created (or already deleted) are fine."""
    for name in names:
        try:
            lab.dynamodb.delete_table(TableName=name)
        except ClientError as exc:
            if exc.response["Error"]["Code"] != "ResourceNotFoundException":
                raise

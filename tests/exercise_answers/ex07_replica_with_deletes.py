"""Lesson 07: a replica that applies every event, deletes included (a handler)."""

from __future__ import annotations

from typing import Any

from boto3.dynamodb.types import TypeDeserializer

_des = TypeDeserializer()

EXERCISE = "07-replica-with-deletes"
FAILING_CASE = "a deletion at the source deletes the copy"


def _plain(image: dict[str, Any]) -> dict[str, Any]:
    return {k: _des.deserialize(v) for k, v in image.items()}


def REFERENCE(replica: Any) -> Any:
    def handler(event: dict[str, Any], context: Any) -> None:
        for record in event["Records"]:
            change = record["dynamodb"]
            if record["eventName"] == "REMOVE":
                replica.delete_item(Key=_plain(change["Keys"]))
            else:
                replica.put_item(Item=_plain(change["NewImage"]))

    return handler


def WRONG(replica: Any) -> Any:  # skips REMOVE: "there is no new image to write"
    def handler(event: dict[str, Any], context: Any) -> None:
        for record in event["Records"]:
            if record["eventName"] in ("INSERT", "MODIFY"):
                replica.put_item(Item=_plain(record["dynamodb"]["NewImage"]))

    return handler

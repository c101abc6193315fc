"""Lesson 10: project the latest version of each order, whatever order its events come in."""

from __future__ import annotations

from typing import Any

from boto3.dynamodb.types import TypeDeserializer

_des = TypeDeserializer()

EXERCISE = "10-latest-version-wins"
FAILING_CASE = "an older version arriving late is ignored"


def _state(record: dict[str, Any]) -> dict[str, Any]:
    event = {k: _des.deserialize(v) for k, v in record["dynamodb"]["NewImage"].items()}
    return {k: event[k] for k in ("order_id", "version", "status")}


def REFERENCE(order_status: Any) -> Any:
    conflict = order_status.meta.client.exceptions.ConditionalCheckFailedException

    def handler(event: dict[str, Any], context: Any) -> None:
        for record in event["Records"]:
            if record["eventName"] == "REMOVE":
                continue  # an old event cleaned up: not a new state
            state = _state(record)
            try:
                order_status.put_item(
                    Item=state,
                    ConditionExpression="attribute_not_exists(order_id) OR version < :v",
                    ExpressionAttributeValues={":v": state["version"]},
                )
            except conflict:
                print(f"{state['order_id']} v{state['version']}: not newer, ignored")

    return handler


def WRONG(order_status: Any) -> Any:  # last record wins: trusts an order the stream never gave
    def handler(event: dict[str, Any], context: Any) -> None:
        for record in event["Records"]:
            if record["eventName"] == "REMOVE":
                continue
            order_status.put_item(Item=_state(record))

    return handler

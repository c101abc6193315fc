"""Lesson 06: running totals per customer, kept right with deltas (a handler)."""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from boto3.dynamodb.types import TypeDeserializer

_des = TypeDeserializer()

EXERCISE = "06-running-totals"
FAILING_CASE = "a changed total adds only the difference"


def _order(image: dict[str, Any]) -> dict[str, Any]:
    return {k: _des.deserialize(v) for k, v in image.items()}


def REFERENCE(totals: Any) -> Any:
    def handler(event: dict[str, Any], context: Any) -> None:
        for record in event["Records"]:
            deltas: dict[str, list[Any]] = defaultdict(lambda: [0, 0])
            for image, sign in (("OldImage", -1), ("NewImage", 1)):
                if image in record["dynamodb"]:
                    order = _order(record["dynamodb"][image])
                    deltas[order["customer"]][0] += sign
                    deltas[order["customer"]][1] += sign * order["total"]
            for customer, (count, revenue) in deltas.items():
                if count or revenue:
                    totals.update_item(
                        Key={"customer": customer},
                        UpdateExpression="ADD order_count :c, revenue :r",
                        ExpressionAttributeValues={":c": count, ":r": revenue},
                    )

    return handler


def WRONG(totals: Any) -> Any:  # counts every NewImage, forgets REMOVE
    def handler(event: dict[str, Any], context: Any) -> None:
        for record in event["Records"]:
            if record["eventName"] == "REMOVE":
                continue
            order = _order(record["dynamodb"]["NewImage"])
            totals.update_item(
                Key={"customer": order["customer"]},
                UpdateExpression="ADD order_count :one, revenue :t",
                ExpressionAttributeValues={":one": 1, ":t": order["total"]},
            )

    return handler

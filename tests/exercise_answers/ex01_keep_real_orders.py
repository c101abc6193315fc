"""Lesson 01: process real orders, skip cancelled ones (a transform)."""

from __future__ import annotations

from typing import Any

from boto3.dynamodb.types import TypeDeserializer

_des = TypeDeserializer()

EXERCISE = "01-keep-real-orders"
FAILING_CASE = "a cancelled order is skipped"


def _new_item(record: dict[str, Any]) -> dict[str, Any]:
    return {k: _des.deserialize(v) for k, v in record["dynamodb"]["NewImage"].items()}


def REFERENCE(record: dict[str, Any]) -> dict[str, Any] | None:
    if record["eventName"] == "REMOVE":
        return None
    order = _new_item(record)
    if order["status"] == "cancelled":
        return None
    order["status"] = order["status"].upper()
    return order


def WRONG(record: dict[str, Any]) -> dict[str, Any] | None:  # forgets the filter
    if record["eventName"] == "REMOVE":
        return None
    order = _new_item(record)
    order["status"] = order["status"].upper()
    return order

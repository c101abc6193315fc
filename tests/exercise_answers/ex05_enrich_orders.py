"""Lesson 05: summarise orders, enriched with the customer's name (a handler)."""

from __future__ import annotations

from typing import Any

from boto3.dynamodb.types import TypeDeserializer

_des = TypeDeserializer()

EXERCISE = "05-enrich-orders"
FAILING_CASE = "a deletion deletes the summary"


def _image(record: dict[str, Any], which: str) -> dict[str, Any]:
    return {k: _des.deserialize(v) for k, v in record["dynamodb"][which].items()}


def REFERENCE(target: Any, customers: Any) -> Any:
    def handler(event: dict[str, Any], context: Any) -> None:
        names: dict[str, str] = {}
        for record in event["Records"]:
            if record["eventName"] == "REMOVE":
                old = _image(record, "OldImage")
                target.delete_item(Key={"customer": old["customer_id"], "order": old["pk"]})
                continue
            order = _image(record, "NewImage")
            cid = order["customer_id"]
            if record["eventName"] == "MODIFY":
                old = _image(record, "OldImage")
                if old["customer_id"] != cid:  # moved: delete the summary under the old key
                    target.delete_item(Key={"customer": old["customer_id"], "order": old["pk"]})
            if cid not in names:
                found = customers.get_item(Key={"pk": cid}).get("Item")
                names[cid] = found["name"] if found else "unknown"
            target.put_item(
                Item={
                    "customer": cid,
                    "order": order["pk"],
                    "total": order["quantity"] * order["unit_price"],
                    "customer_name": names[cid],
                }
            )

    return handler


def WRONG(target: Any, customers: Any) -> Any:  # skips deletions: the summary outlives its order
    def handler(event: dict[str, Any], context: Any) -> None:
        for record in event["Records"]:
            if record["eventName"] == "REMOVE":
                continue
            order = _image(record, "NewImage")
            found = customers.get_item(Key={"pk": order["customer_id"]}).get("Item")
            target.put_item(
                Item={
                    "customer": order["customer_id"],
                    "order": order["pk"],
                    "total": order["quantity"] * order["unit_price"],
                    "customer_name": found["name"] if found else "unknown",
                }
            )

    return handler

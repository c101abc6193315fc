"""Lesson 12 (capstone): the order pipeline: filter, enrich, aggregate, isolate a poison order."""

from __future__ import annotations

from typing import Any

from boto3.dynamodb.types import TypeDeserializer

_des = TypeDeserializer()

EXERCISE = "12-order-pipeline"
FAILING_CASE = "a poison order does not block the others"


def _image(record: dict[str, Any], which: str) -> dict[str, Any]:
    return {k: _des.deserialize(v) for k, v in record["dynamodb"].get(which, {}).items()}


def _count(revenue_by_customer: Any, customer_id: str, orders: int, revenue: Any) -> None:
    revenue_by_customer.update_item(
        Key={"customer_id": customer_id},
        UpdateExpression="ADD orders :n, revenue :r",
        ExpressionAttributeValues={":n": orders, ":r": revenue},
    )


def _apply(orders_enriched: Any, revenue_by_customer: Any, record: dict[str, Any], customer: Any):
    old, new = _image(record, "OldImage"), _image(record, "NewImage")
    if record["eventName"] == "REMOVE":
        orders_enriched.delete_item(Key={"pk": old["pk"]})
        _count(revenue_by_customer, old["customer_id"], -1, -old["total"])
        return
    enriched = {**new, "customer_name": customer["name"], "tier": customer["tier"]}
    orders_enriched.put_item(Item=enriched)
    if record["eventName"] == "INSERT":
        _count(revenue_by_customer, new["customer_id"], 1, new["total"])
    else:
        _count(revenue_by_customer, new["customer_id"], 0, new["total"] - old["total"])


def _customer(customers: Any, record: dict[str, Any]) -> dict[str, Any] | None:
    """The order's customer (the enrichment); a LookupError for an unknown one. None on REMOVE."""
    if record["eventName"] == "REMOVE":
        return None
    order = _image(record, "NewImage")
    customer = customers.get_item(Key={"customer_id": order["customer_id"]}).get("Item")
    if customer is None:
        raise LookupError(f"{order['pk']}: unknown customer {order['customer_id']}")
    return customer


def REFERENCE(customers: Any, orders_enriched: Any, revenue_by_customer: Any, failures: Any) -> Any:
    def handler(event: dict[str, Any], context: Any) -> None:
        looked_up = []
        for record in event["Records"]:  # 1. look up (enrich) every record, write nothing yet
            looked_up.append((record, _customer(customers, record)))
        for record, customer in looked_up:  # 2. the whole batch is good: write
            _apply(orders_enriched, revenue_by_customer, record, customer)

    return handler


def WRONG(customers: Any, orders_enriched: Any, revenue_by_customer: Any, failures: Any) -> Any:
    def handler(event: dict[str, Any], context: Any) -> None:  # writes as it goes
        for record in event["Records"]:
            _apply(orders_enriched, revenue_by_customer, record, _customer(customers, record))

    return handler

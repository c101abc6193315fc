"""Lesson 09: count each order once, however often it is delivered (an idempotent handler)."""

from __future__ import annotations

from typing import Any

from boto3.dynamodb.types import TypeDeserializer
from botocore.exceptions import ClientError

deserialize = TypeDeserializer().deserialize

EXERCISE = "09-count-once"
FAILING_CASE = "a redelivered batch changes nothing"


def _order(record: dict[str, Any]) -> dict[str, Any]:
    return {k: deserialize(v) for k, v in record["dynamodb"]["NewImage"].items()}


def REFERENCE(totals: Any, processed: Any) -> Any:
    client = totals.meta.client  # the resource's client: plain Python values, as a Table

    def handler(event: dict[str, Any], context: Any) -> None:
        for record in event["Records"]:
            if record["eventName"] != "INSERT":
                continue
            order = _order(record)
            try:
                client.transact_write_items(
                    TransactItems=[
                        {
                            "Put": {
                                "TableName": processed.table_name,
                                "Item": {"pk": record["eventID"]},
                                "ConditionExpression": "attribute_not_exists(pk)",
                            }
                        },
                        {
                            "Update": {
                                "TableName": totals.table_name,
                                "Key": {"pk": order["customer"]},
                                "UpdateExpression": "ADD order_count :one, revenue :total",
                                "ExpressionAttributeValues": {":one": 1, ":total": order["total"]},
                            }
                        },
                    ]
                )
            except ClientError as error:
                reasons = error.response.get("CancellationReasons", [])
                if not reasons or reasons[0]["Code"] != "ConditionalCheckFailed":
                    raise

    return handler


def WRONG(totals: Any, processed: Any) -> Any:  # atomic ADD, but no memory of what was counted
    def handler(event: dict[str, Any], context: Any) -> None:
        for record in event["Records"]:
            if record["eventName"] != "INSERT":
                continue
            order = _order(record)
            totals.update_item(
                Key={"pk": order["customer"]},
                UpdateExpression="ADD order_count :one, revenue :total",
                ExpressionAttributeValues={":one": 1, ":total": order["total"]},
            )

    return handler

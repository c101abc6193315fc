"""Lesson 08: report the poison order, let the good ones through (a handler with
ReportBatchItemFailures)."""

from __future__ import annotations

from typing import Any

from boto3.dynamodb.types import TypeDeserializer

deserialize = TypeDeserializer().deserialize

EXERCISE = "08-report-the-poison"
FAILING_CASE = "the poison order is reported, the good ones get through"


def _order(record: dict[str, Any]) -> dict[str, Any]:
    return {k: deserialize(v) for k, v in record["dynamodb"]["NewImage"].items()}


def REFERENCE(orders_processed: Any) -> Any:
    def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
        failures = []
        for record in event["Records"]:
            order = _order(record)
            if order["total"] < 0:  # the poison order: report it, keep going
                failures.append({"itemIdentifier": record["dynamodb"]["SequenceNumber"]})
                continue
            orders_processed.put_item(Item={"pk": order["pk"], "total": order["total"]})
        return {"batchItemFailures": failures}

    return handler


def WRONG(orders_processed: Any) -> Any:  # reports the eventID, as an SQS handler reports messageId
    def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
        failures = []
        for record in event["Records"]:
            order = _order(record)
            if order["total"] < 0:
                failures.append({"itemIdentifier": record["eventID"]})
                continue
            orders_processed.put_item(Item={"pk": order["pk"], "total": order["total"]})
        return {"batchItemFailures": failures}

    return handler

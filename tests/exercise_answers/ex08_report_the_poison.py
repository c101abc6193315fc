"""Lesson 08: report the poison order, let the good ones through (a Lambda function's module with
ReportBatchItemFailures, its table named by ORDERS_PROCESSED_TABLE)."""

from __future__ import annotations

EXERCISE = "08-report-the-poison"
FAILING_CASE = "the poison order is reported, the good ones get through"

REFERENCE = """\
import os

import boto3
from boto3.dynamodb.types import TypeDeserializer

deserialize = TypeDeserializer().deserialize
orders_processed = boto3.resource("dynamodb").Table(os.environ["ORDERS_PROCESSED_TABLE"])


def handler(event, context):
    failures = []
    for record in event["Records"]:
        order = {k: deserialize(v) for k, v in record["dynamodb"]["NewImage"].items()}
        if order["total"] < 0:  # the poison order: report it, keep going
            failures.append({"itemIdentifier": record["dynamodb"]["SequenceNumber"]})
            continue
        orders_processed.put_item(Item={"pk": order["pk"], "total": order["total"]})
    return {"batchItemFailures": failures}
"""

# Reports the eventID, as an SQS handler reports the messageId.
WRONG = REFERENCE.replace('record["dynamodb"]["SequenceNumber"]', 'record["eventID"]')
assert WRONG != REFERENCE

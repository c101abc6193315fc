"""Lesson 06: running totals per customer, kept right with deltas (a function's module)."""

from pathlib import Path

EXERCISE = "06-running-totals"
FAILING_CASE = "a changed total adds only the difference"

# The lesson's own solution module, as its solution cell writes it and as deployed: one
# source of truth, so the reference checked here is the one the lesson runs.
REFERENCE = (
    Path(__file__).parents[2] / "notebooks" / "functions" / "running_totals.py"
).read_text()

# Counts every NewImage, forgets REMOVE.
WRONG = """\
import os

import boto3
from boto3.dynamodb.types import TypeDeserializer

deserialize = TypeDeserializer().deserialize
totals = boto3.resource("dynamodb").Table(os.environ["TOTALS_TABLE"])


def handler(event, context):
    for record in event["Records"]:
        if record["eventName"] == "REMOVE":
            continue
        order = {k: deserialize(v) for k, v in record["dynamodb"]["NewImage"].items()}
        totals.update_item(
            Key={"customer": order["customer"]},
            UpdateExpression="ADD order_count :one, revenue :t",
            ExpressionAttributeValues={":one": 1, ":t": order["total"]},
        )
"""

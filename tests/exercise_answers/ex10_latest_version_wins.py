"""Lesson 10: project the latest version of each order, whatever order its events come in.

Both answers are module sources, written the AWS way: a module-level Table, its name from the
function's environment (ORDER_STATUS_TABLE)."""

from pathlib import Path

EXERCISE = "10-latest-version-wins"
FAILING_CASE = "an older version arriving late is ignored"

# The lesson's own solution module, as its solution cell writes it and as deployed: one
# source of truth, so the reference checked here is the one the lesson runs.
REFERENCE = (
    Path(__file__).parents[2] / "notebooks" / "functions" / "latest_version_wins.py"
).read_text()

# last record wins: trusts an order the stream never gave
WRONG = """
import os

import boto3
from boto3.dynamodb.types import TypeDeserializer

deserialize = TypeDeserializer().deserialize
order_status = boto3.resource("dynamodb").Table(os.environ["ORDER_STATUS_TABLE"])


def handler(event, context):
    for record in event["Records"]:
        if record["eventName"] == "REMOVE":
            continue
        new = {k: deserialize(v) for k, v in record["dynamodb"]["NewImage"].items()}
        order_status.put_item(Item={k: new[k] for k in ("order_id", "version", "status")})
"""

"""Lesson 05: summarise orders, enriched with the customer's name (a function's module)."""

from pathlib import Path

EXERCISE = "05-enrich-orders"
FAILING_CASE = "a deletion deletes the summary"

# The lesson's own solution module, as its solution cell writes it and as deployed: one
# source of truth, so the reference checked here is the one the lesson runs.
REFERENCE = (Path(__file__).parents[2] / "notebooks" / "functions" / "enrich_orders.py").read_text()

# Skips deletions: the summary outlives its order.
WRONG = """\
import os

import boto3
from boto3.dynamodb.types import TypeDeserializer

dynamodb = boto3.resource("dynamodb")
summaries = dynamodb.Table(os.environ["SUMMARIES_TABLE"])
customers = dynamodb.Table(os.environ["CUSTOMERS_TABLE"])
deserialize = TypeDeserializer().deserialize


def handler(event, context):
    for record in event["Records"]:
        if record["eventName"] == "REMOVE":
            continue
        order = {k: deserialize(v) for k, v in record["dynamodb"]["NewImage"].items()}
        found = customers.get_item(Key={"pk": order["customer_id"]}).get("Item")
        summaries.put_item(
            Item={
                "customer": order["customer_id"],
                "order": order["pk"],
                "total": order["quantity"] * order["unit_price"],
                "customer_name": found["name"] if found else "unknown",
            }
        )
"""

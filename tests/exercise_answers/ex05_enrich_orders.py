"""Lesson 05: summarise orders, enriched with the customer's name (a function's module)."""

EXERCISE = "05-enrich-orders"
FAILING_CASE = "a deletion deletes the summary"

# The lesson's solution cell (%%writefile functions/enrich_orders.py), as deployed.
REFERENCE = """\
import os

import boto3
from boto3.dynamodb.types import TypeDeserializer

dynamodb = boto3.resource("dynamodb")
summaries = dynamodb.Table(os.environ["SUMMARIES_TABLE"])
customers = dynamodb.Table(os.environ["CUSTOMERS_TABLE"])
deserialize = TypeDeserializer().deserialize


def image(record, which):
    return {k: deserialize(v) for k, v in record["dynamodb"][which].items()}


def handler(event, context):
    names = {}  # per-invocation cache of customer names
    for record in event["Records"]:
        if record["eventName"] == "REMOVE":
            old = image(record, "OldImage")
            summaries.delete_item(Key={"customer": old["customer_id"], "order": old["pk"]})
            continue
        order = image(record, "NewImage")
        cid = order["customer_id"]
        if record["eventName"] == "MODIFY":
            old = image(record, "OldImage")
            if old["customer_id"] != cid:  # moved: delete the summary under the old key
                summaries.delete_item(Key={"customer": old["customer_id"], "order": old["pk"]})
        if cid not in names:
            found = customers.get_item(Key={"pk": cid}).get("Item")
            names[cid] = found["name"] if found else "unknown"
        summaries.put_item(
            Item={
                "customer": cid,
                "order": order["pk"],
                "total": order["quantity"] * order["unit_price"],
                "customer_name": names[cid],
            }
        )
"""

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

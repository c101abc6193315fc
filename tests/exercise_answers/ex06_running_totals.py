"""Lesson 06: running totals per customer, kept right with deltas (a function's module)."""

EXERCISE = "06-running-totals"
FAILING_CASE = "a changed total adds only the difference"

# The lesson's solution cell (%%writefile functions/running_totals.py), as deployed.
REFERENCE = '''\
import os
from collections import defaultdict

import boto3
from boto3.dynamodb.types import TypeDeserializer

deserialize = TypeDeserializer().deserialize
totals = boto3.resource("dynamodb").Table(os.environ["TOTALS_TABLE"])


def contribution(image):
    """What one version of an order adds to its customer's totals."""
    order = {k: deserialize(v) for k, v in image.items()}
    return order["customer"], 1, order["total"]


def handler(event, context):
    for record in event["Records"]:
        deltas = defaultdict(lambda: [0, 0])  # customer -> [count, revenue]
        for image, sign in (("OldImage", -1), ("NewImage", +1)):
            if image in record["dynamodb"]:
                customer, count, revenue = contribution(record["dynamodb"][image])
                deltas[customer][0] += sign * count
                deltas[customer][1] += sign * revenue
        for customer, (count, revenue) in deltas.items():
            if count or revenue:
                totals.update_item(
                    Key={"customer": customer},
                    UpdateExpression="ADD order_count :c, revenue :r",
                    ExpressionAttributeValues={":c": count, ":r": revenue},
                )
'''

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

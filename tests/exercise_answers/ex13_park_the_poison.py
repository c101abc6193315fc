"""Lesson 13: keep the shard moving (a Lambda function's module that charges the orders it can
and parks the ones it cannot, instead of raising; tables named by PAYMENTS_TABLE and
PARKED_ORDERS_TABLE)."""

from __future__ import annotations

from pathlib import Path

EXERCISE = "13-park-the-poison"
FAILING_CASE = "a total that is not a number is parked, the others are charged"

# The lesson's own solution module, as its solution cell writes it and as deployed: one
# source of truth, so the reference checked here is the one the lesson runs.
REFERENCE = (
    Path(__file__).parents[2] / "notebooks" / "functions" / "charge_or_park.py"
).read_text()

# The lesson's charge function: it raises on the bad order, so the batch fails and, with
# unlimited retries, the shard blocks behind it.
WRONG = """\
import os
from decimal import Decimal

import boto3
from boto3.dynamodb.types import TypeDeserializer

deserialize = TypeDeserializer().deserialize
payments = boto3.resource("dynamodb").Table(os.environ["PAYMENTS_TABLE"])


def handler(event, context):
    for record in event["Records"]:
        if record["eventName"] == "REMOVE":
            continue
        order = {k: deserialize(v) for k, v in record["dynamodb"]["NewImage"].items()}
        if not isinstance(order.get("total"), Decimal):
            raise ValueError(f"{order['pk']}: total {order.get('total')!r} is not a number")
        payments.put_item(Item={"pk": order["pk"], "total": order["total"]})
"""

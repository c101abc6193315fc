"""Lesson 13: keep the shard moving (a Lambda function's module that charges the orders it can
and parks the ones it cannot, instead of raising; tables named by PAYMENTS_TABLE and
PARKED_ORDERS_TABLE)."""

from __future__ import annotations

EXERCISE = "13-park-the-poison"
FAILING_CASE = "a total that is not a number is parked, the others are charged"

REFERENCE = """\
import os
from decimal import Decimal

import boto3
from boto3.dynamodb.types import TypeDeserializer

deserialize = TypeDeserializer().deserialize
dynamodb = boto3.resource("dynamodb")
payments = dynamodb.Table(os.environ["PAYMENTS_TABLE"])
parked_orders = dynamodb.Table(os.environ["PARKED_ORDERS_TABLE"])


def handler(event, context):
    for record in event["Records"]:
        if record["eventName"] == "REMOVE":
            continue  # nothing to charge
        order = {k: deserialize(v) for k, v in record["dynamodb"]["NewImage"].items()}
        if isinstance(order.get("total"), Decimal):
            payments.put_item(Item={"pk": order["pk"], "total": order["total"]})
        else:
            print(f"{order['pk']}: total {order.get('total')!r} cannot be charged: parked")
            parked_orders.put_item(Item=order)
"""

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

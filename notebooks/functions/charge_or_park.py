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

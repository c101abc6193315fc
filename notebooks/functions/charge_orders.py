import os
import time
from decimal import Decimal

import boto3
from boto3.dynamodb.types import TypeDeserializer

deserialize = TypeDeserializer().deserialize
payments = boto3.resource("dynamodb").Table(os.environ["PAYMENTS_TABLE"])
SERVICE_SECONDS = float(os.environ.get("PAYMENT_SERVICE_SECONDS", "0"))


def call_payment_service(orders):
    """One request for the whole batch; it takes SERVICE_SECONDS."""
    time.sleep(SERVICE_SECONDS)


def handler(event, context):
    orders = []
    for record in event["Records"]:
        if record["eventName"] == "REMOVE":
            continue  # nothing to charge
        order = {k: deserialize(v) for k, v in record["dynamodb"]["NewImage"].items()}
        if not isinstance(order.get("total"), Decimal):
            raise ValueError(f"{order['pk']}: total {order.get('total')!r} is not a number")
        orders.append(order)
    call_payment_service(orders)
    for order in orders:
        payments.put_item(Item={"pk": order["pk"], "total": order["total"]})
    print(f"charged {', '.join(o['pk'] for o in orders)}")

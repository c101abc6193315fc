import os

import boto3
from boto3.dynamodb.types import TypeDeserializer

deserialize = TypeDeserializer().deserialize
totals = boto3.resource("dynamodb").Table(os.environ["TOTALS_TABLE"])

# The lesson's planned fault: fail after the write for this order, the first time only.
FAIL_ONCE_AFTER = os.environ.get("FAIL_ONCE_AFTER")
failed = set()


def handler(event, context):
    for record in event["Records"]:
        if record["eventName"] != "INSERT":
            print(f"{record['eventName']}: not a new order, nothing to count")
            continue
        order = {k: deserialize(v) for k, v in record["dynamodb"]["NewImage"].items()}
        totals.update_item(
            Key={"pk": order["customer"]},
            UpdateExpression="ADD order_count :one, revenue :total",
            ExpressionAttributeValues={":one": 1, ":total": order["total"]},
        )
        print(f"{order['pk']}: counted for {order['customer']}")
        if order["pk"] == FAIL_ONCE_AFTER and order["pk"] not in failed:
            failed.add(order["pk"])
            raise RuntimeError(f"planned fault after counting {order['pk']}")

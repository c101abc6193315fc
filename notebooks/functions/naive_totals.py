import os

import boto3
from boto3.dynamodb.types import TypeDeserializer

deserialize = TypeDeserializer().deserialize
totals = boto3.resource("dynamodb").Table(os.environ["TOTALS_TABLE"])


def handler(event, context):
    for record in event["Records"]:
        name = record["eventName"]
        pk = deserialize(record["dynamodb"]["Keys"]["pk"])
        if name == "REMOVE":
            print(f"{name} {pk}: no NewImage, ignored")
            continue
        order = {k: deserialize(v) for k, v in record["dynamodb"]["NewImage"].items()}
        totals.update_item(
            Key={"customer": order["customer"]},
            UpdateExpression="ADD order_count :one, revenue :total",
            ExpressionAttributeValues={":one": 1, ":total": order["total"]},
        )
        print(f"{name} {pk}: {order['customer']} count +1, revenue +{order['total']}")

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
        name = record["eventName"]
        pk = deserialize(record["dynamodb"]["Keys"]["pk"])
        deltas = defaultdict(lambda: [0, 0])  # customer -> [count, revenue]
        for image, sign in (("OldImage", -1), ("NewImage", +1)):
            if image in record["dynamodb"]:
                customer, count, revenue = contribution(record["dynamodb"][image])
                deltas[customer][0] += sign * count
                deltas[customer][1] += sign * revenue
        for customer, (count, revenue) in deltas.items():
            if count == 0 and revenue == 0:
                print(f"{name} {pk}: {customer} unchanged, nothing to write")
                continue
            totals.update_item(
                Key={"customer": customer},
                UpdateExpression="ADD order_count :c, revenue :r",
                ExpressionAttributeValues={":c": count, ":r": revenue},
            )
            print(f"{name} {pk}: {customer} count {count:+d}, revenue {revenue:+}")

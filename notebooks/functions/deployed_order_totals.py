import os
from collections import defaultdict

import boto3
from boto3.dynamodb.types import TypeDeserializer

deserialize = TypeDeserializer().deserialize
totals = boto3.resource("dynamodb").Table(os.environ["TOTALS_TABLE"])


def handler(event, context):
    for record in event["Records"]:
        name = record["eventName"]
        pk = deserialize(record["dynamodb"]["Keys"]["pk"])
        deltas = defaultdict(lambda: [0, 0])  # customer -> [count, revenue]
        for image, sign in (("OldImage", -1), ("NewImage", +1)):
            if image in record["dynamodb"]:
                order = {k: deserialize(v) for k, v in record["dynamodb"][image].items()}
                deltas[order["customer"]][0] += sign
                deltas[order["customer"]][1] += sign * order["total"]  # KeyError if no total
        for customer, (count, revenue) in deltas.items():
            if count or revenue:
                totals.update_item(
                    Key={"customer": customer},
                    UpdateExpression="ADD order_count :c, revenue :r",
                    ExpressionAttributeValues={":c": count, ":r": revenue},
                )
                print(f"{name} {pk}: {customer} count {count:+d}, revenue {revenue:+}")

import os

import boto3
from boto3.dynamodb.types import TypeDeserializer

deserialize = TypeDeserializer().deserialize
target = boto3.resource("dynamodb").Table(os.environ["TARGET_TABLE"])


def handler(event, context):
    for record in event["Records"]:
        name = record["eventName"]
        pk = deserialize(record["dynamodb"]["Keys"]["pk"])
        if name == "REMOVE":
            print(f"{name} {pk}: logged the deletion, nothing to write")
            continue
        order = {k: deserialize(v) for k, v in record["dynamodb"]["NewImage"].items()}
        if order["status"] == "cancelled":  # filter
            print(f"{name} {pk}: filtered out (cancelled)")
            continue
        old_status = order["status"]
        order["status"] = old_status.upper()  # transform
        order["processed_by"] = context.function_name  # enrich
        target.put_item(Item=order)  # write to the target
        print(f"{name} {pk}: passed the filter, status {old_status!r} -> {order['status']!r}")

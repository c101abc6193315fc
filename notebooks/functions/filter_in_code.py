import os

import boto3
from boto3.dynamodb.types import TypeDeserializer

deserialize = TypeDeserializer().deserialize
target = boto3.resource("dynamodb").Table(os.environ["TARGET_TABLE"])


def handler(event, context):
    for record in event["Records"]:
        name = record["eventName"]
        pk = deserialize(record["dynamodb"]["Keys"]["pk"])
        image = record["dynamodb"].get("NewImage", {})
        status = deserialize(image["status"]) if "status" in image else None
        if name != "INSERT" or status != "new":  # the filter, in code
            print(f"{name} {pk}: skipped in code")
            continue
        target.put_item(Item={k: deserialize(v) for k, v in image.items()})
        print(f"{name} {pk}: written")

import os

import boto3
from boto3.dynamodb.types import TypeDeserializer

deserialize = TypeDeserializer().deserialize
order_status = boto3.resource("dynamodb").Table(os.environ["ORDER_STATUS_TABLE"])


def image(record):
    return {k: deserialize(v) for k, v in record["dynamodb"]["NewImage"].items()}


def handler(event, context):
    for record in event["Records"]:
        pk = deserialize(record["dynamodb"]["Keys"]["pk"])
        if record["eventName"] == "REMOVE":
            order_status.delete_item(Key={"pk": pk})
            print(f"{pk}: removed")
        else:
            order_status.put_item(Item=image(record))
            print(f"{pk}: now {image(record)['status']}")

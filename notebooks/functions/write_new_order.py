import os

import boto3
from boto3.dynamodb.types import TypeDeserializer

deserialize = TypeDeserializer().deserialize
target = boto3.resource("dynamodb").Table(os.environ["TARGET_TABLE"])


def handler(event, context):
    for record in event["Records"]:
        image = record["dynamodb"]["NewImage"]
        target.put_item(Item={k: deserialize(v) for k, v in image.items()})
        print(f"{record['eventName']} {deserialize(image['pk'])}: written")

import os

import boto3
from boto3.dynamodb.types import TypeDeserializer

deserialize = TypeDeserializer().deserialize
replica = boto3.resource("dynamodb").Table(os.environ["REPLICA_TABLE"])


def handler(event, context):
    for record in event["Records"]:
        if record["eventName"] in ("INSERT", "MODIFY"):  # a REMOVE has no new image: skipped
            image = record["dynamodb"]["NewImage"]
            replica.put_item(Item={name: deserialize(value) for name, value in image.items()})

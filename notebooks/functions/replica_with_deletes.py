import os

import boto3
from boto3.dynamodb.types import TypeDeserializer

deserialize = TypeDeserializer().deserialize
replica = boto3.resource("dynamodb").Table(os.environ["REPLICA_TABLE"])


def plain(image):
    return {name: deserialize(value) for name, value in image.items()}


def handler(event, context):
    for record in event["Records"]:
        change = record["dynamodb"]
        if record["eventName"] == "REMOVE":
            replica.delete_item(Key=plain(change["Keys"]))
        else:
            replica.put_item(Item=plain(change["NewImage"]))

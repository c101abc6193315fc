import os

import boto3
from boto3.dynamodb.types import TypeDeserializer

deserialize = TypeDeserializer().deserialize
replica = boto3.resource("dynamodb").Table(os.environ["REPLICA_TABLE"])


def plain(image):
    """A stream image (DynamoDB JSON) as a Python item."""
    return {name: deserialize(value) for name, value in image.items()}


def handler(event, context):
    for record in event["Records"]:
        name, change = record["eventName"], record["dynamodb"]
        pk = plain(change["Keys"])["pk"]
        if name == "REMOVE":
            replica.delete_item(Key=plain(change["Keys"]))
            print(f"{name} {pk}: deleted the copy")
        else:  # INSERT or MODIFY
            replica.put_item(Item=plain(change["NewImage"]))
            print(f"{name} {pk}: copied the new image")

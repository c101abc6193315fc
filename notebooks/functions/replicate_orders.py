import os

import boto3
from boto3.dynamodb.types import TypeDeserializer

deserialize = TypeDeserializer().deserialize
replica = boto3.resource("dynamodb").Table(os.environ["REPLICA_TABLE"])


def to_python(image):
    """A stream image (DynamoDB JSON) as a plain Python item."""
    return {name: deserialize(value) for name, value in image.items()}


def handler(event, context):
    for record in event["Records"]:
        name = record["eventName"]
        change = record["dynamodb"]
        key = to_python(change["Keys"])  # the key is in every record, whatever the view type
        if name == "REMOVE":
            replica.delete_item(Key=key)
            print(f"{name} {key['pk']} ({change['SizeBytes']} bytes): deleted the copy")
        else:  # INSERT or MODIFY: the item as it is now
            replica.put_item(Item=to_python(change["NewImage"]))
            print(f"{name} {key['pk']} ({change['SizeBytes']} bytes): copied the new image")

import os

import boto3
from boto3.dynamodb.types import TypeDeserializer

deserialize = TypeDeserializer().deserialize
published = boto3.resource("dynamodb").Table(os.environ["PUBLISHED_TABLE"])


def handler(event, context):
    for record in event["Records"]:
        if record["eventName"] != "INSERT":
            continue  # an outbox item is news once; cleaning it up later is not
        message = {k: deserialize(v) for k, v in record["dynamodb"]["NewImage"].items()}
        published.put_item(Item=message)  # keyed by the event's id: a repeat overwrites itself
        print(f"published {message['pk']}")

import os

import boto3
from boto3.dynamodb.types import TypeDeserializer

deserialize = TypeDeserializer().deserialize
archive = boto3.resource("dynamodb").Table(os.environ["ARCHIVE_TABLE"])


def handler(event, context):
    for record in event["Records"]:
        image = record["dynamodb"]["OldImage"]
        item = {name: deserialize(value) for name, value in image.items()}
        archive.put_item(Item={**item, "archived_because": "expired (TTL)"})
        by = record["userIdentity"]["principalId"]
        print(f"{record['eventName']} {item['pk']} by {by}: archived")

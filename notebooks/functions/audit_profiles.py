import os

import boto3
from boto3.dynamodb.types import TypeDeserializer

deserialize = TypeDeserializer().deserialize
history = boto3.resource("dynamodb").Table(os.environ["HISTORY_TABLE"])


def plain(image):
    """A stream image (DynamoDB JSON) as a Python item."""
    return {name: deserialize(value) for name, value in image.items()}


def who(record):
    """Who made the change, from what the record really carries."""
    identity = record.get("userIdentity")  # only on TTL deletions
    if identity:
        return f"{identity['type']} {identity['principalId']}"
    if record["eventName"] == "MODIFY":
        return plain(record["dynamodb"]["NewImage"]).get("updated_by", "unknown")
    return "a delete request (the record does not say whose)"


def handler(event, context):
    for record in event["Records"]:
        name = record["eventName"]
        if name == "INSERT":
            print(f"INSERT {plain(record['dynamodb']['Keys'])['pk']}: no old version to keep")
            continue
        before = plain(record["dynamodb"]["OldImage"])
        history.put_item(
            Item={
                "pk": before["pk"],
                "version": before["version"],
                "event": name,
                "changed_by": who(record),
                "before": before,
            }
        )
        print(f"{name} {before['pk']}: kept version {before['version']}")

import os

import boto3
from boto3.dynamodb.types import TypeDeserializer

deserialize = TypeDeserializer().deserialize
target = boto3.resource("dynamodb").Table(os.environ["TARGET_TABLE"])


def handler(event, context):
    for record in event["Records"]:
        name = record["eventName"]
        seq = record["dynamodb"]["SequenceNumber"]
        pk = deserialize(record["dynamodb"]["Keys"]["pk"])
        if name == "REMOVE":
            target.delete_item(Key={"pk": pk})
        else:
            item = {k: deserialize(v) for k, v in record["dynamodb"]["NewImage"].items()}
            target.put_item(Item=item)
        print(f"{name} {pk} (seq {seq.lstrip('0')})")

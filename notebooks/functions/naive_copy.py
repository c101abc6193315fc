import base64
import json
import os

import boto3
from boto3.dynamodb.types import TypeDeserializer

deserialize = TypeDeserializer().deserialize
order_copy = boto3.resource("dynamodb").Table(os.environ["ORDER_COPY_TABLE"])


def handler(event, context):
    for record in event["Records"]:
        change = json.loads(base64.b64decode(record["kinesis"]["data"]))
        if change["eventName"] != "REMOVE":
            new = change["dynamodb"]["NewImage"]
            order_copy.put_item(Item={k: deserialize(v) for k, v in new.items()})

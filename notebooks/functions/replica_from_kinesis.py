import base64
import json
import os

import boto3
from boto3.dynamodb.types import TypeDeserializer

deserialize = TypeDeserializer().deserialize
replica = boto3.resource("dynamodb").Table(os.environ["REPLICA_TABLE"])
older = replica.meta.client.exceptions.ConditionalCheckFailedException


def handler(event, context):
    for record in event["Records"]:
        change = json.loads(base64.b64decode(record["kinesis"]["data"]))
        if change["eventName"] == "REMOVE":
            continue
        item = {k: deserialize(v) for k, v in change["dynamodb"]["NewImage"].items()}
        try:
            replica.put_item(
                Item=item,
                ConditionExpression="attribute_not_exists(pk) OR version < :v",
                ExpressionAttributeValues={":v": item["version"]},
            )
        except older:
            print(f"{item['pk']} v{item['version']}: not newer than the copy, ignored")

"""Lesson 15: keep a replica of each order from its Kinesis records, duplicates and late
arrivals included (the destination injects them, as AWS warns they can happen).

Both answers are module sources, written the AWS way: a module-level Table, its name from the
function's environment (REPLICA_TABLE)."""

EXERCISE = "15-newest-change-wins"
FAILING_CASE = "a duplicate record sent again later changes nothing"

REFERENCE = """
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
"""

# the last record wins: trusts an order (and a uniqueness) Kinesis does not promise here
WRONG = """
import base64
import json
import os

import boto3
from boto3.dynamodb.types import TypeDeserializer

deserialize = TypeDeserializer().deserialize
replica = boto3.resource("dynamodb").Table(os.environ["REPLICA_TABLE"])


def handler(event, context):
    for record in event["Records"]:
        change = json.loads(base64.b64decode(record["kinesis"]["data"]))
        if change["eventName"] != "REMOVE":
            new = change["dynamodb"]["NewImage"]
            replica.put_item(Item={k: deserialize(v) for k, v in new.items()})
"""

"""Lesson 10: project the latest version of each order, whatever order its events come in.

Both answers are module sources, written the AWS way: a module-level Table, its name from the
function's environment (ORDER_STATUS_TABLE)."""

EXERCISE = "10-latest-version-wins"
FAILING_CASE = "an older version arriving late is ignored"

REFERENCE = """
import os

import boto3
from boto3.dynamodb.types import TypeDeserializer

deserialize = TypeDeserializer().deserialize
order_status = boto3.resource("dynamodb").Table(os.environ["ORDER_STATUS_TABLE"])
conflict = order_status.meta.client.exceptions.ConditionalCheckFailedException


def handler(event, context):
    for record in event["Records"]:
        if record["eventName"] == "REMOVE":
            continue  # an old event cleaned up: not a new state
        new = {k: deserialize(v) for k, v in record["dynamodb"]["NewImage"].items()}
        state = {k: new[k] for k in ("order_id", "version", "status")}
        try:
            order_status.put_item(
                Item=state,
                ConditionExpression="attribute_not_exists(order_id) OR version < :v",
                ExpressionAttributeValues={":v": state["version"]},
            )
        except conflict:
            print(f"{state['order_id']} v{state['version']}: not newer, ignored")
"""

# last record wins: trusts an order the stream never gave
WRONG = """
import os

import boto3
from boto3.dynamodb.types import TypeDeserializer

deserialize = TypeDeserializer().deserialize
order_status = boto3.resource("dynamodb").Table(os.environ["ORDER_STATUS_TABLE"])


def handler(event, context):
    for record in event["Records"]:
        if record["eventName"] == "REMOVE":
            continue
        new = {k: deserialize(v) for k, v in record["dynamodb"]["NewImage"].items()}
        order_status.put_item(Item={k: new[k] for k in ("order_id", "version", "status")})
"""

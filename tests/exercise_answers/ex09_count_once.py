"""Lesson 09: count each order once, however often it is delivered (an idempotent handler).

Both answers are module sources, written the AWS way: a module-level client, the table names
from the function's environment (TOTALS_TABLE, PROCESSED_TABLE)."""

EXERCISE = "09-count-once"
FAILING_CASE = "a redelivered batch changes nothing"

REFERENCE = """
import os

import boto3
from boto3.dynamodb.types import TypeDeserializer
from botocore.exceptions import ClientError

deserialize = TypeDeserializer().deserialize
client = boto3.resource("dynamodb").meta.client  # plain Python values, as a Table takes them
TOTALS_TABLE = os.environ["TOTALS_TABLE"]
PROCESSED_TABLE = os.environ["PROCESSED_TABLE"]


def handler(event, context):
    for record in event["Records"]:
        if record["eventName"] != "INSERT":
            continue
        order = {k: deserialize(v) for k, v in record["dynamodb"]["NewImage"].items()}
        try:
            client.transact_write_items(
                TransactItems=[
                    {
                        "Put": {
                            "TableName": PROCESSED_TABLE,
                            "Item": {"pk": record["eventID"]},
                            "ConditionExpression": "attribute_not_exists(pk)",
                        }
                    },
                    {
                        "Update": {
                            "TableName": TOTALS_TABLE,
                            "Key": {"pk": order["customer"]},
                            "UpdateExpression": "ADD order_count :one, revenue :total",
                            "ExpressionAttributeValues": {":one": 1, ":total": order["total"]},
                        }
                    },
                ]
            )
        except ClientError as error:
            reasons = error.response.get("CancellationReasons", [])
            if not reasons or reasons[0]["Code"] != "ConditionalCheckFailed":
                raise
"""

# atomic ADD, but no memory of what was counted
WRONG = """
import os

import boto3
from boto3.dynamodb.types import TypeDeserializer

deserialize = TypeDeserializer().deserialize
totals = boto3.resource("dynamodb").Table(os.environ["TOTALS_TABLE"])


def handler(event, context):
    for record in event["Records"]:
        if record["eventName"] != "INSERT":
            continue
        order = {k: deserialize(v) for k, v in record["dynamodb"]["NewImage"].items()}
        totals.update_item(
            Key={"pk": order["customer"]},
            UpdateExpression="ADD order_count :one, revenue :total",
            ExpressionAttributeValues={":one": 1, ":total": order["total"]},
        )
"""

"""Lesson 16: apply the stream to a replica whose copy may overlap the tail, keeping deletes as
tombstones so that a late copy of a deleted version is refused.

Both answers are module sources, written the AWS way: a module-level Table, its name from the
function's environment (REPLICA_TABLE)."""

from pathlib import Path

EXERCISE = "16-tombstones"
FAILING_CASE = "a delete leaves a tombstone"

# The lesson's own solution module, as its solution cell writes it and as deployed: one
# source of truth, so the reference checked here is the one the lesson runs.
REFERENCE = (
    Path(__file__).parents[2] / "notebooks" / "functions" / "apply_with_tombstones.py"
).read_text()

# the lesson's apply_changes as it is: a version-checked delete leaves nothing to refuse a late
# copy of the deleted version
WRONG = """
import os

import boto3
from boto3.dynamodb.types import TypeDeserializer

deserialize = TypeDeserializer().deserialize
replica = boto3.resource("dynamodb").Table(os.environ["REPLICA_TABLE"])
not_newer = replica.meta.client.exceptions.ConditionalCheckFailedException


def handler(event, context):
    for record in event["Records"]:
        try:
            if record["eventName"] == "REMOVE":
                old = {k: deserialize(v) for k, v in record["dynamodb"]["OldImage"].items()}
                replica.delete_item(
                    Key={"pk": old["pk"]},
                    ConditionExpression="attribute_not_exists(pk) OR version <= :v",
                    ExpressionAttributeValues={":v": old["version"]},
                )
            else:
                new = {k: deserialize(v) for k, v in record["dynamodb"]["NewImage"].items()}
                replica.put_item(
                    Item=new,
                    ConditionExpression="attribute_not_exists(pk) OR version < :v",
                    ExpressionAttributeValues={":v": new["version"]},
                )
        except not_newer:
            pass
"""

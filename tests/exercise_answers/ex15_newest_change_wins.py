"""Lesson 15: keep a replica of each order from its Kinesis records, duplicates and late
arrivals included (the destination injects them, as AWS warns they can happen).

Both answers are module sources, written the AWS way: a module-level Table, its name from the
function's environment (REPLICA_TABLE)."""

from pathlib import Path

EXERCISE = "15-newest-change-wins"
FAILING_CASE = "a duplicate record sent again later changes nothing"

# The lesson's own solution module, as its solution cell writes it and as deployed: one
# source of truth, so the reference checked here is the one the lesson runs.
REFERENCE = (
    Path(__file__).parents[2] / "notebooks" / "functions" / "replica_from_kinesis.py"
).read_text()

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

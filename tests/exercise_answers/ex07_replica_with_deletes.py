"""Lesson 07: a replica that applies every event, deletes included (a Lambda function's module,
its replica table named by REPLICA_TABLE)."""

from __future__ import annotations

from pathlib import Path

EXERCISE = "07-replica-with-deletes"
FAILING_CASE = "a deletion at the source deletes the copy"

# The lesson's own solution module, as its solution cell writes it and as deployed: one
# source of truth, so the reference checked here is the one the lesson runs.
REFERENCE = (
    Path(__file__).parents[2] / "notebooks" / "functions" / "replica_with_deletes.py"
).read_text()

# Skips REMOVE: "there is no new image to write".
WRONG = """\
import os

import boto3
from boto3.dynamodb.types import TypeDeserializer

deserialize = TypeDeserializer().deserialize
replica = boto3.resource("dynamodb").Table(os.environ["REPLICA_TABLE"])


def handler(event, context):
    for record in event["Records"]:
        if record["eventName"] in ("INSERT", "MODIFY"):
            image = record["dynamodb"]["NewImage"]
            replica.put_item(Item={name: deserialize(value) for name, value in image.items()})
"""

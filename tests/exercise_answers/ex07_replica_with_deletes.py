"""Lesson 07: a replica that applies every event, deletes included (a Lambda function's module,
its replica table named by REPLICA_TABLE)."""

from __future__ import annotations

EXERCISE = "07-replica-with-deletes"
FAILING_CASE = "a deletion at the source deletes the copy"

REFERENCE = """\
import os

import boto3
from boto3.dynamodb.types import TypeDeserializer

deserialize = TypeDeserializer().deserialize
replica = boto3.resource("dynamodb").Table(os.environ["REPLICA_TABLE"])


def plain(image):
    return {name: deserialize(value) for name, value in image.items()}


def handler(event, context):
    for record in event["Records"]:
        change = record["dynamodb"]
        if record["eventName"] == "REMOVE":
            replica.delete_item(Key=plain(change["Keys"]))
        else:
            replica.put_item(Item=plain(change["NewImage"]))
"""

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

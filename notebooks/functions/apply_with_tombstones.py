import os

import boto3
from boto3.dynamodb.types import TypeDeserializer

deserialize = TypeDeserializer().deserialize
replica = boto3.resource("dynamodb").Table(os.environ["REPLICA_TABLE"])
not_newer = replica.meta.client.exceptions.ConditionalCheckFailedException


def handler(event, context):
    for record in event["Records"]:
        if record["eventName"] == "REMOVE":
            old = {k: deserialize(v) for k, v in record["dynamodb"]["OldImage"].items()}
            item = {"pk": old["pk"], "version": old["version"], "deleted": True}
            newer_kept = "attribute_not_exists(pk) OR version <= :v"  # a tombstone replaces its own version
        else:
            item = {k: deserialize(v) for k, v in record["dynamodb"]["NewImage"].items()}
            newer_kept = "attribute_not_exists(pk) OR version < :v"
        try:
            replica.put_item(Item=item, ConditionExpression=newer_kept,
                             ExpressionAttributeValues={":v": item["version"]})
        except not_newer:
            print(f"{item['pk']} v{item['version']}: not newer than the replica's, skipped")

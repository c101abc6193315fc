import os

import boto3
from boto3.dynamodb.types import TypeDeserializer

deserialize = TypeDeserializer().deserialize
replica = boto3.resource("dynamodb").Table(os.environ["REPLICA_TABLE"])
not_newer = replica.meta.client.exceptions.ConditionalCheckFailedException


def image(record, which):
    return {k: deserialize(v) for k, v in record["dynamodb"][which].items()}


def apply(record):
    if record["eventName"] == "REMOVE":
        old = image(record, "OldImage")
        gone = replica.delete_item(
            Key={"pk": old["pk"]},
            ConditionExpression="attribute_not_exists(pk) OR version <= :v",
            ExpressionAttributeValues={":v": old["version"]},
            ReturnValues="ALL_OLD",
        )
        return f"{old['pk']} v{old['version']}: " + ("deleted" if "Attributes" in gone else "not there")
    new = image(record, "NewImage")
    replica.put_item(
        Item=new,
        ConditionExpression="attribute_not_exists(pk) OR version < :v",
        ExpressionAttributeValues={":v": new["version"]},
    )
    return f"{new['pk']} v{new['version']}: applied"


def handler(event, context):
    for record in event["Records"]:
        try:
            print(apply(record))
        except not_newer:
            which = "OldImage" if record["eventName"] == "REMOVE" else "NewImage"
            item = image(record, which)
            print(f"{item['pk']} v{item['version']}: not newer than the replica's, skipped")

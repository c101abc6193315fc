import os

import boto3
from boto3.dynamodb.types import TypeDeserializer

deserialize = TypeDeserializer().deserialize
orders_processed = boto3.resource("dynamodb").Table(os.environ["ORDERS_PROCESSED_TABLE"])


def handler(event, context):
    failures = []
    for record in event["Records"]:
        order = {k: deserialize(v) for k, v in record["dynamodb"]["NewImage"].items()}
        if order["total"] < 0:  # the poison order: report it, keep going
            failures.append({"itemIdentifier": record["dynamodb"]["SequenceNumber"]})
            continue
        orders_processed.put_item(Item={"pk": order["pk"], "total": order["total"]})
    return {"batchItemFailures": failures}

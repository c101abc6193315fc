import os

import boto3
from boto3.dynamodb.types import TypeDeserializer

deserialize = TypeDeserializer().deserialize
processed = boto3.resource("dynamodb").Table(os.environ["ORDERS_PROCESSED_TABLE"])


def process_record(record):
    order = {k: deserialize(v) for k, v in record["dynamodb"]["NewImage"].items()}
    status = "NEEDS_REVIEW" if order["total"] < 0 else "PROCESSED"
    processed.put_item(Item={"pk": order["pk"], "total": order["total"], "status": status})
    print(f"{order['pk']}: {status.lower().replace('_', ' ')}")


def handler(event, context):
    for record in event["Records"]:
        process_record(record)

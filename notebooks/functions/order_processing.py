import os

import boto3
from boto3.dynamodb.types import TypeDeserializer

deserialize = TypeDeserializer().deserialize
processed = boto3.resource("dynamodb").Table(os.environ["ORDERS_PROCESSED_TABLE"])


def process_record(record):
    order = {k: deserialize(v) for k, v in record["dynamodb"]["NewImage"].items()}
    if order["total"] < 0:
        raise ValueError(f"{order['pk']} has a negative total ({order['total']})")
    processed.put_item(Item={"pk": order["pk"], "total": order["total"], "status": "PROCESSED"})
    print(f"{order['pk']}: processed")


def handler(event, context):
    for record in event["Records"]:
        process_record(record)

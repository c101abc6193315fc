import os

import boto3
from boto3.dynamodb.types import TypeDeserializer

deserialize = TypeDeserializer().deserialize
audit_log = boto3.resource("dynamodb").Table(os.environ["AUDIT_LOG_TABLE"])


def handler(event, context):
    for record in event["Records"]:
        seq = int(record["dynamodb"]["SequenceNumber"])
        change = f"{record['eventName']} {deserialize(record['dynamodb']['Keys']['pk'])}"
        audit_log.put_item(Item={"seq": seq, "change": change})
        print(f"#{seq}: {change}")

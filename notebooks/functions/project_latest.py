import base64
import json
import os

import boto3
from boto3.dynamodb.types import TypeDeserializer

deserialize = TypeDeserializer().deserialize
order_status = boto3.resource("dynamodb").Table(os.environ["ORDER_STATUS_TABLE"])
not_newer = order_status.meta.client.exceptions.ConditionalCheckFailedException


def handler(event, context):
    for record in event["Records"]:
        change = json.loads(base64.b64decode(record["kinesis"]["data"]))
        if change["eventName"] == "REMOVE":
            continue
        item = {k: deserialize(v) for k, v in change["dynamodb"]["NewImage"].items()}
        changed_at = change["dynamodb"]["ApproximateCreationDateTime"]
        try:
            order_status.put_item(
                Item={"pk": item["pk"], "status": item["status"], "changed_at": changed_at},
                ConditionExpression="attribute_not_exists(pk) OR changed_at < :t",
                ExpressionAttributeValues={":t": changed_at},
            )
        except not_newer:
            print(f"{item['pk']} {item['status']}: not newer than order_status, ignored")

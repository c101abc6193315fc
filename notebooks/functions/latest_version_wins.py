import os

import boto3
from boto3.dynamodb.types import TypeDeserializer

deserialize = TypeDeserializer().deserialize
order_status = boto3.resource("dynamodb").Table(os.environ["ORDER_STATUS_TABLE"])
conflict = order_status.meta.client.exceptions.ConditionalCheckFailedException


def handler(event, context):
    for record in event["Records"]:
        if record["eventName"] == "REMOVE":
            continue  # an old event cleaned up: not a new state
        new = {k: deserialize(v) for k, v in record["dynamodb"]["NewImage"].items()}
        state = {"order_id": new["order_id"], "version": new["version"], "status": new["status"]}
        try:
            order_status.put_item(
                Item=state,
                ConditionExpression="attribute_not_exists(order_id) OR version < :v",
                ExpressionAttributeValues={":v": state["version"]},
            )
        except conflict:
            print(f"{state['order_id']} v{state['version']}: not newer, ignored")

import os

import boto3
from boto3.dynamodb.types import TypeDeserializer
from botocore.exceptions import ClientError

deserialize = TypeDeserializer().deserialize
order_view = boto3.resource("dynamodb").Table(os.environ["ORDER_VIEW_TABLE"])


def handler(event, context):
    for record in event["Records"]:
        if record["eventName"] == "REMOVE":
            continue
        order = {k: deserialize(v) for k, v in record["dynamodb"]["NewImage"].items()}
        try:
            order_view.put_item(
                Item=order,
                ConditionExpression="attribute_not_exists(version) OR version < :v",
                ExpressionAttributeValues={":v": order["version"]},
            )
            print(f"{order['pk']} v{order['version']}: applied")
        except ClientError as error:
            if error.response["Error"]["Code"] != "ConditionalCheckFailedException":
                raise
            print(f"{order['pk']} v{order['version']}: already applied, skipped")

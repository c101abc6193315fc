import os

import boto3
from boto3.dynamodb.types import TypeDeserializer
from botocore.exceptions import ClientError

deserialize = TypeDeserializer().deserialize
client = boto3.resource("dynamodb").meta.client  # plain Python values, as a Table takes them
TOTALS_TABLE = os.environ["TOTALS_TABLE"]
PROCESSED_TABLE = os.environ["PROCESSED_TABLE"]


def handler(event, context):
    for record in event["Records"]:
        if record["eventName"] != "INSERT":
            continue  # only a new order counts
        order = {k: deserialize(v) for k, v in record["dynamodb"]["NewImage"].items()}
        try:
            client.transact_write_items(
                TransactItems=[
                    {"Put": {
                        "TableName": PROCESSED_TABLE,
                        "Item": {"pk": record["eventID"]},
                        "ConditionExpression": "attribute_not_exists(pk)",
                    }},
                    {"Update": {
                        "TableName": TOTALS_TABLE,
                        "Key": {"pk": order["customer"]},
                        "UpdateExpression": "ADD order_count :one, revenue :total",
                        "ExpressionAttributeValues": {":one": 1, ":total": order["total"]},
                    }},
                ]
            )
        except ClientError as error:
            reasons = error.response.get("CancellationReasons", [])
            if not reasons or reasons[0]["Code"] != "ConditionalCheckFailed":
                raise
            # already counted: this record was delivered before

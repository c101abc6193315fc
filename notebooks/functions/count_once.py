import os

import boto3
from boto3.dynamodb.types import TypeDeserializer
from botocore.exceptions import ClientError

deserialize = TypeDeserializer().deserialize
client = boto3.resource("dynamodb").meta.client  # plain Python values, as a Table takes them
TOTALS_TABLE = os.environ["TOTALS_TABLE"]
PROCESSED_TABLE = os.environ["PROCESSED_TABLE"]

# The lesson's planned fault: fail after the write for this order, the first time only.
FAIL_ONCE_AFTER = os.environ.get("FAIL_ONCE_AFTER")
failed = set()


def handler(event, context):
    for record in event["Records"]:
        if record["eventName"] != "INSERT":
            print(f"{record['eventName']}: not a new order, nothing to count")
            continue
        order = {k: deserialize(v) for k, v in record["dynamodb"]["NewImage"].items()}
        try:
            client.transact_write_items(
                TransactItems=[
                    {"Put": {
                        "TableName": PROCESSED_TABLE,
                        "Item": {"pk": record["eventID"], "order": order["pk"]},
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
            print(f"{order['pk']}: counted for {order['customer']}")
        except ClientError as error:
            reasons = error.response.get("CancellationReasons", [])
            if not reasons or reasons[0]["Code"] != "ConditionalCheckFailed":
                raise  # a real failure: let Lambda retry
            print(f"{order['pk']}: already counted, skipped")
        if order["pk"] == FAIL_ONCE_AFTER and order["pk"] not in failed:
            failed.add(order["pk"])
            raise RuntimeError(f"planned fault after counting {order['pk']}")

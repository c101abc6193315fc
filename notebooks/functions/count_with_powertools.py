import os

import boto3
from aws_lambda_powertools.utilities.batch import (
    BatchProcessor,
    EventType,
    process_partial_response,
)
from aws_lambda_powertools.utilities.data_classes.dynamo_db_stream_event import DynamoDBRecord
from aws_lambda_powertools.utilities.idempotency import (
    DynamoDBPersistenceLayer,
    IdempotencyConfig,
    idempotent_function,
)

processor = BatchProcessor(event_type=EventType.DynamoDBStreams)
persistence_layer = DynamoDBPersistenceLayer(table_name=os.environ["IDEMPOTENCY_TABLE"])
config = IdempotencyConfig(event_key_jmespath="eventID")  # one key per stream record
totals = boto3.resource("dynamodb").Table(os.environ["TOTALS_TABLE"])

# The lesson's planned fault: fail after the write for this order, the first time only.
FAIL_ONCE_AFTER = os.environ.get("FAIL_ONCE_AFTER")
failed = set()


@idempotent_function(
    data_keyword_argument="record", config=config, persistence_store=persistence_layer
)
def record_handler(record: DynamoDBRecord):
    if record.event_name.name != "INSERT":
        return None
    order = record.dynamodb.new_image  # already deserialized by Powertools
    totals.update_item(
        Key={"pk": order["customer"]},
        UpdateExpression="ADD order_count :one, revenue :total",
        ExpressionAttributeValues={":one": 1, ":total": order["total"]},
    )
    print(f"{order['pk']}: counted for {order['customer']}")
    if order["pk"] == FAIL_ONCE_AFTER and order["pk"] not in failed:
        failed.add(order["pk"])
        raise RuntimeError(f"planned fault after counting {order['pk']}")
    return order["pk"]


def handler(event, context):
    config.register_lambda_context(context)
    return process_partial_response(
        event=event, record_handler=record_handler, processor=processor, context=context
    )

import os

import boto3
from boto3.dynamodb.types import TypeDeserializer

# Module level: runs once per execution environment (a cold start); warm invocations reuse it.
deserialize = TypeDeserializer().deserialize
dynamodb = boto3.resource("dynamodb")
customers = dynamodb.Table(os.environ["CUSTOMERS_TABLE"])
orders_enriched = dynamodb.Table(os.environ["ORDERS_ENRICHED_TABLE"])
revenue_by_customer = dynamodb.Table(os.environ["REVENUE_BY_CUSTOMER_TABLE"])
# failures is the trigger's on-failure destination: Lambda writes there, this code does not


def image(record, which):
    return {k: deserialize(v) for k, v in record["dynamodb"].get(which, {}).items()}


def look_up(record):
    """The order's customer (None for a REMOVE); an unknown customer is poison: raise."""
    if record["eventName"] == "REMOVE":
        return None
    order = image(record, "NewImage")
    customer = customers.get_item(Key={"customer_id": order["customer_id"]}).get("Item")
    if customer is None:
        raise LookupError(f"{order['pk']}: unknown customer {order['customer_id']}")
    return customer


def count(customer_id, orders, revenue):
    revenue_by_customer.update_item(
        Key={"customer_id": customer_id},
        UpdateExpression="ADD orders :n, revenue :r",
        ExpressionAttributeValues={":n": orders, ":r": revenue},
    )


def apply(record, customer):
    old, new = image(record, "OldImage"), image(record, "NewImage")
    if record["eventName"] == "REMOVE":
        orders_enriched.delete_item(Key={"pk": old["pk"]})
        count(old["customer_id"], -1, -old["total"])
        print(f"REMOVE {old['pk']}: revenue -{old['total']}")
        return
    orders_enriched.put_item(Item={**new, "customer_name": customer["name"],
                                   "tier": customer["tier"]})
    if record["eventName"] == "INSERT":
        count(new["customer_id"], 1, new["total"])
        print(f"INSERT {new['pk']}: {customer['name']}, revenue +{new['total']}")
    else:  # MODIFY: the same order again, count only the difference
        count(new["customer_id"], 0, new["total"] - old["total"])
        print(f"MODIFY {new['pk']}: {customer['name']}, revenue +{new['total'] - old['total']}")


def handler(event, context):
    # 1. look up (enrich) every record of the batch; write nothing yet
    looked_up = [(record, look_up(record)) for record in event["Records"]]
    # 2. the whole batch is good: write
    for record, customer in looked_up:
        apply(record, customer)

import os
from decimal import Decimal

import boto3
from boto3.dynamodb.types import TypeDeserializer

# Module level: runs once per execution environment (a cold start), reused while it is warm.
dynamodb = boto3.resource("dynamodb")
summaries = dynamodb.Table(os.environ["SUMMARIES_TABLE"])
customers = dynamodb.Table(os.environ["CUSTOMERS_TABLE"])
deserialize = TypeDeserializer().deserialize
CENT = Decimal("0.01")


def image(record, which):
    return {k: deserialize(v) for k, v in record["dynamodb"][which].items()}


def handler(event, context):
    cache = {}  # customer id -> item (or None): one lookup per customer per invocation
    for record in event["Records"]:
        if record["eventName"] == "REMOVE":
            old = image(record, "OldImage")
            summaries.delete_item(Key={"customer": old["customer_id"], "order": old["pk"]})
            print(f"REMOVE {old['pk']}: deleted the summary of {old['customer_id']}")
            continue
        order = image(record, "NewImage")
        cid = order["customer_id"]
        if record["eventName"] == "MODIFY":
            old_cid = image(record, "OldImage")["customer_id"]
            if old_cid != cid:  # the target key changed: the old summary must go
                summaries.delete_item(Key={"customer": old_cid, "order": order["pk"]})
                print(f"MODIFY {order['pk']}: moved from {old_cid}, deleted its old summary")
        how = "cached"
        if cid not in cache:
            cache[cid] = customers.get_item(Key={"pk": cid}).get("Item")
            how = "looked up"
        customer = cache[cid] or {"name": "unknown", "tier": "none"}
        total = order["quantity"] * order["unit_price"]  # Decimal * Decimal: exact
        discount = Decimal("0.10") if customer["tier"] == "gold" else Decimal(0)
        summary = {
            "customer": cid,  # renamed, and now the partition key
            "order": order["pk"],  # renamed, and now the sort key
            "status": order["status"],
            "quantity": order["quantity"],
            "total": (total * (1 - discount)).quantize(CENT),
            "customer_name": customer["name"],
            "tier": customer["tier"],
        }
        summaries.put_item(Item=summary)
        print(f"{record['eventName']} {order['pk']}: {cid} {how}, total {summary['total']}")

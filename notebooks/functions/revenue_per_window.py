import os

import boto3
from boto3.dynamodb.types import TypeDeserializer

deserialize = TypeDeserializer().deserialize
window_revenue = boto3.resource("dynamodb").Table(os.environ["WINDOW_REVENUE_TABLE"])


def handler(event, context):
    state = dict(event["state"])  # what this window's previous invocation returned
    for record in event["Records"]:
        if record["eventName"] == "INSERT":  # sales are only ever inserted
            sale = {k: deserialize(v) for k, v in record["dynamodb"]["NewImage"].items()}
            # state travels as JSON: a Decimal would come back as a float, so keep plain ints
            state[sale["customer"]] = state.get(sale["customer"], 0) + int(sale["total"])
    if event["isFinalInvokeForWindow"]:
        for customer, revenue in state.items():
            start = event["window"]["start"]
            window_revenue.put_item(
                Item={"customer": customer, "window_start": start, "revenue": revenue}
            )
        print(f"final call: wrote {len(state)} window total(s)")
    else:
        print(f"{len(event['Records'])} record(s), state now {state}")
    return {"state": state}

import os

import boto3

shipments = boto3.resource("dynamodb").Table(os.environ["SHIPMENTS_TABLE"])


def handler(event, context):
    failed = []
    for shipment in event:  # what the enrichment returned
        if not shipment["city"]:
            print(f"{shipment['order']}: no address for {shipment['customer']}")
            failed.append({"itemIdentifier": shipment["eventID"]})
            continue
        item = {k: shipment[k] for k in ("order", "customer", "city")}
        shipments.put_item(Item={"pk": item.pop("order"), **item})
        print(f"{shipment['order']} ships to {shipment['city']}")
    return {"batchItemFailures": failed}

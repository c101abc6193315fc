import os

import boto3

customers = boto3.resource("dynamodb").Table(os.environ["CUSTOMERS_TABLE"])


def handler(event, context):
    shipments = []
    for record in event:  # a JSON array: the batch itself
        order = record["dynamodb"]["NewImage"]
        customer = customers.get_item(Key={"pk": order["customer"]["S"]}).get("Item", {})
        shipments.append(
            {
                "eventID": record["eventID"],  # the target reports failures by eventID
                "order": order["pk"]["S"],
                "customer": order["customer"]["S"],
                "city": customer.get("city"),
            }
        )
    print(f"enriched {len(shipments)} order(s)")
    return shipments

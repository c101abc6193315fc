from order_processing import process_record


def handler(event, context):
    failures = []
    for record in event["Records"]:
        try:
            process_record(record)
        except ValueError as error:
            print(f"{error}: reported")
            failures.append({"itemIdentifier": record["dynamodb"]["SequenceNumber"]})
    return {"batchItemFailures": failures}

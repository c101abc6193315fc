"""Lesson 14: ship new orders through a pipe to a queue (CreatePipe's parameters)."""

from __future__ import annotations

import json

EXERCISE = "14-ship-new-orders"
FAILING_CASE = "a new order is one message"

# An SQS target takes at most 10 records a batch ("Amazon DynamoDB stream as a source": "If, for
# example, the target is Amazon SQS, then the maximum value is 10"); a pipe's filter stays inside
# the dynamodb data field ("Amazon EventBridge Pipes filtering": eventName "can't be used in event
# patterns"); the template is applied to each record.
REFERENCE = {
    "SourceParameters": {
        "DynamoDBStreamParameters": {"StartingPosition": "TRIM_HORIZON", "BatchSize": 10},
        "FilterCriteria": {
            "Filters": [
                {
                    "Pattern": json.dumps(
                        {"dynamodb": {"OldImage": {"pk": {"S": [{"exists": False}]}}}}
                    )
                }
            ]
        },
    },
    "TargetParameters": {
        "InputTemplate": '{"order": <$.dynamodb.Keys.pk.S>, "total": <$.dynamodb.NewImage.total.N>}'
    },
}

# Another filter that keeps only INSERTs on this stream: NewImage present and OldImage absent.
ALSO_PASSES = [
    {
        **REFERENCE,
        "SourceParameters": {
            **REFERENCE["SourceParameters"],
            "FilterCriteria": {
                "Filters": [
                    {
                        "Pattern": json.dumps(
                            {
                                "dynamodb": {
                                    "NewImage": {"pk": {"S": [{"exists": True}]}},
                                    "OldImage": {"pk": {"S": [{"exists": False}]}},
                                }
                            }
                        )
                    }
                ]
            },
        },
    }
]

# The Lambda mapping's habit: an eventName filter, which a pipe refuses.
WRONG = {
    **REFERENCE,
    "SourceParameters": {
        **REFERENCE["SourceParameters"],
        "FilterCriteria": {"Filters": [{"Pattern": json.dumps({"eventName": ["INSERT"]})}]},
    },
}

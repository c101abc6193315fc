"""Lesson 04: deliver only new orders, not test orders (a filter_criteria)."""

from __future__ import annotations

import json

EXERCISE = "04-keep-new-orders"
FAILING_CASE = "an update to status new is not delivered"

REFERENCE = {
    "Filters": [
        {
            "Pattern": json.dumps(
                {
                    "eventName": ["INSERT"],
                    "dynamodb": {
                        "Keys": {"pk": {"S": [{"prefix": "order-"}]}},
                        "NewImage": {"status": {"S": ["new"]}},
                    },
                }
            )
        }
    ]
}

# Forgets eventName: the update that sets status to new (a MODIFY) passes too.
WRONG = {
    "Filters": [
        {
            "Pattern": json.dumps(
                {
                    "dynamodb": {
                        "Keys": {"pk": {"S": [{"prefix": "order-"}]}},
                        "NewImage": {"status": {"S": ["new"]}},
                    },
                }
            )
        }
    ]
}

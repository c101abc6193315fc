"""Lesson 11: a deploy-ready filter (FilterCriteria): paid orders and every deletion."""

from __future__ import annotations

import json

EXERCISE = "11-deploy-ready-filter"
FAILING_CASE = "a deletion is delivered"

_PAID = {"dynamodb": {"NewImage": {"status": {"S": ["paid"]}}}}

# Both filters inside the dynamodb key ("DynamoDB event source mappings only support filtering on
# the dynamodb key": Lambda DG, "Using event filtering with a DynamoDB event source",
# https://docs.aws.amazon.com/lambda/latest/dg/with-ddb-filtering.html): a REMOVE is the record
# with no NewImage.
REFERENCE = {
    "Filters": [
        {"Pattern": json.dumps(_PAID)},
        {"Pattern": json.dumps({"dynamodb": {"NewImage": {"pk": {"S": [{"exists": False}]}}}})},
    ]
}

# The top-level eventName form: the lab matches it and the check grades what is delivered.
ALSO_PASSES = [
    {
        "Filters": [
            {"Pattern": json.dumps(_PAID)},
            {"Pattern": json.dumps({"eventName": ["REMOVE"]})},
        ]
    }
]

WRONG = {"Filters": [{"Pattern": json.dumps(_PAID)}]}  # forgets that a REMOVE has no NewImage

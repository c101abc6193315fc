"""Lesson 11: a deploy-ready filter (FilterCriteria): paid orders and every deletion."""

from __future__ import annotations

import json

EXERCISE = "11-deploy-ready-filter"
FAILING_CASE = "a deletion is delivered"

_PAID = {"dynamodb": {"NewImage": {"status": {"S": ["paid"]}}}}

REFERENCE = {
    "Filters": [
        {"Pattern": json.dumps(_PAID)},
        {"Pattern": json.dumps({"eventName": ["REMOVE"]})},
    ]
}

WRONG = {"Filters": [{"Pattern": json.dumps(_PAID)}]}  # forgets that a REMOVE has no NewImage

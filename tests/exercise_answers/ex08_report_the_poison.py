"""Lesson 08: report the poison order, let the good ones through (a Lambda function's module with
ReportBatchItemFailures, its table named by ORDERS_PROCESSED_TABLE)."""

from __future__ import annotations

from pathlib import Path

EXERCISE = "08-report-the-poison"
FAILING_CASE = "the poison order is reported, the good ones get through"

# The lesson's own solution module, as its solution cell writes it and as deployed: one
# source of truth, so the reference checked here is the one the lesson runs.
REFERENCE = (
    Path(__file__).parents[2] / "notebooks" / "functions" / "report_poison_orders.py"
).read_text()

# Reports the eventID, as an SQS handler reports the messageId.
WRONG = REFERENCE.replace('record["dynamodb"]["SequenceNumber"]', 'record["eventID"]')
assert WRONG != REFERENCE

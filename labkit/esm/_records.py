"""A GetRecords record as the handler gets it: one shaping function for delivery and replay.

``shape`` is ``normalize_record(lambda_record(record, stream_arn))`` (``_events`` gives Lambda's
wire shape, ``_normalize`` corrects what DynamoDB Local gets wrong, with a note for each fix),
made cheap for the common case.
"""

from __future__ import annotations

import json
from typing import Any

from ._events import lambda_record
from ._normalize import RULES, normalize_record

__all__ = ["key_of", "shape"]


def shape(record: dict[str, Any], stream_arn: str) -> tuple[dict[str, Any], tuple[str, ...]]:
    """The record as Lambda delivers it, and the notes of any DynamoDB Local correction.

    ``lambda_record`` returns a new record that nothing else holds, and ``normalize_record``
    deep-copies its input before its rules correct the copy. When no rule finds a difference
    (nearly every record) that copy would be the record itself, unchanged and without notes,
    so it is skipped: the copy was most of the per-record cost (bench/overhead.py).
    """
    shaped = lambda_record(record, stream_arn)
    if all(rule.find(shaped) is None for rule in RULES):
        return shaped, ()
    return normalize_record(shaped)


def key_of(record: dict[str, Any]) -> str:
    """The item's key as text: the same for every record of one item."""
    return json.dumps(record["dynamodb"].get("Keys", {}), sort_keys=True)

"""Lambda's view of a stream: the records and event a DynamoDB Streams trigger delivers.

``lambda_event`` turns records from boto3's GetRecords into the JSON shape AWS Lambda hands a
function (``{"Records": [...]}`` with ``eventSourceARN`` added to each record,
``ApproximateCreationDateTime`` as epoch seconds and binary values base64-encoded, as in the raw
JSON), so a handler written here runs unchanged on AWS Lambda.

``ApproximateCreationDateTime`` is a JSON number with a fraction on AWS (``1733418659.0``), so a
Python handler gets a ``float``: recorded on AWS by LocalStack's AWS-validated
``test_dynamodb_event_filter`` (it asserts ``isinstance(creation_time, float)``), and written so
by Powertools' parser model ("AWS sends this as Unix epoch float", example ``1693997155.0``) and
by the Lambda guide's DynamoDB filtering example (``"1678831218.0"``). labkit delivers the same
float, whole seconds: a handler that copies it into an item with boto3 meets boto3's
``TypeError: Float types are not supported. Use Decimal types instead.`` here, as on AWS.
"""

from __future__ import annotations

import base64
import copy
import datetime as dt
from enum import StrEnum
from typing import Any

__all__ = ["EventName", "StreamViewType", "lambda_event", "lambda_record"]


class EventName(StrEnum):
    """The three kinds of stream record."""

    INSERT = "INSERT"
    MODIFY = "MODIFY"
    REMOVE = "REMOVE"


class StreamViewType(StrEnum):
    """What a stream record carries besides the keys."""

    KEYS_ONLY = "KEYS_ONLY"
    NEW_IMAGE = "NEW_IMAGE"
    OLD_IMAGE = "OLD_IMAGE"
    NEW_AND_OLD_IMAGES = "NEW_AND_OLD_IMAGES"


def _raw_value(value: dict[str, Any]) -> dict[str, Any]:
    """One attribute value back to its wire form (bytes become base64 text).

    DynamoDB Local sends an empty map as ``{}`` (no type); it is passed through here and given
    its ``M`` type by ``normalize_record``.
    """
    if not value:
        return {}
    ((kind, inner),) = value.items()
    if kind == "B" and isinstance(inner, bytes | bytearray):
        return {"B": base64.b64encode(inner).decode()}
    if kind == "BS":
        return {
            "BS": [
                base64.b64encode(b).decode() if isinstance(b, bytes | bytearray) else b
                for b in inner
            ]
        }
    if kind == "M":
        return {"M": {k: _raw_value(v) for k, v in inner.items()}}
    if kind == "L":
        return {"L": [_raw_value(v) for v in inner]}
    if isinstance(inner, list):  # SS/NS: a list of strings, not to be shared with the input
        return {kind: list(inner)}
    return {kind: inner}  # S, N, BOOL, NULL: immutable


def _raw_image(image: dict[str, Any]) -> dict[str, Any]:
    return {name: _raw_value(value) for name, value in image.items()}


def lambda_record(record: dict[str, Any], stream_arn: str) -> dict[str, Any]:
    """One GetRecords record as Lambda delivers it (a new dict; the input is not changed)."""
    out = {
        k: copy.deepcopy(v) if isinstance(v, dict | list) else v  # userIdentity is a dict
        for k, v in record.items()
        if k != "dynamodb"
    }
    ddb = dict(record["dynamodb"])
    created = ddb.get("ApproximateCreationDateTime")
    if isinstance(created, dt.datetime):
        ddb["ApproximateCreationDateTime"] = float(int(created.timestamp()))  # whole seconds
    elif isinstance(created, int | float) and not isinstance(created, bool):
        ddb["ApproximateCreationDateTime"] = float(created)  # a number: a float, as on AWS
    for image in ("Keys", "NewImage", "OldImage"):
        if image in ddb:
            ddb[image] = _raw_image(ddb[image])
    out["dynamodb"] = ddb
    out["eventSourceARN"] = stream_arn
    return out


def lambda_event(records: list[dict[str, Any]], stream_arn: str) -> dict[str, Any]:
    """The event for one invocation: ``{"Records": [...]}``.

    Introduced in notebooks/01-stream-processing-flow.ipynb.
    """
    return {"Records": [lambda_record(r, stream_arn) for r in records]}

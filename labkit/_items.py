"""Items as DynamoDB stores them: what a value may be, and the order of keys.

* ``check_items`` finds, before anything is written, a value boto3 or DynamoDB would refuse: a
  ``float`` (boto3: "Float types are not supported. Use Decimal types instead."), a ``Decimal``
  outside DynamoDB's number range or precision (boto3's ``DYNAMODB_CONTEXT`` traps them as a bare
  ``decimal.Overflow`` or ``decimal.Inexact``), or a type it has no DynamoDB type for. The error
  names the item, the attribute's path and the fix.
* ``item_key`` orders items by their key as DynamoDB compares keys: numbers as numbers (so 2
  before 10), strings as strings, binary as bytes (boto3's ``Binary`` has no order of its own,
  and ``str()`` of it fails).

Limits (Amazon DynamoDB Developer Guide, "Supported data types and naming rules", Number):
"Numbers can have up to 38 digits of precision ... Positive range: 1E-130 to
9.9999999999999999999999999999999999999E+125".

Engine module: no Jupyter imports.
"""

from __future__ import annotations

import decimal
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from boto3.dynamodb.types import Binary, TypeSerializer

from ._errors import InvalidItemError

__all__ = ["check_items", "item_key", "key_value"]

_SERIALIZER = TypeSerializer()
_RANGE = "a magnitude from 1E-130 to 9.9999999999999999999999999999999999999E+125, or 0"


def key_value(value: Any) -> Any:
    """A key attribute's value as DynamoDB orders it: binary as ``bytes``, others as they are
    (``Decimal`` numbers and ``str`` compare as DynamoDB compares them)."""
    if isinstance(value, Binary):
        return bytes(value.value)
    if isinstance(value, bytearray):
        return bytes(value)
    return value


def item_key(item: Mapping[str, Any], keys: Sequence[str]) -> tuple[Any, ...]:
    """The item's key values in key-schema order, hashable and sortable (see ``key_value``)."""
    return tuple(key_value(item.get(k)) for k in keys)


def _first_unstorable(value: Any, path: str) -> tuple[str, Any, Exception] | None:
    """The first value under ``path`` that boto3 cannot serialise, with its error."""
    if isinstance(value, Mapping):
        for name, inner in value.items():
            if found := _first_unstorable(inner, f"{path}.{name}"):
                return found
        return None
    if isinstance(value, list | tuple):
        for i, inner in enumerate(value):
            if found := _first_unstorable(inner, f"{path}[{i}]"):
                return found
        return None
    try:
        _SERIALIZER.serialize(value)
    except (TypeError, ValueError, decimal.DecimalException) as exc:
        return path, value, exc
    return None


def _refusal(where: str, path: str, value: Any, exc: Exception) -> InvalidItemError:
    shown = f"{path} = {value!r}"
    if isinstance(value, float):
        return InvalidItemError(
            f"{where} has {shown}, a float. DynamoDB numbers are exact decimals, and boto3 "
            'refuses floats ("Float types are not supported. Use Decimal types instead."). '
            "Nothing was written.",
            f"write Decimal({str(value)!r}) (from decimal import Decimal); for a computed "
            "float x, Decimal(str(x)).",
        )
    if isinstance(value, decimal.Decimal) and not value.is_finite():
        return InvalidItemError(
            f"{where} has {shown}: DynamoDB numbers are finite, so NaN and Infinity cannot be "
            "stored. Nothing was written.",
            "leave the attribute out, or store a marker such as the string 'NaN'.",
        )
    if isinstance(exc, decimal.Overflow | decimal.Underflow):
        return InvalidItemError(
            f"{where} has {shown}, outside the range of a DynamoDB number ({_RANGE}). "
            "Nothing was written.",
            "store it in other units (scaled into that range), or as a string.",
        )
    if isinstance(exc, decimal.DecimalException):
        return InvalidItemError(
            f"{where} has {shown}, which has more than the 38 significant digits a DynamoDB "
            "number holds. Nothing was written.",
            "round it first, e.g. value.quantize(Decimal('0.01')), or store it as a string.",
        )
    return InvalidItemError(
        f"{where} has {shown}, a {type(value).__name__}, which DynamoDB cannot store "
        f"(boto3: {exc}). Nothing was written.",
        "convert it to a str, Decimal, bool, bytes, list, dict or set (a datetime, for "
        "example, as value.isoformat()).",
    )


def check_items(items: Iterable[Mapping[str, Any]], call: str) -> None:
    """Raise ``InvalidItemError`` for the first value of ``items`` DynamoDB could not store;
    ``call`` names the call for the message (``"put_items('orders', ...)"``)."""
    for n, item in enumerate(items):
        for name, value in item.items():
            if found := _first_unstorable(value, name):
                raise _refusal(f"Item {n} of {call}", *found)

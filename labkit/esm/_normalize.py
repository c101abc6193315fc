"""DynamoDB Local's stream records, corrected to the shape AWS documents, never silently.

DynamoDB Local 3.3.1 writes a few stream records in a shape DynamoDB never sends. Each known
difference is one ``Rule`` in ``RULES``: how to recognise it in a Lambda-shaped record (the output
of ``_events.lambda_record``), the AWS page that documents the right shape, and how to correct it.
``normalize_record`` applies the table and returns, beside the corrected copy, one note per
difference it found, so a trigger can show the learner what was changed and why.

A difference is corrected only when the right value is certain from the record itself:

* a TTL deletion arrives as eventName ``UNKNOWN_TO_SDK_VERSION`` with no ``userIdentity``
  (AWS: a ``REMOVE`` with ``userIdentity`` ``{"type": "Service", "principalId":
  "dynamodb.amazonaws.com"}``);
* an empty map in an image arrives as ``{}``, an attribute value with no type (AWS: ``{"M": {}}``).

What cannot be corrected is left as DynamoDB Local sent it: ``ApproximateCreationDateTime``
rounded down to the minute (the true second is unknown), ``awsRegion`` ``ddblocal`` (the ARNs must
stay Local's), event ids and sequence numbers in Local's own format. An ``eventName`` that no rule
explains is passed on unchanged with a note saying so.

Documented in README.md, "Known differences between DynamoDB Local and DynamoDB".
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from ._events import EventName

__all__ = ["LOCAL_TTL_EVENT_NAME", "RULES", "TTL_USER_IDENTITY", "Rule", "normalize_record"]

Record = dict[str, Any]

# What DynamoDB Local 3.3.1 sends as the eventName of a TTL deletion (measured on the wire). It is
# the name the AWS SDK for Java gives a value missing from an enum, here presumably Local's own
# operation type for TTL deletions, which OperationType (INSERT | MODIFY | REMOVE) lacks.
LOCAL_TTL_EVENT_NAME = "UNKNOWN_TO_SDK_VERSION"
# The identity AWS puts on a record of an item deleted by Time to Live.
TTL_USER_IDENTITY = {"type": "Service", "principalId": "dynamodb.amazonaws.com"}
_IMAGES = ("NewImage", "OldImage")
_AWS_EVENT_NAMES = tuple(e.value for e in EventName)


@dataclass(frozen=True)
class Rule:
    """One way DynamoDB Local's records differ from AWS's.

    ``find`` says what DynamoDB Local sent (None when the record does not show the difference);
    ``fix`` corrects a copy of the record in place and says what it did, or is None when no
    faithful correction exists (the record is then passed on unchanged, with the note).
    """

    topic: str
    aws_reference: str
    find: Callable[[Record], str | None]
    fix: Callable[[Record], str] | None

    def apply(self, record: Record) -> str | None:
        found = self.find(record)
        if found is None:
            return None
        if self.fix is None:
            return f"{self.topic}: {found}; not normalised (no faithful correction), left as sent"
        return f"{self.topic}: {found}; {self.fix(record)}"


# -- TTL deletions -----------------------------------------------------------------------------
def _find_ttl_deletion(record: Record) -> str | None:
    if (
        record.get("eventName") == LOCAL_TTL_EVENT_NAME
        and "userIdentity" not in record
        and "NewImage" not in record.get("dynamodb", {})  # a deletion has no new image
    ):
        return f"DynamoDB Local sent eventName {LOCAL_TTL_EVENT_NAME!r} without userIdentity"
    return None


def _fix_ttl_deletion(record: Record) -> str:
    record["eventName"] = EventName.REMOVE.value
    record["userIdentity"] = dict(TTL_USER_IDENTITY)
    return (
        "normalised to REMOVE with userIdentity "
        f"{TTL_USER_IDENTITY['type']}/{TTL_USER_IDENTITY['principalId']}"
    )


# -- empty maps --------------------------------------------------------------------------------
Slot = tuple[str, Any, str | int]  # (path for the note, container, key in the container)


def _slots(value: Any, path: str, container: Any, key: str | int) -> Iterator[Slot]:
    """Every ``{}`` in one attribute value (itself included), depth first."""
    if value == {}:
        yield path, container, key
    elif isinstance(value, dict) and isinstance(value.get("M"), dict):
        for name, inner in value["M"].items():
            yield from _slots(inner, f"{path}.{name}", value["M"], name)
    elif isinstance(value, dict) and isinstance(value.get("L"), list):
        for i, inner in enumerate(value["L"]):
            yield from _slots(inner, f"{path}[{i}]", value["L"], i)


def _empty_maps(record: Record) -> list[Slot]:
    ddb = record.get("dynamodb") or {}
    return [
        slot
        for image in _IMAGES
        for name, value in (ddb.get(image) or {}).items()
        for slot in _slots(value, f"{image}.{name}", ddb[image], name)
    ]


def _has_empty(value: Any) -> bool:
    """Whether one attribute value holds a ``{}`` anywhere: ``_slots``'s answer without building
    paths, for the common case of a record that has none (it is checked for every record)."""
    if not isinstance(value, dict):
        return False
    if not value:
        return True
    inner = value.get("M")
    if isinstance(inner, dict):
        return any(_has_empty(item) for item in inner.values())
    inner = value.get("L")
    return isinstance(inner, list) and any(_has_empty(item) for item in inner)


def _find_empty_maps(record: Record) -> str | None:
    ddb = record.get("dynamodb") or {}
    if not any(_has_empty(v) for image in _IMAGES for v in (ddb.get(image) or {}).values()):
        return None
    paths = [path for path, _, _ in _empty_maps(record)]
    if not paths:
        return None
    return f"DynamoDB Local sent {{}} (a value with no type) at {', '.join(paths)}"


def _fix_empty_maps(record: Record) -> str:
    for _, container, key in _empty_maps(record):
        container[key] = {"M": {}}
    return 'normalised to {"M": {}}, the empty map it stands for'


# -- event names no rule explains --------------------------------------------------------------
def _find_unknown_event_name(record: Record) -> str | None:
    name = record.get("eventName")
    if name in _AWS_EVENT_NAMES:
        return None
    return f"eventName {name!r} is none of {', '.join(_AWS_EVENT_NAMES)}"


RULES: tuple[Rule, ...] = (
    Rule(
        topic="TTL deletion",
        aws_reference=(
            "Amazon DynamoDB Developer Guide, 'DynamoDB Streams and Time to Live' "
            "(time-to-live-ttl-streams.html); API Reference, DynamoDB Streams 'Record' "
            "(API_streams_Record.html): eventName REMOVE, userIdentity.type 'Service', "
            "userIdentity.principalId 'dynamodb.amazonaws.com'"
        ),
        find=_find_ttl_deletion,
        fix=_fix_ttl_deletion,
    ),
    Rule(
        topic="Empty map",
        aws_reference=(
            "Amazon DynamoDB API Reference, DynamoDB Streams 'AttributeValue' "
            "(API_streams_AttributeValue.html): every value names its type; an empty map is "
            '{"M": {}}'
        ),
        find=_find_empty_maps,
        fix=_fix_empty_maps,
    ),
    # Last, so that it sees the record after the rules above have corrected what they can.
    Rule(
        topic="Unknown event name",
        aws_reference=(
            "Amazon DynamoDB API Reference, DynamoDB Streams 'Record': eventName is INSERT, "
            "MODIFY or REMOVE"
        ),
        find=_find_unknown_event_name,
        fix=None,
    ),
)


def normalize_record(record: Record) -> tuple[Record, tuple[str, ...]]:
    """``record`` (one Lambda-shaped stream record) in the shape AWS documents, and what changed.

    Returns a new record (the input is not changed) and one human-readable note per difference
    found, each naming what DynamoDB Local sent and what labkit did about it; no notes means the
    record already had AWS's shape. Pure: no I/O, and the same input always gives the same output.

    Documented in README.md, "Known differences between DynamoDB Local and DynamoDB".
    """
    out = copy.deepcopy(record)
    notes = tuple(note for rule in RULES if (note := rule.apply(out)) is not None)
    return out, notes

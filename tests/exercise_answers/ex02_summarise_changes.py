"""Lesson 02: summarise a change in plain Python values (a transform)."""

from __future__ import annotations

from typing import Any

from boto3.dynamodb.types import TypeDeserializer

_des = TypeDeserializer()

EXERCISE = "02-summarise-changes"
FAILING_CASE = "an update reports only what changed"


def _python(image: dict[str, Any]) -> dict[str, Any]:
    return {k: _des.deserialize(v) for k, v in image.items()}


def REFERENCE(record: dict[str, Any]) -> dict[str, Any]:
    change = record["dynamodb"]
    old = _python(change.get("OldImage", {}))
    new = _python(change.get("NewImage", {}))
    names = (set(old) | set(new)) - {"pk"}
    changed = {n: new.get(n) for n in sorted(names) if old.get(n) != new.get(n)}
    pk = _des.deserialize(change["Keys"]["pk"])
    return {"pk": pk, "event": record["eventName"], "changed": changed}


def WRONG(record: dict[str, Any]) -> dict[str, Any]:  # reports the whole new item, changed or not
    change = record["dynamodb"]
    new = _python(change.get("NewImage", {}))
    old = _python(change.get("OldImage", {}))
    changed = {n: v for n, v in new.items() if n != "pk"}
    changed.update({n: None for n in old if n not in new and n != "pk"})
    pk = _des.deserialize(change["Keys"]["pk"])
    return {"pk": pk, "event": record["eventName"], "changed": changed}

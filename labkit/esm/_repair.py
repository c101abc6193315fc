"""Repair tools: deliver again what a failure document points at, or an invocation's batch.

Neither touches a checkpoint: a replay is a repair, not progress, and a redelivery is the
duplicate that at-least-once delivery allows.
"""

from __future__ import annotations

from typing import Any

from .._errors import TriggerError
from ._invocations import Discard, Invocation
from ._records import shape
from ._stream import StreamReader

__all__ = ["redelivery_event", "replay_event"]


def replay_event(
    reader: StreamReader, document: dict[str, Any] | Discard
) -> tuple[dict[str, Any], str]:
    """The event holding ``startSequenceNumber`` to ``endSequenceNumber`` of a failure document's
    shard (while the stream still has them), and that shard's id."""
    if isinstance(document, Discard):
        document = document.document
    try:
        info = (document.get("document") or document)["DDBStreamBatchInfo"]
        info["shardId"], info["startSequenceNumber"], info["endSequenceNumber"]
    except (AttributeError, KeyError, TypeError) as exc:
        raise TriggerError(
            f"replay() needs a failure document; {str(document)[:80]!r} has no "
            "DDBStreamBatchInfo with shardId, startSequenceNumber and endSequenceNumber.",
            "pass one of trigger.discards (or its .document), or an item of the failure table.",
            cause=exc,
        ) from exc
    records = reader.read_range(
        info["shardId"], info["startSequenceNumber"], info["endSequenceNumber"]
    )
    if not records:
        raise TriggerError(
            f"The records {info['startSequenceNumber']}..{info['endSequenceNumber']} are no "
            "longer in the stream.",
            "replay sooner: DynamoDB Streams keeps records for 24 hours.",
        )
    shaped = [shape(record, reader.stream_arn)[0] for record in records]
    return {"Records": shaped}, info["shardId"]


def redelivery_event(invocation: Invocation) -> dict[str, Any]:
    """The same event once more: same records, same sequence numbers."""
    if not isinstance(invocation, Invocation):
        raise TriggerError(
            f"redeliver() needs an Invocation, not {str(invocation)[:60]!r}.",
            "pass one of trigger.invocations (or what run_until_idle() returned).",
        )
    return {"Records": [dict(r) for r in invocation.event["Records"]]}

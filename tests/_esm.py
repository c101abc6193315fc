"""Helpers for the event-source-mapping tests (test_esm_*.py, test_powertools.py).

Each test writes items to a real table on the session's DynamoDB Local, waits (bounded) until a
separate ``StreamReader`` sees every record in the stream, and only then runs the trigger: so a
``run_until_idle()`` sees the whole input, and the test can compare what was delivered with what
the stream holds, per item key and in order (see ``_streamcheck``).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterator
from typing import Any

from _streamcheck import at_least, plain, read_until

import labkit

Record = dict[str, Any]
Handler = Callable[[dict[str, Any], Any], Any]


def trigger_factory(lab: labkit.Lab) -> Iterator[Callable[..., labkit.Trigger]]:
    """Body of a ``make_trigger`` fixture: ``lab.trigger(...)``, every trigger closed afterwards
    (so no background thread or lane pool outlives its test)."""
    made: list[labkit.Trigger] = []

    def make(*args: Any, **kwargs: Any) -> labkit.Trigger:
        trigger = lab.trigger(*args, **kwargs)
        made.append(trigger)
        return trigger

    yield make
    for trigger in made:
        trigger.close()


def put_items(table: Any, *pks: str, **attributes: Any) -> None:
    for pk in pks:
        table.put_item(Item={"pk": pk, **attributes})


def stream_records(lab: labkit.Lab, name: str, count: int) -> list[Record]:
    """The first ``count`` records of the table's stream, read by an independent consumer.

    Waits (bounded) until that many are readable, so that a trigger run afterwards sees them all.
    """
    reader = labkit.StreamReader(lab.streams, lab.stream_arn(name))
    records = read_until(reader, at_least(count))
    assert len(records) >= count, f"only {len(records)} of {count} records reached the stream"
    return records[:count]


def seq(record: Record) -> str:
    return str(record["dynamodb"]["SequenceNumber"])


def seqs(records: list[Record]) -> list[str]:
    return [seq(r) for r in records]


def pk(record: Record) -> str:
    keys = plain(record["dynamodb"]["Keys"])
    assert keys is not None
    return str(keys["pk"])


def pks(records: list[Record]) -> list[str]:
    return [pk(r) for r in records]


def ok_records(invocations: list[labkit.Invocation]) -> list[Record]:
    """The records of the invocations that succeeded, in invocation order."""
    return [r for inv in invocations if inv.ok for r in inv.records]


def created(record: Record) -> float:
    """ApproximateCreationDateTime as epoch seconds (Lambda-shaped or boto3-shaped record)."""
    value = record["dynamodb"]["ApproximateCreationDateTime"]
    return value.timestamp() if isinstance(value, dt.datetime) else float(value)


def iso_epoch(text: str) -> float:
    """``2020-07-30T17:00:00Z`` (the format of a window bound or a batch's arrival) as epoch."""
    return dt.datetime.strptime(text, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=dt.UTC).timestamp()


def iso(epoch: float) -> str:
    return dt.datetime.fromtimestamp(epoch, dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def names_option(message: str, option: str) -> bool:
    """Whether an error message names the option, as labkit spells it (``batch_size``) or as
    Lambda's API does (``BatchSize``)."""

    def squash(text: str) -> str:
        return text.replace("_", "").lower()

    return squash(option) in squash(message)

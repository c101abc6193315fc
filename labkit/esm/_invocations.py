"""What a trigger did: its invocations, the batches it gave up on, and the log of both.

``InvocationLog`` is the one place a trigger writes them (thread-safe: lanes invoke at once);
``rows()`` gives the log as plain rows, which ``trigger.log()`` hands to the presentation wing.
"""

from __future__ import annotations

import dataclasses
import threading
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

__all__ = ["LOG_COLUMNS", "Discard", "Invocation", "InvocationLog", "Outcome"]

LOG_COLUMNS = [
    "Invocation",
    "Shard",
    "Records",
    "Sequence range",
    "Attempt",
    "Outcome",
    "Duration (ms)",
    "Notes",
]


class Outcome(StrEnum):
    """How an invocation ended, as the invocation log shows it."""

    SUCCESS = "success"
    ERROR = "error"
    PARTIAL_FAILURE = "partial failure"


_PLATFORM = ("START RequestId: ", "END RequestId: ", "REPORT RequestId: ")


def _is_platform_line(line: str, request_id: str) -> bool:
    if line.startswith(_PLATFORM):
        return True
    stamp, _, rest = line.partition(" ")  # "<time> <request id> Task timed out after ..."
    return stamp.endswith("Z") and rest.startswith(f"{request_id} ")


@dataclass(frozen=True)
class Invocation:
    """One call of the handler: the event it got, what it returned or raised, and its log.

    Introduced in notebooks/01-stream-processing-flow.ipynb.
    """

    number: int
    shard_id: str
    event: dict[str, Any]
    request_id: str
    result: Any = None
    error: str | None = None
    logs: tuple[str, ...] = ()
    duration_ms: float = 0.0
    attempt: int = 1
    outcome: Outcome = Outcome.SUCCESS
    notes: tuple[str, ...] = ()
    lane: int = 0
    function_name: str = ""
    # Lambda's FunctionError for this call: "Unhandled" when the function raised, timed out or
    # could not run or answer; None when it returned (even a response the mapping then rejects).
    function_error: str | None = None
    # Which batch of its lane this was (1, 2, ...: retries keep the number) and which bisect
    # half ((1,) the first half, (1, 2) that half's second half; () the whole batch). A repair,
    # outside any batch, has batch 0 and ``repair`` "replay" or "redelivered".
    batch: int = 0
    bisect: tuple[int, ...] = ()
    repair: str | None = None
    # For the metrics (``_metrics``): when the mapping sent the event and when the call ended,
    # on the trigger's clock, and the IteratorAge of the batch then (None: no record in it).
    started: float = 0.0
    ended: float = 0.0
    iterator_age_ms: float | None = None

    @property
    def ok(self) -> bool:
        return self.outcome is Outcome.SUCCESS

    @property
    def records(self) -> list[dict[str, Any]]:
        return list(self.event["Records"])

    @property
    def output(self) -> tuple[str, ...]:
        """What the function itself wrote (its module-level code on a cold start, then the
        handler): ``logs`` without the runtime's own lines (``START``, ``END`` and
        ``REPORT RequestId``, and its timeout or error line)."""
        return tuple(line for line in self.logs if not _is_platform_line(line, self.request_id))

    @property
    def event_names(self) -> list[str]:
        return [r["eventName"] for r in self.event["Records"]]

    @property
    def sequence_numbers(self) -> list[str]:
        # a DynamoDB stream record, or a Kinesis record (``_kinesis``)
        return [
            r["kinesis"]["sequenceNumber"] if "kinesis" in r else r["dynamodb"]["SequenceNumber"]
            for r in self.event["Records"]
        ]

    def __repr__(self) -> str:
        outcome = "ok" if self.ok else f"{self.outcome.value}: {self.error!r}"
        return (
            f"Invocation(#{self.number}, {len(self.records)} record(s) "
            f"{self.event_names}, {outcome}, logs={list(self.output)})"
        )


@dataclass(frozen=True)
class Discard:
    """Records given up on (retries or record age ran out), and the failure document for them.

    ``document`` has the shape AWS sends to an SQS or SNS on-failure destination.

    Introduced in notebooks/08-when-processing-fails.ipynb.
    """

    shard_id: str
    condition: str  # "RetryAttemptsExhausted" or "RecordAgeExceeded"
    sequence_numbers: tuple[str, ...]
    document: dict[str, Any]
    destination: str | None
    lane: int = 0
    batch: int = 0  # the lane's batch the records were in (see ``Invocation.batch``)
    bisect: tuple[int, ...] = ()
    records: tuple[dict[str, Any], ...] = ()  # as the function would have got them
    at: float = 0.0  # when the records were given up on, on the trigger's clock


def _row(entry: Invocation | Discard) -> dict[str, Any]:
    if isinstance(entry, Invocation):
        seqs = entry.sequence_numbers
        return {
            "Invocation": entry.number,
            "Shard": entry.shard_id[-8:],
            "Records": len(seqs),
            "Sequence range": f"{seqs[0]}..{seqs[-1]}" if seqs else "(final window call)",
            "Attempt": entry.attempt,
            "Outcome": entry.outcome.value,
            "Duration (ms)": round(entry.duration_ms, 1),
            "Notes": "; ".join((*entry.notes, *([entry.error] if entry.error else []))),
        }
    seqs = list(entry.sequence_numbers)
    where = f"sent to {entry.destination}" if entry.destination else "dropped"
    return {
        "Invocation": "",
        "Shard": entry.shard_id[-8:],
        "Records": len(seqs),
        "Sequence range": f"{seqs[0]}..{seqs[-1]}",
        "Attempt": "",
        "Outcome": f"discarded ({entry.condition}), {where}",
        "Duration (ms)": "",
        "Notes": "",
    }


class InvocationLog:
    """A trigger's invocations and discards, numbered and in the order they happened."""

    def __init__(self) -> None:
        self.invocations: list[Invocation] = []
        self.discards: list[Discard] = []
        self.entries: list[Invocation | Discard] = []
        self._lock = threading.Lock()

    def add(self, **fields: Any) -> Invocation:
        """Record an invocation (numbered here, in the order invocations end); ``fields`` are
        Invocation's (``response`` stands for its request_id, result, logs and duration_ms)."""
        response = fields.pop("response", None)
        if response is not None:
            fields.setdefault("request_id", response.request_id)
            fields.setdefault("result", response.result)
            fields.setdefault("logs", response.logs)
            fields.setdefault("duration_ms", response.duration_ms)
            fields.setdefault("function_error", None if response.error is None else "Unhandled")
        with self._lock:
            invocation = Invocation(number=len(self.invocations) + 1, **fields)
            self.invocations.append(invocation)
            self.entries.append(invocation)
        return invocation

    def add_discard(self, discard: Discard) -> None:
        with self._lock:
            self.discards.append(discard)
            self.entries.append(discard)

    def note(self, invocation: Invocation, note: str) -> Invocation:
        """Add a note to an invocation already in the log; returns the amended invocation."""
        amended = dataclasses.replace(invocation, notes=(*invocation.notes, note))
        with self._lock:
            self.invocations[invocation.number - 1] = amended
            self.entries[self.entries.index(invocation)] = amended
        return amended

    def snapshot(self) -> tuple[list[Invocation], list[Discard]]:
        """The invocations and discards so far (copies, taken at once)."""
        with self._lock:
            return list(self.invocations), list(self.discards)

    def rows(self) -> list[dict[str, Any]]:
        """One row per invocation or discarded batch, in the order they happened."""
        with self._lock:
            entries = list(self.entries)
        return [_row(entry) for entry in entries]

"""Batches: the records of one shard waiting on lanes, and how a lane makes its next batch.

A shard's records are spread over ``parallelization_factor`` lanes (one item key always on the
same lane, so per-item order holds); each lane makes batches of at most ``batch_size`` records,
waits up to ``maximum_batching_window_in_seconds`` for a fuller batch when polling live, and never
lets a batch span two tumbling windows. Tumbling windows ("Implementing stateful DynamoDB stream
processing in Lambda"): a window starts at a multiple of its size, the handler's ``state`` is kept
per lane between the window's invocations, and the window ends with a final call without records.
"""

from __future__ import annotations

import json
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from ._failures import iso_utc
from ._options import TriggerConfig
from ._records import shape
from ._runtime import PAYLOAD_LIMIT, json_default
from ._stream import ShardState

__all__ = ["MAX_STATE_BYTES", "Batch", "Entry", "Lane", "ShardWork"]

_ENVELOPE = 1024  # the event's own keys besides its records (window, state, ...), at most
# "The state ... cannot exceed 1 MB per shard"; beyond it AWS ends the window early.
MAX_STATE_BYTES = 1024 * 1024


@dataclass
class Entry:
    """A record read from the shard, waiting to be delivered, with its completion flag."""

    record: dict[str, Any]  # Lambda-shaped, normalised
    sequence_number: str
    read_at: float
    created: float
    done: bool = False
    notes: tuple[str, ...] = ()
    raw: dict[str, Any] | None = None  # as GetRecords gave it: a fresh copy for each attempt
    delivered: bool = False
    _size: int | None = None
    order: int = 0  # when its GetRecords returned (``_loops.READ_ORDER``)
    arrived: float = 0.0  # when it reached the stream, as IteratorAge counts (``_metrics``)
    # how a raw record becomes the delivered one (the reader's: ``StreamReader.shape``)
    shaper: Callable[[dict[str, Any], str], tuple[dict[str, Any], tuple[str, ...]]] = shape

    def for_delivery(self, stream_arn: str) -> dict[str, Any]:
        """The record for an attempt. Lambda serialises a new event for every attempt, so a
        handler that changed its event last time gets the record as the stream has it."""
        if self.delivered and self.raw is not None:
            self.record = self.shaper(self.raw, stream_arn)[0]
        self.delivered = True
        return self.record

    def size_bound(self) -> int:
        """Bytes this record can take in the event's JSON, at most (cheap: from SizeBytes)."""
        size = self.record.get("dynamodb", {}).get("SizeBytes")
        return 12 * int(size) + 2048 if isinstance(size, int) else PAYLOAD_LIMIT

    def size(self) -> int:
        """Bytes this record takes in the event's JSON (measured once)."""
        if self._size is None:
            self._size = len(json.dumps(self.record, default=json_default).encode())
        return self._size


@dataclass
class Batch:
    entries: list[Entry]
    failures: int = 0  # failed invocations of these records (bisect halves inherit it)
    window_start: float | None = None
    final: bool = False  # the tumbling window's final invocation (no records)
    lane: int = 0
    number: int = 0  # the lane's 1st, 2nd, ... batch (its retries and halves keep it)
    part: tuple[int, ...] = ()  # which bisect half: (2,) the second, (2, 1) its first, ...

    @property
    def sequence_numbers(self) -> list[str]:
        return [e.sequence_number for e in self.entries]

    def place(self) -> dict[str, Any]:
        """Where the batch stands, as an invocation or a discard records it."""
        return {"lane": self.lane, "batch": self.number, "bisect": self.part}

    def _like(self, entries: list[Entry], part: tuple[int, ...]) -> Batch:
        return Batch(entries, self.failures, self.window_start, False, self.lane, self.number, part)

    def take_expired(self, now: float, limit: int) -> Batch | None:
        """Remove the leading records older than ``limit`` seconds (-1: no limit), as a batch."""
        if limit == -1:
            return None
        old = 0
        while old < len(self.entries) and now - self.entries[old].created > limit:
            old += 1
        if not old:
            return None
        expired = self._like(self.entries[:old], self.part)
        self.entries = self.entries[old:]
        return expired

    def split(self) -> list[Batch]:
        """The two halves of a bisected batch, first half first."""
        half = len(self.entries) // 2
        return [
            self._like(self.entries[:half], (*self.part, 1)),
            self._like(self.entries[half:], (*self.part, 2)),
        ]


def window_of(created: float, size: int) -> float | None:
    """The start of the tumbling window a record created at ``created`` belongs to."""
    return None if not size else created - created % size


@dataclass
class Lane:
    number: int
    queue: deque[Entry] = field(default_factory=deque)
    pending: deque[Batch] = field(default_factory=deque)
    blocked: bool = False
    window_start: float | None = None
    state: dict[str, Any] = field(default_factory=dict)
    terminated_early: bool = False
    batches: int = 0  # batches made so far: numbers them

    def _new(self, entries: list[Entry], window_start: float | None, final: bool = False) -> Batch:
        self.batches += 1
        batch = Batch(entries, 0, window_start, final, self.number, self.batches)
        self.pending.append(batch)
        return batch

    def next_batch(self, config: TriggerConfig, now: float, *, live: bool) -> Batch | None:
        """The batch to invoke next (a pending one first), or None when there is nothing yet."""
        if self.pending:
            return self.pending[0]
        size = config.tumbling_window_in_seconds
        if size and self.window_start is not None:
            window_over = now >= self.window_start + size
            next_window = self.queue and window_of(self.queue[0].created, size) != self.window_start
            if window_over or next_window:
                return self._new([], self.window_start, final=True)
        if not self.queue:
            return None
        if live and len(self.queue) < config.batch_size:
            waited = now - self.queue[0].read_at
            if waited < config.maximum_batching_window_in_seconds:
                return None  # keep gathering, as the batching window asks
        window = window_of(self.queue[0].created, size)
        entries: list[Entry] = []
        bound = exact = _ENVELOPE
        while self.queue and len(entries) < config.batch_size:
            entry = self.queue[0]
            if window is not None and window_of(entry.created, size) != window:
                break  # a batch never spans two tumbling windows
            bound += entry.size_bound()
            if bound > PAYLOAD_LIMIT:  # near the limit: measure ("the batch shrinks to fit")
                exact += entry.size()
                if entries and exact > PAYLOAD_LIMIT:
                    break
            else:
                exact += entry.size_bound()
            entries.append(self.queue.popleft())
        return self._new(entries, window)

    def event(self, batch: Batch, config: TriggerConfig, shard_id: str, stream_arn: str) -> dict:
        """The event for ``batch``: its records, and with a tumbling window the window fields."""
        event: dict[str, Any] = {"Records": [e.for_delivery(stream_arn) for e in batch.entries]}
        size = config.tumbling_window_in_seconds
        if size and batch.window_start is not None:
            if self.window_start != batch.window_start:
                self.window_start, self.state = batch.window_start, {}
            event.update(
                {
                    "window": {
                        "start": iso_utc(batch.window_start),
                        "end": iso_utc(batch.window_start + size),
                    },
                    "state": json.loads(json.dumps(self.state, default=json_default)),
                    "shardId": shard_id,
                    "eventSourceARN": stream_arn,
                    "isFinalInvokeForWindow": batch.final,
                    "isWindowTerminatedEarly": self.terminated_early,
                }
            )
        return event

    def keep_state(self, batch: Batch, result: Any) -> None:
        """After a successful call in a tumbling window: keep the state it returned."""
        self.terminated_early = False
        if batch.final:
            self.window_start, self.state = None, {}
            return
        state = result.get("state", {}) if isinstance(result, dict) else {}
        if len(json.dumps(state, default=json_default).encode()) > MAX_STATE_BYTES:
            self.state, self.terminated_early = {}, True  # AWS ends the window early
        else:
            self.state = state


@dataclass
class ShardWork:
    """One shard's records between reading and checkpointing, and its lanes."""

    shard: ShardState
    entries: deque[Entry] = field(default_factory=deque)  # in stream order, until committed
    lanes: list[Lane] = field(default_factory=list)
    exhausted: bool = False  # the shard has no more records for now
    # Records read from the shard that no lane could take yet, in stream order, and the
    # reader's notices (trimmed records) that go on the first of them.
    buffer: deque[dict[str, Any]] = field(default_factory=deque)
    notices: tuple[str, ...] = ()
    read_order: int = 0  # when the read that filled the buffer returned (``_loops``)
    read_at: float = 0.0  # the wall-clock time of that read (``_metrics.arrival``)

    @property
    def busy(self) -> bool:
        """Records or window state still waiting on this shard."""
        return bool(
            self.entries
            or self.buffer
            or any(lane.pending or lane.window_start is not None for lane in self.lanes)
        )

    def done_prefix(self) -> str | None:
        """Drop the finished records at the front; the last one's sequence number, or None."""
        last = None
        while self.entries and self.entries[0].done:
            last = self.entries.popleft().sequence_number
        return last

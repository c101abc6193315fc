"""The trigger: labkit's event source mapping from a table's stream to a Python handler.

It does what Lambda's event source mapping for DynamoDB Streams does, as the AWS documentation
describes it ("Using AWS Lambda with Amazon DynamoDB", "Lambda parameters for Amazon DynamoDB
event source mappings", "Retaining discarded records", "Configuring partial batch response",
"Implementing stateful DynamoDB stream processing"):

* it reads every shard, parents before children, and batches records per shard (a batch never
  mixes shards), at most ``batch_size`` records, in order;
* records a filter rejects are never delivered, and are checkpointed all the same;
* the handler gets ``(event, context)`` with the event Lambda builds; the checkpoint moves only
  when the handler has returned successfully (at-least-once);
* a failed batch is retried (``maximum_retry_attempts``, ``maximum_record_age_in_seconds``),
  split in two first if ``bisect_batch_on_function_error`` (splitting uses up no retry), and
  when retries or age run out it is dropped, with a failure document sent to the on-failure
  destination if there is one; without limits the shard blocks until the handler succeeds;
* with ``ReportBatchItemFailures`` the handler's ``batchItemFailures`` move the checkpoint to
  just before the lowest failed sequence number, and the rest is retried;
* with ``tumbling_window_in_seconds`` the handler gets ``window`` and ``state`` and a final
  invocation per window;
* with ``parallelization_factor`` up to that many batches of one shard run at once, records of
  one item key always on the same lane, in order.

``run_until_idle()`` does all of that deterministically, for lessons and tests; ``start()`` and
``stop()`` run it in a background thread.
"""

from __future__ import annotations

import dataclasses
import decimal
import inspect
import json
import threading
import time
import traceback
import zlib
from collections import deque
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from ._capture import captured_output
from ._checkpoints import CheckpointStore, MemoryCheckpoints
from ._display import LabTable
from ._errors import TriggerError
from ._events import LambdaContext, lambda_record
from ._failures import failure_document, iso_utc, store_failure_document
from ._invocations import Discard, Invocation, Outcome, invocation_log
from ._normalize import RULES, normalize_record
from ._options import TriggerConfig
from ._progress import Progress
from ._stream import ShardState, StreamReader

__all__ = ["Discard", "Invocation", "Outcome", "Trigger"]

Handler = Callable[[dict[str, Any], LambdaContext], Any]
_MAX_STATE_BYTES = 1024 * 1024  # tumbling-window state per shard, as on AWS
# How often the shard list is read again (DescribeStream) while a trigger runs. Shards come and
# go over hours, and a shard read to its end makes the next pass look again at once, so a
# DescribeStream on every poll (hundreds a second in live mode) buys nothing.
_REFRESH_EVERY_S = 1.0
_READ_LIMIT = 1000  # records a GetRecords call asks for: the API's ceiling
# An idle live poller waits this fraction of the time since records last came (at least 1 ms,
# at most ``idle_sleep``): records come in bursts, so soon after one it polls often and a record
# waits a few ms; after half a second of quiet (with idle_sleep=0.05) it is at idle_sleep.
_IDLE_PAUSE_FRACTION = 0.1
# run_until_idle shows a progress bar only past this many records (and two seconds).
_PROGRESS_MIN_RECORDS = 1000


@dataclass
class _Entry:
    """A record read from the shard, waiting to be delivered, with its completion flag."""

    record: dict[str, Any]  # Lambda-shaped, normalised
    sequence_number: str
    read_at: float
    created: float
    done: bool = False
    notes: tuple[str, ...] = ()


@dataclass
class _Batch:
    entries: list[_Entry]
    failures: int = 0  # failed invocations of these records (bisect halves inherit it)
    window_start: float | None = None
    final: bool = False  # the tumbling window's final invocation (no records)


@dataclass
class _Lane:
    number: int
    queue: deque[_Entry] = field(default_factory=deque)
    pending: deque[_Batch] = field(default_factory=deque)
    blocked: bool = False
    window_start: float | None = None
    state: dict[str, Any] = field(default_factory=dict)
    terminated_early: bool = False


@dataclass
class _ShardWork:
    shard: ShardState
    entries: deque[_Entry] = field(default_factory=deque)  # in stream order, until committed
    lanes: list[_Lane] = field(default_factory=list)
    exhausted: bool = False  # the shard has no more records for now
    # Records read from the shard that no lane could take yet, in stream order, and the
    # reader's notices (trimmed records) that go on the first of them.
    buffer: deque[dict[str, Any]] = field(default_factory=deque)
    notices: tuple[str, ...] = ()


def _key_of(record: dict[str, Any]) -> str:
    return json.dumps(record["dynamodb"].get("Keys", {}), sort_keys=True)


def _shape(record: dict[str, Any], stream_arn: str) -> tuple[dict[str, Any], tuple[str, ...]]:
    """A GetRecords record as the handler gets it: ``normalize_record(lambda_record(...))``.

    ``lambda_record`` returns a new record that nothing else holds, and ``normalize_record``
    deep-copies its input before its rules correct the copy. When no rule finds a difference
    (nearly every record) that copy would be the record itself, unchanged and without notes,
    so it is skipped: the copy was most of the per-record cost (bench/overhead.py).
    """
    shaped = lambda_record(record, stream_arn)
    if all(rule.find(shaped) is None for rule in RULES):
        return shaped, ()
    return normalize_record(shaped)


class _Unmarshallable(Exception):
    """The handler returned something Lambda could not turn into JSON."""


def _json_default(value: Any) -> Any:
    if isinstance(value, decimal.Decimal):  # Lambda's runtime writes Decimals as numbers
        return int(value) if value == value.to_integral_value() else float(value)
    raise TypeError(f"Object of type {type(value).__name__} is not JSON serializable")


def _marshal(result: Any) -> None:
    """Fail as Lambda's runtime does when the response cannot be serialised to JSON."""
    if inspect.iscoroutine(result) or inspect.isgenerator(result):
        result.close()
        raise _Unmarshallable(f"the handler returned a {type(result).__name__}: its body never ran")
    try:
        json.dumps(result, default=_json_default)
    except (TypeError, ValueError) as exc:
        raise _Unmarshallable(f"Unable to marshal response: {exc}") from exc


class Trigger:
    """A handler attached to a table's stream, with every event-source-mapping option.

    Made by ``lab.trigger(...)``. ``run_until_idle()`` delivers what is waiting; ``start()`` /
    ``stop()`` poll in the background; ``log()`` is the invocation log as a table;
    ``esm_config()`` gives the same mapping for boto3's ``create_event_source_mapping``.

    Introduced in notebooks/01-stream-processing-flow.ipynb.
    """

    def __init__(
        self,
        table_name: str,
        stream_arn: str,
        handler: Handler,
        config: TriggerConfig,
        *,
        streams: Any,
        region: str = "us-east-1",
        destination: Any = None,
        checkpoints: CheckpointStore | None = None,
        clock: Callable[[], float] = time.time,
        function_name: str | None = None,
    ) -> None:
        if not callable(handler):
            raise TriggerError(
                f"The handler for {table_name!r} is {handler!r}, which cannot be called.",
                "pass a function taking (event, context), like a Lambda handler.",
            )
        if inspect.iscoroutinefunction(handler) or inspect.isgeneratorfunction(handler):
            kind = "an async function" if inspect.iscoroutinefunction(handler) else "a generator"
            raise TriggerError(
                f"The handler {getattr(handler, '__name__', handler)!r} is {kind}: calling it "
                "would not run its body, so no record would really be processed.",
                "write the handler as a plain `def handler(event, context):` that returns its "
                "response, as Lambda's Python runtime expects.",
            )
        self.table_name = table_name
        self.stream_arn = stream_arn
        self.handler = handler
        self.config = config
        self.streams = streams
        self.region = region
        self.function_name: str = str(function_name or getattr(handler, "__name__", "handler"))
        self.destination = destination  # boto3 Table of the on-failure destination, or None
        self.checkpoints: CheckpointStore = checkpoints or MemoryCheckpoints()
        self.clock = clock
        self.invocations: list[Invocation] = []
        self.discards: list[Discard] = []
        self.poller_errors: list[str] = []  # what went wrong in background polling
        self.closed = False
        self._log: list[Invocation | Discard] = []
        self._lock = threading.RLock()
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()
        self._pool: ThreadPoolExecutor | None = None
        self._work: dict[str, _ShardWork] = {}
        self._refresh_due = True  # read the shard list on the next pass
        self._refreshed_at = 0.0  # time.monotonic() of the last shard-list read
        self._reader = StreamReader(
            streams, stream_arn, config.starting_position, checkpoints=self.checkpoints
        )

    # -- presentation ---------------------------------------------------------------------
    def __repr__(self) -> str:
        state = "closed" if self.closed else "running" if self.running else "open"
        return (
            f"<Trigger {state}: {self.table_name} stream -> {self.function_name}, "
            f"batch_size={self.config.batch_size}, "
            f"starting_position={self.config.starting_position!r}, "
            f"{len(self.invocations)} invocation(s) so far"
            + (
                f", {len(self.poller_errors)} poller error(s): see trigger.poller_errors"
                if self.poller_errors
                else ""
            )
            + ">"
        )

    @property
    def reader(self) -> StreamReader:
        return self._reader

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def log(self) -> LabTable:
        """The invocation log: one row per invocation or discarded batch, in order.

        Introduced in notebooks/08-when-processing-fails.ipynb.
        """
        return invocation_log(list(self._log))

    def esm_config(
        self, function_name: str | None = None, *, destination_arn: str | None = None
    ) -> dict[str, Any]:
        """Keyword arguments for boto3's ``lambda.create_event_source_mapping`` that set up
        this trigger on AWS (pass the real stream ARN there if the table lives on AWS).

        Introduced in notebooks/11-from-the-lab-to-aws.ipynb.
        """
        return self.config.esm_kwargs(
            stream_arn=self.stream_arn,
            function_name=function_name or self.function_name,
            destination_arn=destination_arn,
        )

    # -- reading --------------------------------------------------------------------------
    def _shard_work(self, shard: ShardState) -> _ShardWork:
        work = self._work.get(shard.shard_id)
        if work is None:
            lanes = [_Lane(i) for i in range(self.config.parallelization_factor)]
            work = self._work[shard.shard_id] = _ShardWork(shard, lanes=lanes)
        return work

    def _fill(self, work: _ShardWork, *, live: bool = False) -> bool:
        """Read records into the shard's lanes until each could make a full batch.

        Each GetRecords asks for as many records as the API allows; what the lanes cannot take
        yet waits in ``work.buffer`` and is handed out just as a read of the missing number of
        records would have been, so the batches are the same, for a fraction of the calls. In
        live mode a read that returns fewer records than it asked for has caught up with the
        shard, so the pass goes on to invoke without asking again first.
        """
        wanted = self.config.batch_size * self.config.parallelization_factor
        queued = sum(len(lane.queue) for lane in work.lanes)
        progressed = False
        caught_up = False
        while queued < wanted:
            if not work.buffer:
                if work.shard.ended:
                    # Read to its end already: what it held is in the lanes or committed.
                    # Reading it again (from the checkpoint) would queue a waiting batch twice.
                    work.exhausted = True
                    break
                raw = self._reader.read(work.shard, _READ_LIMIT)
                if not raw:
                    work.exhausted = True
                    break
                work.buffer.extend(raw)
                work.notices = (*work.notices, *self._reader.notices)
                self._reader.notices[:] = []
                caught_up = len(raw) < _READ_LIMIT
            now = self.clock()
            for _ in range(min(wanted - queued, len(work.buffer))):
                rec = work.buffer.popleft()
                shaped, notes = _shape(rec, self.stream_arn)
                notes, work.notices = (*work.notices, *notes), ()  # a trim notice: next record
                created = float(shaped["dynamodb"].get("ApproximateCreationDateTime", now))
                entry = _Entry(
                    shaped,
                    shaped["dynamodb"]["SequenceNumber"],
                    now,
                    created,
                    notes=notes,
                )
                work.entries.append(entry)
                filters = self.config.filters
                if filters is not None and not filters.matches(shaped):
                    entry.done = True  # never delivered, checkpointed all the same
                    progressed = True
                    continue
                lane = work.lanes[0]  # one item key always on one lane
                if len(work.lanes) > 1:
                    lane = work.lanes[zlib.crc32(_key_of(shaped).encode()) % len(work.lanes)]
                lane.queue.append(entry)
                queued += 1
            if not work.buffer and (work.shard.iterator is None or (live and caught_up)):
                break
        self._commit(work)
        return progressed

    def _commit(self, work: _ShardWork) -> None:
        """Checkpoint after the longest run of finished records at the front of the shard."""
        with self._lock:
            last = None
            while work.entries and work.entries[0].done:
                last = work.entries.popleft().sequence_number
            if last is not None:
                self._reader.commit(work.shard, last)

    # -- batches --------------------------------------------------------------------------
    def _window_of(self, entry: _Entry) -> float | None:
        size = self.config.tumbling_window_in_seconds
        return None if not size else entry.created - entry.created % size

    def _next_batch(self, lane: _Lane, *, live: bool) -> _Batch | None:
        if lane.pending:
            return lane.pending[0]
        size = self.config.tumbling_window_in_seconds
        if size and lane.window_start is not None:
            window_over = self.clock() >= lane.window_start + size
            next_window = lane.queue and self._window_of(lane.queue[0]) != lane.window_start
            if window_over or next_window:
                batch = _Batch([], window_start=lane.window_start, final=True)
                lane.pending.append(batch)
                return batch
        if not lane.queue:
            return None
        if live and len(lane.queue) < self.config.batch_size:
            waited = self.clock() - lane.queue[0].read_at
            if waited < self.config.maximum_batching_window_in_seconds:
                return None  # keep gathering, as the batching window asks
        window = self._window_of(lane.queue[0])
        entries: list[_Entry] = []
        while lane.queue and len(entries) < self.config.batch_size:
            if window is not None and self._window_of(lane.queue[0]) != window:
                break  # a batch never spans two tumbling windows
            entries.append(lane.queue.popleft())
        batch = _Batch(entries, window_start=window)
        lane.pending.append(batch)
        return batch

    # -- invoking -------------------------------------------------------------------------
    def _event(self, shard_id: str, lane: _Lane, batch: _Batch) -> dict[str, Any]:
        event: dict[str, Any] = {"Records": [e.record for e in batch.entries]}
        size = self.config.tumbling_window_in_seconds
        if size and batch.window_start is not None:
            if lane.window_start != batch.window_start:
                lane.window_start, lane.state = batch.window_start, {}
            event.update(
                {
                    "window": {
                        "start": iso_utc(batch.window_start),
                        "end": iso_utc(batch.window_start + size),
                    },
                    "state": json.loads(json.dumps(lane.state, default=_json_default)),
                    "shardId": shard_id,
                    "eventSourceARN": self.stream_arn,
                    "isFinalInvokeForWindow": batch.final,
                    "isWindowTerminatedEarly": lane.terminated_early,
                }
            )
        return event

    def _call(self, event: dict[str, Any]) -> tuple[Any, str | None, list[str], float, str]:
        context = LambdaContext(function_name=self.function_name, region=self.region)
        result: Any = None
        error: str | None = None
        began = time.perf_counter()
        with captured_output() as logs:
            try:
                result = self.handler(event, context)
                _marshal(result)
            except _Unmarshallable as exc:
                error = f"Runtime.MarshalError: {exc}"
                print(error)
            except (Exception, SystemExit) as exc:  # the handler's failure is data, as in Lambda
                error = f"{type(exc).__name__}: {exc}"
                print(traceback.format_exc().rstrip())
        return result, error, logs, (time.perf_counter() - began) * 1000, context.aws_request_id

    def _judge(
        self,
        batch: _Batch,
        result: Any,
        error: str | None,
    ) -> tuple[Outcome, str | None, int]:
        """The outcome, an error text, and how many leading records succeeded."""
        if error is not None:
            return Outcome.ERROR, error, 0
        if self.config.tumbling_window_in_seconds and not (
            isinstance(result, dict) and isinstance(result.get("state"), dict)
        ):
            return (
                Outcome.ERROR,
                "with a tumbling window the handler must return "
                "{'state': {...}}; it returned " + repr(result)[:80],
                0,
            )
        if not self.config.report_batch_item_failures:
            return Outcome.SUCCESS, None, len(batch.entries)
        if result is None or (isinstance(result, dict) and not result.get("batchItemFailures")):
            return Outcome.SUCCESS, None, len(batch.entries)  # null or empty: success
        if not isinstance(result, dict) or not isinstance(result["batchItemFailures"], list):
            return (
                Outcome.ERROR,
                "the response is not {'batchItemFailures': [...]}: " + repr(result)[:80],
                0,
            )
        positions = {e.sequence_number: i for i, e in enumerate(batch.entries)}
        failed: list[int] = []
        for item in result["batchItemFailures"]:
            ident = item.get("itemIdentifier") if isinstance(item, dict) else None
            if not isinstance(ident, str) or not ident or ident not in positions:
                return (
                    Outcome.ERROR,
                    f"batchItemFailures has an invalid itemIdentifier "
                    f"{item!r}: the whole batch counts as failed, as on AWS",
                    0,
                )
            failed.append(positions[ident])
        return (Outcome.PARTIAL_FAILURE, f"{len(failed)} item(s) reported failed", min(failed))

    def _attempt(self, work: _ShardWork, lane: _Lane, *, live: bool) -> str:
        """One step on a lane: 'idle', 'progress', 'retry' (the same batch failed and may be
        retried at once) or 'blocked' (it failed and must wait for the next run or poll)."""
        batch = self._next_batch(lane, live=live)
        if batch is None:
            return "idle"
        if not batch.final and self._expire_old(work, lane, batch):
            return "progress"
        event = self._event(work.shard.shard_id, lane, batch)
        result, error, logs, took, request_id = self._call(event)
        outcome, reason, good = self._judge(batch, result, error)
        notes = tuple(n for e in batch.entries for n in e.notes)
        with self._lock:
            invocation = Invocation(
                number=len(self.invocations) + 1,
                shard_id=work.shard.shard_id,
                event=event,
                request_id=request_id,
                result=result,
                error=reason,
                logs=tuple(logs),
                duration_ms=took,
                attempt=batch.failures + 1,
                outcome=outcome,
                notes=notes,
                lane=lane.number,
            )
            self.invocations.append(invocation)
            self._log.append(invocation)
        if outcome is Outcome.SUCCESS:
            self._finish(work, lane, batch, batch.entries, result)
            return "progress"
        batch.failures += 1
        if batch.final:
            # "If invocation is unsuccessful, your Lambda function suspends further processing
            # until a successful invocation" (stateful DynamoDB stream processing): the final
            # call of a window is retried with the same state, never discarded.
            self._note(
                invocation, "final window call failed: processing is suspended until it succeeds"
            )
            return "blocked"
        if outcome is Outcome.PARTIAL_FAILURE and good:
            # checkpoint before the lowest failed record; retry from there (progress was made)
            self._finish(work, lane, batch, batch.entries[:good], None, keep=True)
            batch.entries = batch.entries[good:]
            if not self._exhausted(batch):
                return "progress"
        elif (
            outcome is Outcome.ERROR
            and self.config.bisect_batch_on_function_error
            and len(batch.entries) > 1
        ):
            batch.failures -= 1  # "splitting a batch does not count towards the retry quota"
            half = len(batch.entries) // 2
            lane.pending.popleft()
            lane.pending.extendleft(
                [
                    _Batch(batch.entries[half:], batch.failures, batch.window_start),
                    _Batch(batch.entries[:half], batch.failures, batch.window_start),
                ]
            )
            return "progress"
        if self._exhausted(batch):
            self._discard(work, lane, batch, "RetryAttemptsExhausted", invocation)
            return "progress"
        if self.config.maximum_retry_attempts == -1:
            self._note(
                invocation,
                "shard blocked: retries are unlimited "
                "(maximum_retry_attempts=-1), so this batch is retried until it succeeds",
            )
        return "retry"

    def _exhausted(self, batch: _Batch) -> bool:
        limit = self.config.maximum_retry_attempts
        return limit != -1 and batch.failures > limit

    def _note(self, invocation: Invocation, note: str) -> None:
        """Add a note to an invocation already in the log."""
        amended = dataclasses.replace(invocation, notes=(*invocation.notes, note))
        with self._lock:
            self.invocations[invocation.number - 1] = amended
            self._log[self._log.index(invocation)] = amended

    def _finish(
        self,
        work: _ShardWork,
        lane: _Lane,
        batch: _Batch,
        done: list[_Entry],
        result: Any,
        *,
        keep: bool = False,
    ) -> None:
        for entry in done:
            entry.done = True
        if not keep:
            lane.pending.popleft()
            if self.config.tumbling_window_in_seconds:
                self._update_state(lane, batch, result)
        self._commit(work)

    def _update_state(self, lane: _Lane, batch: _Batch, result: Any) -> None:
        lane.terminated_early = False
        if batch.final:
            lane.window_start, lane.state = None, {}
            return
        state = result.get("state", {}) if isinstance(result, dict) else {}
        if len(json.dumps(state, default=_json_default).encode()) > _MAX_STATE_BYTES:
            lane.state, lane.terminated_early = {}, True  # AWS ends the window early
        else:
            lane.state = state

    def _expire_old(self, work: _ShardWork, lane: _Lane, batch: _Batch) -> bool:
        limit = self.config.maximum_record_age_in_seconds
        if limit == -1:
            return False
        now = self.clock()
        old = 0
        while old < len(batch.entries) and now - batch.entries[old].created > limit:
            old += 1
        if not old:
            return False
        expired = _Batch(batch.entries[:old], batch.failures, batch.window_start)
        batch.entries = batch.entries[old:]
        self._discard(work, lane, expired, "RecordAgeExceeded", None, pending=False)
        if not batch.entries:
            lane.pending.popleft()
        return True

    def _discard(
        self,
        work: _ShardWork,
        lane: _Lane,
        batch: _Batch,
        condition: str,
        invocation: Invocation | None,
        *,
        pending: bool = True,
    ) -> None:
        entries = batch.entries
        document = failure_document(
            condition=condition,
            function_arn=f"arn:aws:lambda:{self.region}:000000000000:function:{self.function_name}",
            invocation=invocation,
            invoke_count=batch.failures,
            shard_id=work.shard.shard_id,
            sequence_numbers=[e.sequence_number for e in entries],
            created=[e.created for e in entries],
            stream_arn=self.stream_arn,
        )
        name = None
        if self.destination is not None:
            name = self.destination.table_name
            store_failure_document(self.destination, document)
        discard = Discard(
            work.shard.shard_id,
            condition,
            tuple(e.sequence_number for e in entries),
            document,
            name,
        )
        with self._lock:
            self.discards.append(discard)
            self._log.append(discard)
        for entry in entries:
            entry.done = True
        if pending:
            lane.pending.popleft()
        self._commit(work)

    # -- running --------------------------------------------------------------------------
    def _pass(self, *, live: bool, blocked: set[tuple[str, int]]) -> bool:
        """One round over every readable shard; True if anything moved."""
        if self._refresh_due or time.monotonic() - self._refreshed_at >= _REFRESH_EVERY_S:
            self._reader.refresh()
            self._refresh_due, self._refreshed_at = False, time.monotonic()
        progressed = False
        for shard in self._reader.readable():
            work = self._shard_work(shard)
            progressed |= self._fill(work, live=live)
            lanes = [lane for lane in work.lanes if (shard.shard_id, lane.number) not in blocked]
            for lane, result in zip(lanes, self._run_lanes(work, lanes, live=live), strict=True):
                if result == "progress":
                    progressed = True
                elif result == "retry":
                    blocked.add((shard.shard_id, lane.number))
            busy = (
                work.entries
                or work.buffer
                or any(lane.pending or lane.window_start is not None for lane in work.lanes)
            )
            if shard.ended and not busy:
                shard.finished = True  # its children become readable on the next pass
                self._refresh_due = True  # and the next pass learns of any it does not know
                progressed = True
        return progressed

    def _run_lanes(self, work: _ShardWork, lanes: list[_Lane], *, live: bool) -> list[str]:
        retry_now = not live and self.config.maximum_retry_attempts != -1

        def drive(lane: _Lane) -> str:
            outcome = "idle"
            while True:
                step = self._attempt(work, lane, live=live)
                if step == "idle":
                    return outcome
                if step == "blocked" or (step == "retry" and not retry_now):
                    return "retry"  # one attempt per run or poll, then wait
                outcome = "progress"

        if len(lanes) <= 1:
            return [drive(lane) for lane in lanes]
        if self._pool is None:
            self._pool = ThreadPoolExecutor(
                self.config.parallelization_factor, thread_name_prefix="labkit-lane"
            )
        return list(self._pool.map(drive, lanes))

    def run_until_idle(self) -> list[Invocation]:
        """Deliver every record available now, and return this run's invocations.

        A run goes on while it makes progress. A failing batch is retried at once up to
        ``maximum_retry_attempts`` times, then discarded; a partial batch failure checkpoints
        the records before the lowest failed one and retries the rest at once. With unlimited
        retries (Lambda's default) a batch that fails outright blocks its shard: each run makes
        one more attempt (the invocation log says so), as Lambda keeps retrying until the
        handler succeeds or the record is too old.

        Introduced in notebooks/01-stream-processing-flow.ipynb.
        """
        self._check_usable()
        if self.running:
            raise TriggerError(
                f"The trigger on {self.table_name!r} is running in the background (start()).",
                "call trigger.stop() first, or let the background poller deliver the records.",
            )
        first = seen = len(self.invocations)
        blocked: set[tuple[str, int]] = set()
        self._refresh_due = True  # a run starts from the stream's current shards
        # a bar only for a long run of many records: a lesson's short runs stay silent
        with Progress(
            f"run_until_idle {self.table_name}", unit="record", min_count=_PROGRESS_MIN_RECORDS
        ) as progress:
            while self._pass(live=False, blocked=blocked):
                done = self.invocations[seen:]
                seen += len(done)
                progress.update(sum(len(i.records) for i in done))
        return self.invocations[first:]

    def _check_usable(self) -> None:
        if self.closed:
            raise TriggerError(
                f"The trigger on {self.table_name!r} is closed.",
                "create a new one with lab.trigger(...).",
            )

    def start(self, *, idle_sleep: float = 0.05) -> Trigger:
        """Poll in the background: deliver records as they arrive, until ``stop()``.

        Between empty polls it waits a tenth of the time since records last came, at least
        1 ms and at most ``idle_sleep`` seconds: right after a write a record waits a few
        milliseconds, and a quiet trigger polls about 1/``idle_sleep`` times a second. A failing
        batch (or a failing poll) is retried after a pause that doubles up to ``idle_sleep``.

        Introduced in notebooks/07-replication-audit-archive.ipynb.
        """
        self._check_usable()
        if self.running:
            return self
        self._stop.clear()
        self._refresh_due = True

        def loop() -> None:
            pause = 0.001
            last_moved = time.monotonic()
            while not self._stop.is_set():
                blocked: set[tuple[str, int]] = set()
                failed = False
                try:
                    moved = self._pass(live=True, blocked=blocked)
                except Exception as exc:  # keep polling, but never silently
                    moved, failed = False, True
                    message = f"{type(exc).__name__}: {exc}"
                    if not self.poller_errors or self.poller_errors[-1] != message:
                        self.poller_errors.append(message)
                now = time.monotonic()
                if blocked or failed:
                    pause = min(max(pause * 2, 0.001), idle_sleep)
                elif moved:
                    pause, last_moved = 0.0, now
                else:
                    quiet = now - last_moved
                    pause = min(max(quiet * _IDLE_PAUSE_FRACTION, 0.001), idle_sleep)
                if pause:
                    self._stop.wait(pause)

        self._thread = threading.Thread(
            target=loop, name=f"labkit-trigger-{self.table_name}", daemon=True
        )
        self._thread.start()
        return self

    def stop(self, timeout: float = 10.0) -> None:
        """Stop background polling and wait for the poller to finish its current batch."""
        thread, self._thread = self._thread, None
        self._stop.set()
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout)

    def close(self) -> None:
        """Stop delivering (and polling); in-memory checkpoints go with the trigger."""
        self.stop()
        if self._pool is not None:
            self._pool.shutdown(wait=True)
            self._pool = None
        self.closed = True

    def replay(self, document: dict[str, Any], handler: Handler | None = None) -> Invocation:
        """Deliver again the records a failure document points at (while the stream has them).

        Reads ``startSequenceNumber`` to ``endSequenceNumber`` of the document's shard and
        invokes ``handler`` (this trigger's, by default) once with them. The checkpoint is not
        touched: a replay is a repair, not progress.

        Introduced in notebooks/08-when-processing-fails.ipynb.
        """
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
        records = self._reader.read_range(
            info["shardId"], info["startSequenceNumber"], info["endSequenceNumber"]
        )
        if not records:
            raise TriggerError(
                f"The records {info['startSequenceNumber']}..{info['endSequenceNumber']} are no "
                "longer in the stream.",
                "replay sooner: DynamoDB Streams keeps records for 24 hours.",
            )
        shaped = [normalize_record(lambda_record(r, self.stream_arn))[0] for r in records]
        return self._invoke_again({"Records": shaped}, info["shardId"], handler, "replay")

    def redeliver(self, invocation: Invocation, handler: Handler | None = None) -> Invocation:
        """Deliver an invocation's batch once more, as a duplicate.

        Lambda delivers at least once: if a function instance dies after the handler has done
        its work but before the checkpoint moves, the same batch comes again. This calls the
        handler again with the same event (same records, same sequence numbers); the
        checkpoint is not touched.

        Introduced in notebooks/09-exactly-once-effects.ipynb.
        """
        if not isinstance(invocation, Invocation):
            raise TriggerError(
                f"redeliver() needs an Invocation, not {str(invocation)[:60]!r}.",
                "pass one of trigger.invocations (or what run_until_idle() returned).",
            )
        event = {"Records": [dict(r) for r in invocation.event["Records"]]}
        return self._invoke_again(event, invocation.shard_id, handler, "redelivered")

    def _invoke_again(
        self, event: dict[str, Any], shard_id: str, handler: Handler | None, note: str
    ) -> Invocation:
        call = handler or self.handler
        saved, self.handler = self.handler, call
        try:
            result, error, logs, took, request_id = self._call(event)
        finally:
            self.handler = saved
        outcome = Outcome.SUCCESS if error is None else Outcome.ERROR
        with self._lock:
            invocation = Invocation(
                len(self.invocations) + 1,
                shard_id,
                event,
                request_id,
                result,
                error,
                tuple(logs),
                took,
                1,
                outcome,
                (note,),
            )
            self.invocations.append(invocation)
            self._log.append(invocation)
        return invocation

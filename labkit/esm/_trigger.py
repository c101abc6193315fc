"""The trigger: labkit's event source mapping from a table's stream to a Python handler.

It does what Lambda's event source mapping for DynamoDB Streams does, as the AWS documentation
describes it ("Using AWS Lambda with Amazon DynamoDB", "Lambda parameters for Amazon DynamoDB
event source mappings", "Retaining discarded records", "Configuring partial batch response",
"Implementing stateful DynamoDB stream processing"). This module holds the policy and the run
loop; its rooms do the rest: ``_intake`` reads shards into lanes (filters included),
``_batching`` makes batches and tumbling windows, ``_runtime`` calls the handler and reads its
response, ``_invocations`` and ``_failures`` keep what happened, ``_poller`` runs it live.

The policy: the checkpoint moves only past records whose invocation succeeded (at-least-once); a
failed batch is retried (``maximum_retry_attempts``, ``maximum_record_age_in_seconds``), split in
two first if ``bisect_batch_on_function_error`` ("splitting a batch does not count towards the
retry quota"), and when retries or age run out it is dropped, with a failure document sent to the
on-failure destination if there is one; without limits the shard blocks until the handler
succeeds. With ``ReportBatchItemFailures`` the checkpoint moves to just before the lowest failed
sequence number and the rest is retried. A failed final call of a tumbling window suspends the
lane until it succeeds.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from .. import _seams
from .._errors import TriggerError
from ._batching import Batch, Lane, ShardWork
from ._checkpoints import CheckpointStore, MemoryCheckpoints
from ._failures import failure_document, store_failure_document
from ._intake import fill
from ._invocations import LOG_COLUMNS, Discard, Invocation, InvocationLog, Outcome
from ._options import TriggerConfig
from ._poller import Poller
from ._repair import redelivery_event, replay_event
from ._runtime import Handler, check_handler, invoke, judge
from ._stream import StreamReader

__all__ = ["Trigger"]

# The shard list is re-read (DescribeStream) at most this often while a trigger runs: shards come
# and go over hours, and a shard read to its end makes the next pass look again at once.
_REFRESH_EVERY_S = 1.0
_PROGRESS_MIN_RECORDS = 1000  # run_until_idle shows a progress bar only past this many records


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
        check_handler(handler, table_name)
        self.table_name, self.stream_arn, self.config = table_name, stream_arn, config
        self.handler, self.streams, self.region, self.clock = handler, streams, region, clock
        self.function_name: str = str(function_name or getattr(handler, "__name__", "handler"))
        self.destination = destination  # boto3 Table of the on-failure destination, or None
        self.checkpoints: CheckpointStore = checkpoints or MemoryCheckpoints()
        self.history = InvocationLog()
        self.poller_errors: list[str] = []  # what went wrong in background polling
        self.closed = False
        self._poller = Poller(self._live_pass, self.poller_errors, name=f"labkit-trigger-{table_name}")
        self._pool: ThreadPoolExecutor | None = None
        self._lock = threading.Lock()  # lanes of one shard commit from several threads
        self._work: dict[str, ShardWork] = {}
        self._refresh_due, self._refreshed_at = True, 0.0  # read the shard list on the next pass
        self.reader = StreamReader(
            streams, stream_arn, config.starting_position, checkpoints=self.checkpoints
        )

    def __repr__(self) -> str:
        state = "closed" if self.closed else "running" if self.running else "open"
        errors = len(self.poller_errors)
        return (
            f"<Trigger {state}: {self.table_name} stream -> {self.function_name}, "
            f"batch_size={self.config.batch_size}, "
            f"starting_position={self.config.starting_position!r}, "
            f"{len(self.invocations)} invocation(s) so far"
            + (f", {errors} poller error(s): see trigger.poller_errors" if errors else "")
            + ">"
        )

    @property
    def invocations(self) -> list[Invocation]:
        return self.history.invocations

    @property
    def discards(self) -> list[Discard]:
        return self.history.discards

    @property
    def running(self) -> bool:
        return self._poller.running

    def log(self) -> Any:
        """The invocation log: one row per invocation or discarded batch, in order.

        Introduced in notebooks/08-when-processing-fails.ipynb.
        """
        return _seams.table(self.history.rows(), LOG_COLUMNS)

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

    # -- policy: one attempt on a lane ----------------------------------------------------
    def _attempt(self, work: ShardWork, lane: Lane, *, live: bool) -> str:
        """One step on a lane: 'idle', 'progress', 'retry' (the same batch failed and may be
        retried at once) or 'blocked' (it failed and must wait for the next run or poll)."""
        batch = lane.next_batch(self.config, self.clock(), live=live)
        if batch is None:
            return "idle"
        if not batch.final and self._expire_old(work, lane, batch):
            return "progress"
        event = lane.event(batch, self.config, work.shard.shard_id, self.stream_arn)
        response = invoke(
            self.handler, event, function_name=self.function_name, region=self.region
        )
        outcome, reason, good = judge(
            response,
            batch.sequence_numbers,
            report_batch_item_failures=self.config.report_batch_item_failures,
            tumbling_window=bool(self.config.tumbling_window_in_seconds),
        )
        invocation = self._record(work.shard.shard_id, event, response, reason, outcome, batch)
        invocation = self.history.add(
            **invocation, notes=tuple(n for e in batch.entries for n in e.notes), lane=lane.number
        )
        if outcome is Outcome.SUCCESS:
            self._finish(work, lane, batch, len(batch.entries), response.result)
            return "progress"
        batch.failures += 1
        if batch.final:
            # "If invocation is unsuccessful, your Lambda function suspends further processing
            # until a successful invocation" (stateful DynamoDB stream processing): the final
            # call of a window is retried with the same state, never discarded.
            self.history.note(
                invocation, "final window call failed: processing is suspended until it succeeds"
            )
            return "blocked"
        if outcome is Outcome.PARTIAL_FAILURE and good:
            # checkpoint before the lowest failed record; retry from there (progress was made)
            self._finish(work, lane, batch, good, None, keep=True)
            batch.entries = batch.entries[good:]
            if not self._exhausted(batch):
                return "progress"
        elif outcome is Outcome.ERROR and self.config.bisect_batch_on_function_error:
            if len(batch.entries) > 1:
                batch.failures -= 1  # "splitting a batch does not count towards the retry quota"
                lane.pending.popleft()
                lane.pending.extendleft(reversed(batch.split()))
                return "progress"
        if self._exhausted(batch):
            self._discard(work, lane, batch, "RetryAttemptsExhausted", invocation)
            return "progress"
        if self.config.maximum_retry_attempts == -1:
            self.history.note(
                invocation,
                "shard blocked: retries are unlimited "
                "(maximum_retry_attempts=-1), so this batch is retried until it succeeds",
            )
        return "retry"

    def _record(self, shard_id: str, event: dict, response: Any, reason: str | None,
                outcome: Outcome, batch: Batch | None) -> dict[str, Any]:
        return {
            "shard_id": shard_id,
            "event": event,
            "request_id": response.request_id,
            "result": response.result,
            "error": reason,
            "logs": response.logs,
            "duration_ms": response.duration_ms,
            "attempt": batch.failures + 1 if batch is not None else 1,
            "outcome": outcome,
            "function_name": self.function_name,
        }

    def _exhausted(self, batch: Batch) -> bool:
        limit = self.config.maximum_retry_attempts
        return limit != -1 and batch.failures > limit

    def _finish(self, work: ShardWork, lane: Lane, batch: Batch, done: int, result: Any,
                *, keep: bool = False) -> None:
        """Mark the batch's first ``done`` records processed and checkpoint what can be."""
        for entry in batch.entries[:done]:
            entry.done = True
        if not keep:
            lane.pending.popleft()
            if self.config.tumbling_window_in_seconds:
                lane.keep_state(batch, result)
        self._commit(work)

    def _commit(self, work: ShardWork) -> None:
        """Checkpoint after the longest run of finished records at the front of the shard."""
        with self._lock:
            last = work.done_prefix()
            if last is not None:
                self.reader.commit(work.shard, last)

    def _expire_old(self, work: ShardWork, lane: Lane, batch: Batch) -> bool:
        limit = self.config.maximum_record_age_in_seconds
        if limit == -1:
            return False
        now = self.clock()
        old = 0
        while old < len(batch.entries) and now - batch.entries[old].created > limit:
            old += 1
        if not old:
            return False
        expired = Batch(batch.entries[:old], batch.failures, batch.window_start)
        batch.entries = batch.entries[old:]
        self._discard(work, lane, expired, "RecordAgeExceeded", None, pending=False)
        if not batch.entries:
            lane.pending.popleft()
        return True

    def _discard(self, work: ShardWork, lane: Lane, batch: Batch, condition: str,
                 invocation: Invocation | None, *, pending: bool = True) -> None:
        document = failure_document(
            condition=condition,
            function_arn=f"arn:aws:lambda:{self.region}:000000000000:function:{self.function_name}",
            invocation=invocation,
            invoke_count=batch.failures,
            shard_id=work.shard.shard_id,
            sequence_numbers=batch.sequence_numbers,
            created=[e.created for e in batch.entries],
            stream_arn=self.stream_arn,
        )
        if self.destination is not None:
            store_failure_document(self.destination, document)
        name = self.destination.table_name if self.destination is not None else None
        seqs = tuple(batch.sequence_numbers)
        self.history.add_discard(Discard(work.shard.shard_id, condition, seqs, document, name))
        for entry in batch.entries:
            entry.done = True
        if pending:
            lane.pending.popleft()
        self._commit(work)

    # -- the run loop ---------------------------------------------------------------------
    def _pass(self, *, live: bool, blocked: set[tuple[str, int]]) -> bool:
        """One round over every readable shard; True if anything moved."""
        if self._refresh_due or time.monotonic() - self._refreshed_at >= _REFRESH_EVERY_S:
            self.reader.refresh()
            self._refresh_due, self._refreshed_at = False, time.monotonic()
        progressed = False
        for shard in self.reader.readable():
            work = self._work.get(shard.shard_id)
            if work is None:
                lanes = [Lane(i) for i in range(self.config.parallelization_factor)]
                work = self._work[shard.shard_id] = ShardWork(shard, lanes=lanes)
            progressed |= fill(work, self.reader, self.config, self.clock, live=live)
            self._commit(work)
            lanes = [lane for lane in work.lanes if (shard.shard_id, lane.number) not in blocked]
            for lane, result in zip(lanes, self._run_lanes(work, lanes, live=live), strict=True):
                if result == "progress":
                    progressed = True
                elif result == "retry":
                    blocked.add((shard.shard_id, lane.number))
            if shard.ended and not work.busy:
                self.reader.finish(shard)  # its children become readable on the next pass
                self._refresh_due = True  # and the next pass learns of any it does not know
                progressed = True
        return progressed

    def _live_pass(self, blocked: set[tuple[str, int]]) -> bool:
        return self._pass(live=True, blocked=blocked)

    def _run_lanes(self, work: ShardWork, lanes: list[Lane], *, live: bool) -> list[str]:
        retry_now = not live and self.config.maximum_retry_attempts != -1

        def drive(lane: Lane) -> str:
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
        with _seams.Progress(
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

        A quiet trigger polls about 1/``idle_sleep`` times a second; right after a write a
        record waits a few milliseconds (see ``_poller``).

        Introduced in notebooks/07-replication-audit-archive.ipynb.
        """
        self._check_usable()
        self._refresh_due = True
        self._poller.start(idle_sleep)
        return self

    def stop(self, timeout: float = 10.0) -> None:
        """Stop background polling and wait for the poller to finish its current batch."""
        self._poller.stop(timeout)

    def close(self) -> None:
        """Stop delivering (and polling); in-memory checkpoints go with the trigger."""
        self.stop()
        if self._pool is not None:
            self._pool.shutdown(wait=True)
            self._pool = None
        self.closed = True

    # -- repairs --------------------------------------------------------------------------
    def replay(self, document: dict[str, Any] | Discard, handler: Handler | None = None) -> Invocation:
        """Deliver again the records a failure document points at (while the stream has them).

        Reads ``startSequenceNumber`` to ``endSequenceNumber`` of the document's shard and
        invokes ``handler`` (this trigger's, by default) once with them. The checkpoint is not
        touched: a replay is a repair, not progress.

        Introduced in notebooks/08-when-processing-fails.ipynb.
        """
        event, shard_id = replay_event(self.reader, document)
        return self._invoke_once(event, shard_id, handler or self.handler, "replay")

    def redeliver(self, invocation: Invocation, handler: Handler | None = None) -> Invocation:
        """Deliver an invocation's batch once more, as a duplicate.

        Lambda delivers at least once: if a function instance dies after the handler has done
        its work but before the checkpoint moves, the same batch comes again. This calls the
        handler again with the same event (same records, same sequence numbers); the
        checkpoint is not touched.

        Introduced in notebooks/09-exactly-once-effects.ipynb.
        """
        event = redelivery_event(invocation)
        return self._invoke_once(event, invocation.shard_id, handler or self.handler, "redelivered")

    def _invoke_once(self, event: dict[str, Any], shard_id: str, handler: Handler,
                     note: str) -> Invocation:
        response = invoke(handler, event, function_name=self.function_name, region=self.region)
        outcome = Outcome.SUCCESS if response.error is None else Outcome.ERROR
        fields = self._record(shard_id, event, response, response.error, outcome, None)
        return self.history.add(**fields, notes=(note,))

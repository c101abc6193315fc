"""The trigger: the policy and run loop of labkit's event source mapping (Lambda's, for DynamoDB
Streams, as "Using AWS Lambda with Amazon DynamoDB" and its sub-pages describe it).

Checkpoints move only past records whose invocation succeeded (at-least-once). A failed batch is
retried, split first with ``bisect_batch_on_function_error`` (splitting uses no retry), and when
retries or record age run out discarded, with a failure document for the on-failure destination;
with unlimited retries the shard blocks. ``ReportBatchItemFailures`` checkpoints just before the
lowest failed record. What the mapping is and did: ``_mapping.EventSourceMapping``.
"""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor

from .. import _seams
from .._errors import TriggerError
from ._batching import Batch, Lane, ShardWork
from ._capture import say
from ._failures import discard
from ._intake import fill
from ._invocations import Invocation, Outcome
from ._mapping import EventSourceMapping
from ._metrics import iterator_age_ms
from ._runtime import invoke, judge

__all__ = ["Trigger"]

_REFRESH_EVERY_S = 1.0  # DescribeStream at most this often: shards come and go over hours
_PROGRESS_MIN_RECORDS = 1000  # run_until_idle shows a progress bar only past this many records
_SUSPENDED = "final window call failed: processing is suspended until it succeeds"
_BLOCKED = (
    "shard blocked: retries are unlimited (maximum_retry_attempts=-1), so this batch is retried "
    "until it succeeds"
)
Blocked = set[tuple[str, int]]  # (shard id, lane) that failed and wait for the next run or poll


class Trigger(EventSourceMapping):
    """A handler attached to a table's stream, with every event-source-mapping option.

    Made by ``lab.trigger(...)``. ``run_until_idle()`` delivers what is waiting; ``start()`` /
    ``stop()`` poll in the background (its life is in ``_mapping``); ``log()`` is the invocation
    log as a table; ``esm_config()`` gives the same mapping for boto3's
    ``create_event_source_mapping``.

    Introduced in notebooks/01-stream-processing-flow.ipynb.
    """

    # -- policy -----------------------------------------------------------------------------
    def _attempt(self, work: ShardWork, lane: Lane, *, live: bool) -> str:
        """One step on a lane: 'idle', 'progress', 'retry' (the same batch failed and may be
        retried at once) or 'blocked' (it failed and must wait for the next run or poll)."""
        batch = lane.next_batch(self.config, self.clock(), live=live)
        if batch is None:
            return "idle"
        if not batch.final and (
            expired := batch.take_expired(self.clock(), self.config.maximum_record_age_in_seconds)
        ):
            self._discard(work, expired, "RecordAgeExceeded", None)
            if not batch.entries:
                lane.pending.popleft()
            return "progress"
        event = lane.event(batch, self.config, work.shard.shard_id, self.stream_arn)
        self.loops.check(batch.entries, self.function)  # a self-feeding function stops here
        started = self.clock()
        response = invoke(self.environments, event)
        self.loops.after(batch.entries, response.writes)
        outcome, reason, good = judge(
            response,
            batch.sequence_numbers,
            report_batch_item_failures=self.config.report_batch_item_failures,
            tumbling_window=bool(self.config.tumbling_window_in_seconds),
        )
        invocation = self.history.add(
            shard_id=work.shard.shard_id,
            event=event,
            response=response,
            error=reason,
            outcome=outcome,
            attempt=batch.failures + 1,
            **batch.place(),
            notes=tuple(n for e in batch.entries for n in e.notes),
            function_name=self.function_name,
            started=started,
            ended=self.clock(),
            iterator_age_ms=iterator_age_ms(started, batch.entries),
        )
        if outcome is Outcome.SUCCESS:
            self._finish(work, batch, len(batch.entries))
            lane.pending.popleft()
            if self.config.tumbling_window_in_seconds:
                lane.keep_state(batch, response.result)
            return "progress"
        batch.failures += 1
        if batch.final:
            # "If invocation is unsuccessful, your Lambda function suspends further processing
            # until a successful invocation" (stateful DynamoDB stream processing): the final
            # call of a window is retried with the same state, never discarded.
            self.history.note(invocation, _SUSPENDED)
            return "blocked"
        if outcome is Outcome.PARTIAL_FAILURE and good:
            self._finish(work, batch, good)  # checkpoint before the lowest failed record
            batch.entries = batch.entries[good:]
            if not self._exhausted(batch):
                return "progress"  # and retry from there
        elif (
            outcome is Outcome.ERROR
            and self.config.bisect_batch_on_function_error
            and (len(batch.entries) > 1)
        ):
            batch.failures -= 1  # "splitting a batch does not count towards the retry quota"
            lane.pending.popleft()
            lane.pending.extendleft(reversed(batch.split()))
            return "progress"
        if self._exhausted(batch):
            self._discard(work, batch, "RetryAttemptsExhausted", invocation)
            lane.pending.popleft()
            return "progress"
        if self.config.maximum_retry_attempts == -1:
            self.history.note(invocation, _BLOCKED)
        return "retry"

    def _exhausted(self, batch: Batch) -> bool:
        limit = self.config.maximum_retry_attempts
        return limit != -1 and batch.failures > limit

    def _finish(self, work: ShardWork, batch: Batch, done: int) -> None:
        """Mark the batch's first ``done`` records processed; checkpoint after the longest run
        of finished records at the front of the shard."""
        for entry in batch.entries[:done]:
            entry.done = True
        with self._lock:
            if (last := work.done_prefix()) is not None:
                self.reader.commit(work.shard, last)

    def _discard(
        self, work: ShardWork, batch: Batch, condition: str, invocation: Invocation | None
    ) -> None:
        arn = f"arn:aws:lambda:{self.region}:000000000000:function:{self.function_name}"
        self.history.add_discard(
            discard(
                condition=condition,
                function_arn=arn,
                invocation=invocation,
                failed_invocations=batch.failures,
                shard_id=work.shard.shard_id,
                sequence_numbers=batch.sequence_numbers,
                created=[e.created for e in batch.entries],
                stream_arn=self.stream_arn,
                destination=self.destination,
                records=tuple(e.record for e in batch.entries),
                at=self.clock(),
                **batch.place(),
            )
        )
        self._finish(work, batch, len(batch.entries))

    # -- the run loop -----------------------------------------------------------------------
    def _pass(self, *, live: bool, blocked: Blocked) -> bool:
        """One round over every readable shard; True if anything moved."""
        if self._refresh_due or time.monotonic() - self._refreshed_at >= _REFRESH_EVERY_S:
            self.reader.refresh()
            self._refresh_due, self._refreshed_at = False, time.monotonic()
        progressed = False
        for shard in self.reader.readable():
            if live and self._poller.stopping:
                break  # stop(): the batches in flight are done
            work = self._work.get(shard.shard_id)
            if work is None:
                lanes = [Lane(i) for i in range(self.config.parallelization_factor)]
                work = self._work[shard.shard_id] = ShardWork(shard, lanes=lanes)
            progressed |= fill(
                work, self.reader, self.config, self.clock, live=live, recorder=self.recorder
            )
            self._finish(work, Batch([]), 0)  # filtered-out records at the front: checkpoint
            lanes = [lane for lane in work.lanes if (shard.shard_id, lane.number) not in blocked]
            for lane, result in zip(lanes, self._run_lanes(work, lanes, live=live), strict=True):
                progressed |= result == "progress"
                if result == "retry":
                    blocked.add((shard.shard_id, lane.number))
            if shard.ended and not work.busy:
                self.reader.finish(shard)  # its children become readable on the next pass
                self._refresh_due = progressed = True  # which the next pass learns of
        return progressed

    def _run_lanes(self, work: ShardWork, lanes: list[Lane], *, live: bool) -> list[str]:
        retry_now = not live and self.config.maximum_retry_attempts != -1

        def drive(lane: Lane) -> str:
            outcome = "idle"
            while (
                not (live and self._poller.stopping)
                and (step := self._attempt(work, lane, live=live)) != "idle"
            ):
                if step == "blocked" or (step == "retry" and not retry_now):
                    return "retry"  # one attempt per run or poll, then wait
                outcome = "progress"
            return outcome

        if len(lanes) <= 1:
            return [drive(lane) for lane in lanes]
        if self._pool is None:
            factor = self.config.parallelization_factor
            self._pool = ThreadPoolExecutor(factor, thread_name_prefix="labkit-lane")
        return list(self._pool.map(drive, lanes))

    def run_until_idle(self) -> list[Invocation]:
        """Deliver every record available now, and return this run's invocations.

        A run goes on while it makes progress: a failing batch is retried at once up to
        ``maximum_retry_attempts`` times, then discarded. With unlimited retries (Lambda's
        default) a batch that fails blocks its shard: each run makes one more attempt (the
        invocation log says so), as Lambda retries until the handler succeeds or the record
        expires.

        Introduced in notebooks/01-stream-processing-flow.ipynb.
        """
        self._check_usable()
        if self.running:
            raise TriggerError(
                f"The trigger on {self.table_name!r} is running in the background (start()).",
                "call trigger.stop() first, or let the background poller deliver the records.",
            )
        first = seen = len(self.invocations)
        blocked: Blocked = set()
        self._refresh_due = True  # a run starts from the stream's current shards
        with _seams.Progress(
            f"run_until_idle {self.table_name}", unit="record", min_count=_PROGRESS_MIN_RECORDS
        ) as progress:
            while self._pass(live=False, blocked=blocked):
                progress.update(sum(len(i.records) for i in self.invocations[seen:]))
                seen = len(self.invocations)
        if self.replaces and not self.invocations and not self._said_why:
            self._said_why = True  # once: a cell that made its trigger again delivers nothing
            say(
                "nothing delivered: this trigger replaced an earlier one (its cell ran again) "
                "and goes on from that one's checkpoint, so the records that one delivered are "
                "not delivered again; only records written from now on are. To see the lesson "
                "as it is written, run Kernel → Restart Kernel and Run All Cells."
            )
        return self.invocations[first:]

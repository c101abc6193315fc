"""An event source mapping as AWS describes one: which stream feeds which function, with which
options, and what it has done so far; its life (start, stop, close, replaced by a newer one); the
repairs and the deployment view of it.

``Trigger`` (``_trigger.py``) is the mapping that runs: its policy and its run loop.

Stopping waits for the batch in flight, as disabling a mapping lets the invocation under way
finish: the wait is bounded by what bounds that batch, the function's timeout (plus Lambda's
init limit for a cold start, and a margin for the checkpoint write). If the background thread
is still alive after that, ``stop()`` raises a ``TriggerError`` that says what still runs, and the
trigger keeps saying ``running``: nothing is left behind silently.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Self

from .. import _seams
from .._errors import DeployError, TriggerError
from ._batching import ShardWork
from ._capture import say
from ._checkpoints import CheckpointStore, MemoryCheckpoints
from ._environment import INIT_LIMIT_S, EnvironmentPool
from ._function import (
    Function,
    as_function,
    check_mapping_function_name,
    mapping_function_name,
)
from ._invocations import LOG_COLUMNS, Discard, Invocation, InvocationLog, Outcome
from ._loops import LoopDetector
from ._metrics import LOCAL_RESOLUTION_S, IteratorAgeAlarm, Metrics, Recorder, datapoints
from ._options import TriggerConfig
from ._poller import Poller
from ._repair import redelivery_event, replay_event
from ._runtime import Handler, invoke
from ._stream import StartingPosition, StreamReader

__all__ = ["EventSourceMapping"]

_AFTER_BATCH_S = 5.0  # beyond the function's own limits: the checkpoint write, a GetRecords


class EventSourceMapping:
    """A table's stream, a function (handler and name) and the mapping's options, with the
    history of what it did. Made through ``lab.trigger(...)``, which returns a ``Trigger``."""

    def __init__(
        self,
        table_name: str,
        stream_arn: str,
        handler: Function | Handler,
        config: TriggerConfig,
        *,
        streams: Any,
        region: str = "us-east-1",
        destination: Any = None,  # boto3 Table of the on-failure destination, or None
        checkpoints: CheckpointStore | None = None,
        clock: Callable[[], float] = time.time,
        function_name: str | None = None,
        variables: dict[str, str] | None = None,
        describe_table: Callable[[str], dict[str, Any]] | None = None,
        takes_over: EventSourceMapping | None = None,
        creation_resolution: float = LOCAL_RESOLUTION_S,
    ) -> None:
        self.table_name, self.stream_arn, self.config = table_name, stream_arn, config
        self.streams, self.region, self.clock = streams, region, clock
        self.function = as_function(handler, table_name, function_name)
        self.function_name: str = mapping_function_name(handler, function_name)
        self.variables = dict(variables or {})  # the lab's credentials and endpoints
        # DescribeTable's "Table" for a lab table name: what a deployment template is made from
        self.describe_table = describe_table
        self.environments = EnvironmentPool(self.function, region, self.variables)
        self.loops = LoopDetector(table_name, self.function_name)  # a self-feeding function
        self.destination = destination
        self.checkpoints: CheckpointStore = checkpoints or MemoryCheckpoints()
        self.reader = self._reader(takes_over)
        self.history = InvocationLog()
        # what the metrics need beyond the log: reads, filtering, arrivals (``_metrics``)
        self.recorder = Recorder(creation_resolution)
        self.poller_errors: list[str] = []  # what went wrong in background polling
        self.closed = False
        self.replaced_by: str | None = None  # why it closed, if a newer trigger replaced it
        self.replaces = takes_over is not None
        self._said_why = False  # run_until_idle said why a replacing trigger delivered nothing
        self._poller_name = f"labkit-trigger-{table_name}"
        self._poller = Poller(
            lambda b: self._pass(live=True, blocked=b),
            self.poller_errors,
            name=self._poller_name,
        )
        self._pool: ThreadPoolExecutor | None = None
        self._lock = threading.Lock()  # lanes of one shard commit from several threads
        self._work: dict[str, ShardWork] = {}
        self._refresh_due, self._refreshed_at = True, 0.0  # read the shard list on the next pass

    # The reader of this kind of stream: a DynamoDB stream here, a Kinesis stream in _kinesis.
    reader_type: type[StreamReader] = StreamReader

    def _reader(self, earlier: EventSourceMapping | None) -> StreamReader:
        """This mapping's stream reader; a replacement's goes on from where ``earlier`` was
        (UpdateEventSourceMapping takes no StartingPosition: an updated mapping keeps its
        place), shard by shard: after its checkpoint, or from the start of a shard it had not
        begun, and never into a shard it had finished."""
        if earlier is None:
            return self.reader_type(
                self.streams,
                self.stream_arn,
                self.config.starting_position,
                checkpoints=self.checkpoints,
            )
        for shard in earlier.reader.shards.values():
            if shard.checkpoint is not None:
                self.checkpoints.put(shard.shard_id, shard.checkpoint)
        reader = self.reader_type(
            self.streams,
            self.stream_arn,
            StartingPosition.TRIM_HORIZON,
            checkpoints=self.checkpoints,
        )
        for shard_id, shard in earlier.reader.shards.items():
            if shard.finished and shard_id in reader.shards:
                reader.finish(reader.shards[shard_id])
        return reader

    def _pass(self, *, live: bool, blocked: set[tuple[str, int]]) -> bool:
        raise NotImplementedError  # the Trigger's run loop

    # -- its life: start, stop, close -------------------------------------------------------
    def _check_usable(self) -> None:
        if self.replaced_by is not None:
            raise TriggerError(
                f"This trigger of {self.function_name!r} on {self.table_name!r} was replaced "
                f"by a newer one ({self.replaced_by}), so it delivers nothing more.",
                "use the trigger that the newer lab.trigger(...) call returned (re-run the "
                "cells after it that use the trigger, such as the Tracer's).",
            )
        if self.closed:
            raise TriggerError(
                f"The trigger on {self.table_name!r} is closed.",
                "create a new one with lab.trigger(...).",
            )

    @property
    def stop_within_s(self) -> float:
        """How long ``stop()`` may wait for the batch in flight: the function's timeout, plus
        Lambda's init limit (a cold start) and a margin for the checkpoint write."""
        return self.function.timeout + INIT_LIMIT_S + _AFTER_BATCH_S

    def start(self, *, idle_sleep: float = 0.05) -> Self:
        """Poll in the background, delivering records as they arrive, until ``stop()``; a quiet
        trigger polls about 1/``idle_sleep`` times a second (see ``_poller``). Never a second
        poller: one still finishing its batch after ``stop()`` is waited for first.

        Introduced in notebooks/07-replication-audit-archive.ipynb.
        """
        self._check_usable()
        self._refresh_due = True
        if not self._poller.start(idle_sleep, self.stop_within_s):
            raise self._still_running("start() did not start a second one")
        return self

    def stop(self, timeout: float | None = None) -> None:
        """Stop background polling once the batch in flight is done (its checkpoint written).

        Waits at most ``timeout`` seconds, by default ``stop_within_s`` (the function's timeout
        bounds the batch). A poller still running after that is a ``TriggerError`` saying what
        it is doing; ``running`` then stays true until it ends.

        Introduced in notebooks/01-stream-processing-flow.ipynb (the monitor's Stop button).
        """
        if not self._poller.stop(self.stop_within_s if timeout is None else timeout):
            raise self._still_running("it will stop as soon as that returns")

    def _still_running(self, then: str) -> TriggerError:
        now = time.monotonic()
        calls = self.environments.in_flight()
        began = self._poller.pass_began
        if calls:
            doing = (
                f"{len(calls)} invocation(s) of {self.function_name!r} still running, the "
                f"oldest for {now - calls[0]:.1f} s (its timeout is {self.function.timeout} s)"
            )
        else:
            doing = (
                "no invocation, but a DynamoDB call (GetRecords, DescribeStream or a checkpoint "
                "write) that has not answered"
                + (f" for {now - began:.1f} s" if began is not None else "")
            )
        return TriggerError(
            f"The background poller of the trigger on {self.table_name!r} (thread "
            f"{self._poller_name!r}) is still running: {doing}; {then}.",
            "wait and call trigger.stop() again; if DynamoDB Local does not answer, "
            "`python -m labkit doctor` says why, and lab.close() ends the poller with it.",
        )

    def close(self, *, replaced_by: str | None = None) -> None:
        """Stop delivering (and polling), once the batch in flight is done; in-memory
        checkpoints go with the trigger. Its threads end with it; one that cannot (a poller
        waiting on DynamoDB, a timed-out call blocked in C code) is named on the output."""
        if self.closed:
            return
        left: list[str] = []
        try:
            self.stop()
        except TriggerError as exc:
            left.append(exc.what)
        if self._pool is not None:
            self._pool.shutdown(wait=not left)
            self._pool = None
        for name in self.environments.close(timeout=1.0):
            left.append(
                f"thread {name!r} is still inside a call of {self.function_name!r} that timed "
                "out, blocked in C code (time.sleep, a socket read): it ends when that returns"
            )
        self.closed = True
        self.replaced_by = replaced_by
        for text in left:
            say(text)

    @property
    def handler(self) -> Handler | str:
        """The function's handler: a callable, or its ``"module.function"`` string."""
        return self.function.handler

    @handler.setter
    def handler(self, handler: Function | Handler) -> None:
        """Deploy new code: the next invocation runs it in a fresh execution environment."""
        self.function = as_function(handler, self.table_name, self.function.function_name)
        pool = EnvironmentPool(self.function, self.region, self.variables)
        old, self.environments = self.environments, pool
        old.close(timeout=0)

    def __repr__(self) -> str:
        state = "closed" if self.closed else "running" if self.running else "open"
        if self.replaced_by is not None:
            state = "closed (replaced by a newer trigger of the same function)"
        errors = len(self.poller_errors)
        return (
            f"<Trigger {state}: {self.table_name} stream -> {self.function_name}, "
            f"batch_size={self.config.batch_size}, "
            f"starting_position={self.config.starting_position!r}, "
            f"{len(self.invocations)} invocation(s) so far"
            + (", going on from the trigger it replaced" if self.replaces else "")
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

    # -- what CloudWatch would show ---------------------------------------------------------
    def metric_data(self) -> Metrics:
        """The datapoints of this trigger's run so far (``_metrics``), and which metrics AWS
        would emit for it: the function's, and the event counts if ``metrics_config`` asks."""
        return Metrics(
            self.function_name,
            self.table_name,
            self.config.event_count_metrics,
            tuple(datapoints(self.history, self.recorder)),
        )

    def metrics(self, *names: str, period: float = 60, precision_ms: float | None = None) -> Any:
        """The CloudWatch metrics of this trigger's function and event source mapping, computed
        from its run: one row per ``period`` seconds (counted from its first datapoint), one
        column per metric with the statistic AWS views it with (``Invocations (Sum)``,
        ``IteratorAge (Maximum, ms)``, ...). ``names`` picks metrics (all by default: the
        function's five, and the six event counts when ``metrics_config`` asks for
        EventCount). ``precision_ms`` rounds Duration and IteratorAge down to a multiple of it
        (``_metrics.truncate``: the lab's timings vary from run to run). ``.chart()`` draws it.
        Each metric's AWS definition and the lab's reading: ``labkit.esm._metrics.METRICS``.

        Introduced in notebooks/13-operating-a-stream-consumer.ipynb.
        """
        self._check_period(period)
        data = self.metric_data()
        data.names(names)  # an unknown or unrequested metric: its error, with the fix
        return _seams.metrics(data, names=names, period=period, precision_ms=precision_ms)

    @staticmethod
    def _check_period(period: Any) -> None:
        if isinstance(period, bool) or not isinstance(period, int | float) or period <= 0:
            raise TriggerError(
                f"period={period!r} is not a number of seconds above 0.",
                "pass period=60 (CloudWatch's minute, Lambda's resolution) or, to see a short "
                "run in detail, period=1.",
            )

    def iterator_age_alarm(
        self,
        threshold_ms: float,
        *,
        evaluation_periods: int = 1,
        datapoints_to_alarm: int | None = None,
        period: int = 60,
        actions: tuple[str, ...] | list[str] = (),
    ) -> IteratorAgeAlarm:
        """A CloudWatch alarm on this trigger's function's IteratorAge (Maximum per ``period``
        seconds above ``threshold_ms`` in ``datapoints_to_alarm`` of ``evaluation_periods``
        periods; ``actions``: SNS topics to notify). ``alarm.history()`` evaluates it on this
        run; ``lk.cloudformation_template(trigger, alarms=[alarm])`` deploys it.

        Introduced in notebooks/13-operating-a-stream-consumer.ipynb.
        """
        return IteratorAgeAlarm(
            self.function_name,
            threshold_ms,
            evaluation_periods,
            datapoints_to_alarm,
            period,
            tuple(actions),
            source=self.metric_data,
        )

    def esm_config(
        self,
        function_name: str | None = None,
        *,
        destination_arn: str | None = None,
        stream_arn: str | None = None,
    ) -> dict[str, Any]:
        """Keyword arguments for boto3's ``lambda.create_event_source_mapping`` that set up
        this trigger on AWS: the mapping's options under the API's names, for the function the
        trigger runs (its name by default). ``destination_arn`` is the on-failure destination
        on AWS; ``stream_arn`` the real table's ``LatestStreamArn`` (the lab's own stream ARN
        otherwise, which only a lab on AWS can deploy). The function itself:
        ``lk.function_config(trigger, role_arn=...)``; both, with the table, role and policy,
        in one template: ``lk.cloudformation_template(trigger, ...)``.

        Introduced in notebooks/11-from-the-lab-to-aws.ipynb.
        """
        name = function_name or self.function_name
        if (why := check_mapping_function_name(name)) is not None:
            given = "function_name" if function_name else "The trigger's function name"
            raise DeployError(
                f"{given} {name!r} is not a FunctionName that CreateEventSourceMapping accepts: "
                f"{why}. AWS would refuse the mapping (botocore does not check it first).",
                "pass the name your function has on AWS: trigger.esm_config('order-totals') "
                "(1 to 64 letters, digits, '-' and '_'), or its ARN.",
            )
        return self.config.esm_kwargs(
            stream_arn=stream_arn or self.stream_arn,
            function_name=name,
            destination_arn=destination_arn,
        )

    # -- repairs (they never move a checkpoint) ---------------------------------------------
    def replay(
        self, document: dict[str, Any] | Discard, handler: Handler | None = None
    ) -> Invocation:
        """Invoke ``handler`` (this trigger's by default) once with the records a failure
        document points at, while the stream has them.

        Introduced in notebooks/08-when-processing-fails.ipynb.
        """
        event, shard_id = replay_event(self.reader, document)
        return self._invoke_once_with(handler, event, shard_id, "replay")

    def redeliver(self, invocation: Invocation, handler: Handler | None = None) -> Invocation:
        """Deliver an invocation's batch once more, as a duplicate (at-least-once delivery:
        a function instance that dies before the checkpoint moves gets the batch again).

        Introduced in notebooks/09-exactly-once-effects.ipynb.
        """
        event = redelivery_event(invocation)
        return self._invoke_once_with(handler, event, invocation.shard_id, "redelivered")

    def _invoke_once_with(
        self, handler: Function | Handler | None, event: dict[str, Any], shard_id: str, note: str
    ) -> Invocation:
        if handler is None:
            return self._invoke_once(event, shard_id, self.environments, note)
        pool = EnvironmentPool(
            as_function(handler, self.table_name, self.function_name), self.region
        )
        try:
            return self._invoke_once(event, shard_id, pool, note)
        finally:
            pool.close(timeout=0)

    def _invoke_once(
        self, event: dict[str, Any], shard_id: str, pool: EnvironmentPool, note: str
    ) -> Invocation:
        started = self.clock()
        response = invoke(pool, event)
        outcome = Outcome.SUCCESS if response.error is None else Outcome.ERROR
        return self.history.add(
            shard_id=shard_id,
            event=event,
            response=response,
            error=response.error,
            outcome=outcome,
            notes=(note,),
            function_name=self.function_name,
            repair=note,
            started=started,
            ended=self.clock(),
        )

"""An event source mapping as AWS describes one: which stream feeds which function, with which
options, and what it has done so far; the repairs and the deployment view of it.

``Trigger`` (``_trigger.py``) is the mapping that runs: its policy and its run loop.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from .. import _seams
from .._errors import DeployError
from ._batching import ShardWork
from ._checkpoints import CheckpointStore, MemoryCheckpoints
from ._environment import EnvironmentPool
from ._function import Function, as_function, check_mapping_function_name
from ._invocations import LOG_COLUMNS, Discard, Invocation, InvocationLog, Outcome
from ._loops import LoopDetector
from ._options import TriggerConfig
from ._poller import Poller
from ._repair import redelivery_event, replay_event
from ._runtime import Handler, invoke
from ._stream import StreamReader

__all__ = ["EventSourceMapping"]


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
    ) -> None:
        self.table_name, self.stream_arn, self.config = table_name, stream_arn, config
        self.streams, self.region, self.clock = streams, region, clock
        self.function = as_function(handler, table_name, function_name)
        self.function_name: str = str(function_name or self.function.function_name)
        if not isinstance(handler, Function):
            self.function_name = str(function_name or getattr(handler, "__name__", "handler"))
        self.variables = dict(variables or {})  # the lab's credentials and endpoints
        # DescribeTable's "Table" for a lab table name: what a deployment template is made from
        self.describe_table = describe_table
        self.environments = EnvironmentPool(self.function, region, self.variables)
        self.loops = LoopDetector(table_name, self.function_name)  # a self-feeding function
        self.destination = destination
        self.checkpoints: CheckpointStore = checkpoints or MemoryCheckpoints()
        self.reader = StreamReader(
            streams, stream_arn, config.starting_position, checkpoints=self.checkpoints
        )
        self.history = InvocationLog()
        self.poller_errors: list[str] = []  # what went wrong in background polling
        self.closed = False
        name = f"labkit-trigger-{table_name}"
        self._poller = Poller(
            lambda b: self._pass(live=True, blocked=b), self.poller_errors, name=name
        )
        self._pool: ThreadPoolExecutor | None = None
        self._lock = threading.Lock()  # lanes of one shard commit from several threads
        self._work: dict[str, ShardWork] = {}
        self._refresh_due, self._refreshed_at = True, 0.0  # read the shard list on the next pass

    def _pass(self, *, live: bool, blocked: set[tuple[str, int]]) -> bool:
        raise NotImplementedError  # the Trigger's run loop

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
        )

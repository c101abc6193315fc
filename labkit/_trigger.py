"""The trigger: labkit's event source mapping from a table's stream to a Python handler.

Like Lambda's mapping for DynamoDB Streams it reads every shard of the stream, batches records
per shard (a batch never mixes shards), calls ``handler(event, context)`` with the event shape
Lambda delivers, and advances its checkpoint only when the handler returns. A handler that raises
leaves the checkpoint where it was: the same batch is delivered again next time, and the shard
makes no progress until it succeeds (Lambda's default, ``maximum_retry_attempts=-1``).

Option names are Lambda's own, in snake_case (``batch_size``, ``starting_position``, ...).
"""

from __future__ import annotations

import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from ._capture import captured_output
from ._errors import InvalidTriggerOptionError, TriggerError
from ._events import LambdaContext, lambda_event
from ._stream import ShardState, StartingPosition, StreamReader

__all__ = ["Invocation", "Trigger", "TriggerConfig"]

Handler = Callable[[dict[str, Any], LambdaContext], Any]


@dataclass(frozen=True)
class TriggerConfig:
    """Event-source-mapping options, checked against the ranges AWS accepts for DynamoDB Streams.

    Introduced in notebooks/01-stream-processing-flow.ipynb.
    """

    batch_size: int = 100
    starting_position: str = "TRIM_HORIZON"

    def __post_init__(self) -> None:
        if (
            isinstance(self.batch_size, bool)
            or not isinstance(self.batch_size, int)
            or not 1 <= self.batch_size <= 10_000
        ):
            raise InvalidTriggerOptionError(
                f"batch_size={self.batch_size!r} is out of range: for DynamoDB Streams Lambda "
                "accepts a whole number from 1 to 10000.",
                "pass batch_size between 1 and 10000 (Lambda's default is 100).",
            )
        valid = [p.value for p in StartingPosition]
        if self.starting_position not in valid:
            raise InvalidTriggerOptionError(
                f"starting_position={self.starting_position!r} is not one DynamoDB Streams "
                f"supports ({', '.join(valid)}; AT_TIMESTAMP is for Kinesis only).",
                "pass starting_position='TRIM_HORIZON' (oldest record) or 'LATEST' (new records "
                "only).",
            )


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

    @property
    def ok(self) -> bool:
        return self.error is None

    @property
    def records(self) -> list[dict[str, Any]]:
        return list(self.event["Records"])

    @property
    def event_names(self) -> list[str]:
        return [r["eventName"] for r in self.event["Records"]]

    @property
    def sequence_numbers(self) -> list[str]:
        return [r["dynamodb"]["SequenceNumber"] for r in self.event["Records"]]

    def __repr__(self) -> str:
        outcome = "ok" if self.ok else f"error={self.error!r}"
        return (
            f"Invocation(#{self.number}, {len(self.records)} record(s) "
            f"{self.event_names}, {outcome}, logs={list(self.logs)})"
        )


@dataclass(eq=False)
class Trigger:
    """A handler attached to a table's stream; ``run_until_idle()`` delivers what is waiting.

    Introduced in notebooks/01-stream-processing-flow.ipynb.
    """

    table_name: str
    stream_arn: str
    handler: Handler
    config: TriggerConfig
    streams: Any = field(repr=False)
    region: str = "us-east-1"
    invocations: list[Invocation] = field(default_factory=list, repr=False)
    closed: bool = False

    def __post_init__(self) -> None:
        if not callable(self.handler):
            raise TriggerError(
                f"The handler for {self.table_name!r} is {self.handler!r}, which cannot be called.",
                "pass a function taking (event, context), like a Lambda handler.",
            )
        self.function_name = getattr(self.handler, "__name__", "handler")
        self._reader = StreamReader(self.streams, self.stream_arn, self.config.starting_position)

    def __repr__(self) -> str:
        state = "closed" if self.closed else "open"
        return (
            f"<Trigger {state}: {self.table_name} stream -> {self.function_name}, "
            f"batch_size={self.config.batch_size}, "
            f"starting_position={self.config.starting_position!r}, "
            f"{len(self.invocations)} invocation(s) so far>"
        )

    @property
    def reader(self) -> StreamReader:
        return self._reader

    def _invoke(self, shard: ShardState, records: list[dict[str, Any]]) -> Invocation:
        event = lambda_event(records, self.stream_arn)
        context = LambdaContext(function_name=self.function_name, region=self.region)
        result: Any = None
        error: str | None = None
        began = time.perf_counter()
        with captured_output() as logs:
            try:
                result = self.handler(event, context)
            except Exception as exc:  # the handler's failure is data, as in Lambda
                error = f"{type(exc).__name__}: {exc}"
                print(traceback.format_exc().rstrip())
        invocation = Invocation(
            number=len(self.invocations) + 1,
            shard_id=shard.shard_id,
            event=event,
            request_id=context.aws_request_id,
            result=result,
            error=error,
            logs=tuple(logs),
            duration_ms=(time.perf_counter() - began) * 1000,
        )
        self.invocations.append(invocation)
        return invocation

    def _next_batch(self, shard: ShardState) -> list[dict[str, Any]]:
        batch: list[dict[str, Any]] = []
        while len(batch) < self.config.batch_size:
            records = self._reader.read(shard, self.config.batch_size - len(batch))
            batch.extend(records)
            if not records or shard.iterator is None:
                break
        return batch

    def run_until_idle(self) -> list[Invocation]:
        """Deliver every waiting record, shard by shard, and return this run's invocations.

        Stops when a pass over all shards finds nothing new. A failed invocation leaves its
        shard's checkpoint unchanged: that batch comes again on the next run.

        Introduced in notebooks/01-stream-processing-flow.ipynb.
        """
        if self.closed:
            raise TriggerError(
                f"The trigger on {self.table_name!r} is closed.",
                "create a new one with lab.trigger(...).",
            )
        first = len(self.invocations)
        blocked: set[str] = set()
        while True:
            self._reader.refresh()
            progressed = False
            for shard in self._reader.readable():
                if shard.shard_id in blocked:
                    continue
                while not shard.finished:
                    batch = self._next_batch(shard)
                    if not batch:
                        break
                    invocation = self._invoke(shard, batch)
                    progressed = True
                    if not invocation.ok:
                        self._reader.rewind(shard, batch[0]["dynamodb"]["SequenceNumber"])
                        blocked.add(shard.shard_id)
                        break
                    self._reader.commit(shard, batch[-1]["dynamodb"]["SequenceNumber"])
                # a parent read to its end makes its children readable on the next pass
                progressed = progressed or shard.finished
            if not progressed:
                return self.invocations[first:]

    def close(self) -> None:
        """Stop delivering; the checkpoints are dropped with the trigger."""
        self.closed = True

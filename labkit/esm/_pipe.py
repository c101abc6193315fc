"""An EventBridge pipe from a DynamoDB stream: source (with filtering), enrichment, target.

Why here, in the event source mapping wing, and not a wing of its own: a pipe's source side *is*
a stream poller with the options of a Lambda mapping under other names (batch size, batching
window, starting position, filter criteria, retries, record age, bisect, parallelization: see
``_pipe_params``), so ``Pipe`` is a ``Trigger`` whose policy step (``_attempt``) differs; the
stream reader, lanes and batches, filters, retry loop, background poller, invocation log and
Lambda runtime are the mapping's own, unchanged. What differs, as AWS documents it:

[D1] The payload is a JSON array of records, "even if the batch size is 1", the records as a
     Lambda mapping delivers them ("Amazon DynamoDB stream as a source": the example event is
     ``[{"eventID": ..., "dynamodb": {...}, "eventSourceARN": ...}, ...]``), never
     ``{"Records": [...]}``.
[D2] Enrichment (a Lambda function here) is invoked synchronously with that array; "EventBridge
     Pipes passes the enrichment responses directly to the configured target"; "If you don't
     want to invoke the target, return an empty response, such as "", {}, or []" (the pipe's
     "Enrichment" section). "Partial batch failure handling of the enrichment is not
     supported": an enrichment error fails the whole batch.
[D3] Partial failure from a Lambda target: ``{"batchItemFailures": [{"itemIdentifier": id}]}``
     where "For Kinesis and DynamoDB, this is the eventID" (Lambda's mappings: the
     SequenceNumber), with no opt-in (a Lambda mapping needs FunctionResponseTypes); the success
     and failure conditions are those of Lambda's mappings ("Reporting batch item failures").
     The retry "occurs through the entire pipe, including re-invoking any configured
     enrichment". labkit's reading of "only those get retried": the batch is retried from the
     lowest failed record, as a Lambda mapping does (the page adds "it doesn't prevent the
     possibility of retries for a successful record").
[D4] ``OnPartialBatchItemFailure: AUTOMATIC_BISECT`` halves a batch that failed, wholly or in
     part, "until all the records are processed or there is one failed message remaining".
[D5] Targets are those of "Amazon EventBridge Pipes targets": Lambda functions, SQS queues and
     others, and *not* DynamoDB tables; a table is written through a function target. An SQS
     target takes at most 10 records per batch, so BatchSize may not exceed 10.
[D6] A dead-letter queue for a stream source is an SQS queue or SNS topic ARN
     (``DeadLetterConfig.Arn``); what Pipes writes to it is not documented, so the lab sends the
     failure document a Lambda mapping sends to its on-failure destination (``_failures``),
     naming the pipe.
"""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass
from typing import Any

from .. import _seams
from .._errors import TriggerError
from ._batching import Batch, Lane, ShardWork
from ._environment import EnvironmentPool
from ._failures import failure_document
from ._function import Function, as_function
from ._invocations import Discard, Invocation, Outcome
from ._metrics import iterator_age_ms
from ._options import TriggerConfig
from ._runtime import Handler, Response, invoke, json_default, judge
from ._transformer import InputTemplate, PipeNames
from ._trigger import Trigger

__all__ = ["EXECUTION_COLUMNS", "Pipe", "PipeExecution", "Queue"]

ACCOUNT = "000000000000"
EXECUTION_COLUMNS = [
    "Execution",
    "Records",
    "Attempt",
    "Enrichment got",
    "Enrichment returned",
    "Target got",
    "Target returned",
    "Outcome",
]


class Queue:
    """A stand-in for an SQS queue (the lab runs no SQS): a lab table of messages, each with a
    ``MessageId`` (numbered in the order sent) and its ``Body`` (text, as SQS keeps it). A pipe
    can target it, or send its dead letters to it (``DeadLetterConfig={"Arn": queue.arn}``).

    Introduced in notebooks/14-eventbridge-pipes.ipynb.
    """

    def __init__(self, table: Any, region: str) -> None:
        self.table = table
        self.name: str = table.table_name
        self.arn = f"arn:aws:sqs:{region}:{ACCOUNT}:{self.name}"
        self._lock = threading.Lock()
        self._sent = len(self._items())

    def _items(self) -> list[dict[str, Any]]:
        items: list[dict[str, Any]] = []
        kwargs: dict[str, Any] = {"ConsistentRead": True}
        while True:
            page = self.table.scan(**kwargs)
            items.extend(page["Items"])
            if "LastEvaluatedKey" not in page:
                return sorted(items, key=lambda i: str(i["MessageId"]))
            kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]

    def send(self, body: Any) -> str:
        """Send one message; a body that is not text is sent as its JSON. Returns its id."""
        text = body if isinstance(body, str) else json.dumps(body, default=json_default)
        with self._lock:
            self._sent += 1
            message_id = f"{self._sent:06d}"
        self.table.put_item(Item={"MessageId": message_id, "Body": text})
        return message_id

    def messages(self) -> list[dict[str, str]]:
        """Every message so far, oldest first: ``{"MessageId": ..., "Body": ...}``."""
        return [{"MessageId": str(i["MessageId"]), "Body": str(i["Body"])} for i in self._items()]

    def bodies(self) -> list[Any]:
        """Every message's body, oldest first, as JSON values where the body is JSON."""
        out = []
        for message in self.messages():
            try:
                out.append(json.loads(message["Body"]))
            except json.JSONDecodeError:
                out.append(message["Body"])
        return out

    def __len__(self) -> int:
        return len(self._items())

    def __repr__(self) -> str:
        return f"<Queue {self.name} (a lab table standing in for SQS): {len(self)} message(s)>"


@dataclass(frozen=True)
class PipeExecution:
    """One pass of a batch through the pipe: what each step got and gave back.

    Introduced in notebooks/14-eventbridge-pipes.ipynb.
    """

    number: int
    records: int
    attempt: int
    enrichment_input: Any
    enrichment_output: Any
    target_input: Any
    target_output: Any
    outcome: str
    error: str | None = None
    target_invoked: bool = True


def _empty(value: Any) -> bool:
    return value is None or (isinstance(value, str | list | dict) and not value)


def _short(value: Any, limit: int = 90) -> str:
    text = value if isinstance(value, str) else json.dumps(value, default=json_default)
    return text if len(text) <= limit else text[: limit - 3] + "..."


class Pipe(Trigger):
    """A pipe from a table's stream through an optional enrichment to a target.

    Made by ``lab.pipe(...)``. Like a trigger: ``run_until_idle()``, ``start()`` / ``stop()``,
    ``log()`` (one row per target invocation); besides: ``executions`` and ``execution_log()``
    (what the enrichment and the target got and returned), ``parameters`` (the
    DynamoDBStreamParameters with defaults filled in) and ``create_pipe_args(role_arn)``.

    Introduced in notebooks/14-eventbridge-pipes.ipynb.
    """

    def __init__(
        self,
        name: str,
        table_name: str,
        stream_arn: str,
        target: Function | Handler | Queue,
        config: TriggerConfig,
        parameters: dict[str, Any],
        *,
        source_parameters: dict[str, Any],
        enrichment: Function | Handler | None = None,
        enrichment_template: InputTemplate | None = None,
        target_template: InputTemplate | None = None,
        dead_letter: Queue | None = None,
        **mapping: Any,
    ) -> None:
        self.name = name
        self.queue = target if isinstance(target, Queue) else None
        handler = target if self.queue is None else _queue_handler(target)  # type: ignore[arg-type]
        super().__init__(table_name, stream_arn, handler, config, **mapping)
        self.parameters = parameters
        self.source_parameters = source_parameters
        self.enrichment = None if enrichment is None else as_function(enrichment, table_name, None)
        self._enrich_pool = (
            None
            if self.enrichment is None
            else EnvironmentPool(self.enrichment, self.region, self.variables)
        )
        self.enrichment_template, self.target_template = enrichment_template, target_template
        self.dead_letter = dead_letter
        self.executions: list[PipeExecution] = []
        self.arn = f"arn:aws:pipes:{self.region}:{ACCOUNT}:pipe/{name}"
        lambda_arn = f"arn:aws:lambda:{self.region}:{ACCOUNT}:function:"
        self.target_arn = (
            self.queue.arn if self.queue is not None else lambda_arn + self.function_name
        )
        self.enrichment_arn = (
            "" if self.enrichment is None else lambda_arn + self.enrichment.function_name
        )
        self.names = PipeNames(self.arn, name, stream_arn, self.enrichment_arn, self.target_arn)
        self._poller_name = f"labkit-pipe-{name}"

    # -- one pass through the pipe ----------------------------------------------------------
    def _transform(self, template: InputTemplate | None, payload: Any) -> Any:
        if template is None:
            return payload
        if isinstance(payload, list):  # applied to each record, not the array [T5]
            return [template.render(item, self.names) for item in payload]
        return template.render(payload, self.names)

    def _send_to_queue(self, payload: Any) -> Response:
        assert self.queue is not None
        items = payload if isinstance(payload, list) else [payload]
        for item in items:
            self.queue.send(item)
        return Response(None, None, (), 0.0, f"sqs-{len(self.executions) + 1}")

    def _execute(self, records: list[dict[str, Any]]) -> tuple[Response, Any]:
        """Enrichment, then target. Returns the target's response (or the enrichment's when it
        failed or asked for no target call) and what the execution log keeps."""
        enrich_in = enrich_out = None
        payload: Any = records
        if self._enrich_pool is not None:
            enrich_in = self._transform(self.enrichment_template, records)
            enriched = invoke(self._enrich_pool, enrich_in)
            enrich_out = enriched.error if enriched.error else enriched.result
            if enriched.error is not None or _empty(enriched.result):
                why = "enrichment failed: " + enriched.error if enriched.error else None
                return enriched, (enrich_in, enrich_out, None, why)
            payload = enriched.result
        target_in = self._transform(self.target_template, payload)
        if self.queue is not None:
            if isinstance(target_in, list) and len(target_in) > 10:
                error = f"the enrichment returned {len(target_in)} items; an SQS target takes 10"
                response = Response(None, error, (), 0.0, "sqs")
            else:
                response = self._send_to_queue(target_in)
        else:
            response = invoke(self.environments, target_in)
        return response, (enrich_in, enrich_out, target_in, None)

    def _attempt(self, work: ShardWork, lane: Lane, *, live: bool) -> str:
        batch = lane.next_batch(self.config, self.clock(), live=live)
        if batch is None:
            return "idle"
        if expired := batch.take_expired(self.clock(), self.config.maximum_record_age_in_seconds):
            self._discard(work, expired, "RecordAgeExceeded", None)
            if not batch.entries:
                lane.pending.popleft()
            return "progress"
        records = [e.for_delivery(self.stream_arn) for e in batch.entries]  # [D1]
        self.loops.check(batch.entries, self.function)
        started = self.clock()
        response, (enrich_in, enrich_out, target_in, why) = self._execute(records)
        self.loops.after(batch.entries, response.writes)
        invoked = target_in is not None
        if why is not None:
            outcome, reason, good = Outcome.ERROR, why, 0
        elif not invoked:  # the enrichment returned nothing: no target call, success [D2]
            outcome, reason, good = Outcome.SUCCESS, None, len(records)
        else:
            outcome, reason, good = judge(  # [D3]: eventIDs name the failed records
                response,
                [r["eventID"] for r in records],
                report_batch_item_failures=True,
                tumbling_window=False,
            )
        invocation = self.history.add(
            shard_id=work.shard.shard_id,
            event={"Records": records},
            response=response,
            error=reason,
            outcome=outcome,
            attempt=batch.failures + 1,
            **batch.place(),
            notes=tuple(n for e in batch.entries for n in e.notes)
            + (() if invoked else ("the enrichment returned nothing: target not invoked",)),
            function_name=self.function_name,
            started=started,
            ended=self.clock(),
            iterator_age_ms=iterator_age_ms(started, batch.entries),
        )
        self.executions.append(
            PipeExecution(
                invocation.number,
                len(records),
                batch.failures + 1,
                enrich_in,
                enrich_out,
                target_in,
                response.error if response.error else response.result,
                outcome.value,
                reason,
                invoked,
            )
        )
        if outcome is Outcome.SUCCESS:
            self._finish(work, batch, len(batch.entries))
            lane.pending.popleft()
            return "progress"
        batch.failures += 1
        if self.config.bisect_batch_on_function_error and len(batch.entries) > 1:  # [D4]
            batch.failures -= 1
            lane.pending.popleft()
            lane.pending.extendleft(reversed(batch.split()))
            return "progress"
        if outcome is Outcome.PARTIAL_FAILURE and good:
            self._finish(work, batch, good)  # retry from the lowest failed record [D3]
            batch.entries = batch.entries[good:]
            if not self._exhausted(batch):
                return "progress"
        if self._exhausted(batch):
            self._discard(work, batch, "RetryAttemptsExhausted", invocation)
            lane.pending.popleft()
            return "progress"
        if self.config.maximum_retry_attempts == -1:
            self.history.note(invocation, "shard blocked: MaximumRetryAttempts is -1")
        return "retry"

    def _discard(
        self, work: ShardWork, batch: Batch, condition: str, invocation: Invocation | None
    ) -> None:
        document = failure_document(
            condition=condition,
            function_arn=self.arn,
            invocation=invocation,
            failed_invocations=batch.failures,
            shard_id=work.shard.shard_id,
            sequence_numbers=batch.sequence_numbers,
            created=[e.created for e in batch.entries],
            stream_arn=self.stream_arn,
        )
        where = None
        if self.dead_letter is not None:  # [D6]
            self.dead_letter.send(document)
            where = self.dead_letter.name
        self.history.add_discard(
            Discard(
                work.shard.shard_id,
                condition,
                tuple(batch.sequence_numbers),
                document,
                where,
                records=tuple(e.record for e in batch.entries),
                **batch.place(),
            )
        )
        self._finish(work, batch, len(batch.entries))

    # -- what a learner reads -----------------------------------------------------------------
    def execution_log(self) -> Any:
        """One row per pass of a batch through the pipe: what the enrichment and the target got
        and returned (shortened), and how it ended.

        Introduced in notebooks/14-eventbridge-pipes.ipynb.
        """
        rows = [
            {
                "Execution": e.number,
                "Records": e.records,
                "Attempt": e.attempt,
                "Enrichment got": "" if e.enrichment_input is None else _short(e.enrichment_input),
                "Enrichment returned": ""
                if self.enrichment is None
                else _short(e.enrichment_output),
                "Target got": _short(e.target_input) if e.target_invoked else "(not invoked)",
                "Target returned": _short(e.target_output) if e.target_invoked else "",
                "Outcome": e.outcome + (f": {e.error}" if e.error else ""),
            }
            for e in self.executions
        ]
        return _seams.table(rows, EXECUTION_COLUMNS)

    def esm_config(self, *args: Any, **kwargs: Any) -> dict[str, Any]:
        """A pipe is not an event source mapping: its AWS form is ``create_pipe_args``.

        Introduced in notebooks/14-eventbridge-pipes.ipynb.
        """
        raise TriggerError(
            f"The pipe {self.name!r} is not a Lambda event source mapping, so it has no "
            "CreateEventSourceMapping arguments.",
            "use pipe.create_pipe_args(role_arn=...) for boto3's pipes.create_pipe.",
        )

    def create_pipe_args(
        self, *, role_arn: str, stream_arn: str | None = None, target_arn: str | None = None
    ) -> dict[str, Any]:
        """Keyword arguments for boto3's ``pipes.create_pipe`` that make this pipe on AWS,
        checked against botocore's ``pipes`` model (no request is sent). ``stream_arn`` is the
        real table's stream, ``target_arn`` the real target (the lab's own ARNs otherwise).

        Introduced in notebooks/14-eventbridge-pipes.ipynb.
        """
        from botocore.validate import validate_parameters

        from ._pipe_params import pipes_shape

        args: dict[str, Any] = {
            "Name": self.name,
            "RoleArn": role_arn,
            "Source": stream_arn or self.stream_arn,
            "SourceParameters": {"DynamoDBStreamParameters": dict(self.parameters)},
            "Target": target_arn or self.target_arn,
        }
        if self.source_parameters.get("FilterCriteria"):
            args["SourceParameters"]["FilterCriteria"] = self.source_parameters["FilterCriteria"]
        if self.enrichment is not None:
            args["Enrichment"] = self.enrichment_arn
            if self.enrichment_template is not None:
                args["EnrichmentParameters"] = {"InputTemplate": self.enrichment_template.template}
        target_parameters: dict[str, Any] = {}
        if self.target_template is not None:
            target_parameters["InputTemplate"] = self.target_template.template
        if self.queue is None:
            target_parameters["LambdaFunctionParameters"] = {"InvocationType": "REQUEST_RESPONSE"}
        args["TargetParameters"] = target_parameters
        validate_parameters(args, pipes_shape("CreatePipeRequest"))
        return args

    def close(self, *, replaced_by: str | None = None) -> None:
        super().close(replaced_by=replaced_by)
        if self._enrich_pool is not None:
            self._enrich_pool.close(timeout=1.0)

    def _check_usable(self) -> None:
        if self.closed:
            raise TriggerError(
                f"The pipe {self.name!r} is closed"
                + (f" ({self.replaced_by})" if self.replaced_by else "")
                + ".",
                "use the pipe the latest lab.pipe(...) call returned.",
            )

    def __repr__(self) -> str:
        state = "closed" if self.closed else "running" if self.running else "open"
        enrich = f" -> {self.enrichment.function_name}" if self.enrichment else ""
        target = f"queue {self.queue.name}" if self.queue else self.function_name
        return (
            f"<Pipe {self.name} {state}: {self.table_name} stream{enrich} -> {target}, "
            f"BatchSize={self.config.batch_size}, {len(self.executions)} execution(s) so far>"
        )


def _queue_handler(queue: Queue) -> Handler:
    """The function slot of a pipe whose target is a queue (never invoked: the pipe sends)."""

    def handler(event: Any, context: Any) -> None:
        for item in event if isinstance(event, list) else [event]:
            queue.send(item)

    handler.__name__ = f"sqs-{queue.name}"
    return handler

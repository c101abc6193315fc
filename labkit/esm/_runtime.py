"""The Lambda runtime around a handler: call it with an event and a context, capture what it
prints, and turn what it returned (or raised) into a response Lambda would accept or reject.

This room knows nothing of shards, batches or retries: the trigger asks it to ``invoke`` a
handler once and gets a ``Response``; ``judge`` then reads that response as the event source
mapping does (a function error, a partial batch failure, a tumbling window's state).
"""

from __future__ import annotations

import datetime as dt
import decimal
import inspect
import json
import time
import traceback
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from .._errors import TriggerError
from ._capture import captured_output
from ._invocations import Outcome

__all__ = [
    "Handler",
    "LambdaContext",
    "Response",
    "check_handler",
    "invoke",
    "json_default",
    "judge",
]

Handler = Callable[[dict[str, Any], Any], Any]


@dataclass
class LambdaContext:
    """The context object Lambda passes as the handler's second argument (the fields Python gets).

    Introduced in notebooks/01-stream-processing-flow.ipynb.
    """

    function_name: str
    function_version: str = "$LATEST"
    memory_limit_in_mb: int = 128
    timeout_s: float = 3.0
    region: str = "us-east-1"
    account_id: str = "000000000000"
    aws_request_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    identity: Any = None  # Cognito identity: only for mobile SDK invocations
    client_context: Any = None  # only for mobile SDK invocations
    _deadline: float = field(default=0.0, repr=False)

    def __post_init__(self) -> None:
        self._deadline = time.monotonic() + self.timeout_s

    @property
    def invoked_function_arn(self) -> str:
        return f"arn:aws:lambda:{self.region}:{self.account_id}:function:{self.function_name}"

    @property
    def log_group_name(self) -> str:
        return f"/aws/lambda/{self.function_name}"

    @property
    def log_stream_name(self) -> str:
        day = dt.datetime.now(dt.UTC).strftime("%Y/%m/%d")
        return f"{day}/[{self.function_version}]{self.aws_request_id.replace('-', '')}"

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self._deadline - time.monotonic()) * 1000))


@dataclass(frozen=True)
class Response:
    """What one call of a handler gave: its result or error, its log lines, how long it took."""

    result: Any
    error: str | None
    logs: tuple[str, ...]
    duration_ms: float
    request_id: str


class _Unmarshallable(Exception):
    """The handler returned something Lambda could not turn into JSON."""


def json_default(value: Any) -> Any:
    """JSON for what Lambda's Python runtime can serialise beyond plain JSON: Decimals."""
    if isinstance(value, decimal.Decimal):  # Lambda's runtime writes Decimals as numbers
        return int(value) if value == value.to_integral_value() else float(value)
    raise TypeError(f"Object of type {type(value).__name__} is not JSON serializable")


def _marshal(result: Any) -> None:
    """Fail as Lambda's runtime does when the response cannot be serialised to JSON."""
    if inspect.iscoroutine(result) or inspect.isgenerator(result):
        result.close()
        raise _Unmarshallable(f"the handler returned a {type(result).__name__}: its body never ran")
    try:
        json.dumps(result, default=json_default)
    except (TypeError, ValueError) as exc:
        raise _Unmarshallable(f"Unable to marshal response: {exc}") from exc


def check_handler(handler: object, table_name: str) -> None:
    """Refuse, when the trigger is made, a handler Lambda's Python runtime could not run."""
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


def invoke(handler: Handler, event: dict[str, Any], *, function_name: str, region: str) -> Response:
    """Call ``handler(event, context)`` once, as Lambda's runtime does; never raises for the
    handler's own failure (that is data: ``Response.error``, with the traceback in the logs)."""
    context = LambdaContext(function_name=function_name, region=region)
    result: Any = None
    error: str | None = None
    began = time.perf_counter()
    with captured_output() as logs:
        try:
            result = handler(event, context)
            _marshal(result)
        except _Unmarshallable as exc:
            error = f"Runtime.MarshalError: {exc}"
            print(error)
        except (Exception, SystemExit) as exc:  # the handler's failure is data, as in Lambda
            error = f"{type(exc).__name__}: {exc}"
            print(traceback.format_exc().rstrip())
    took = (time.perf_counter() - began) * 1000
    return Response(result, error, tuple(logs), took, context.aws_request_id)


def judge(
    response: Response,
    sequence_numbers: Sequence[str],
    *,
    report_batch_item_failures: bool,
    tumbling_window: bool,
) -> tuple[Outcome, str | None, int]:
    """How the event source mapping reads a response: the outcome, an error text, and how many
    leading records of the batch succeeded.

    With ``ReportBatchItemFailures`` ("Configuring partial batch response with DynamoDB and
    Lambda"): a null or empty ``batchItemFailures`` is complete success; an item whose
    ``itemIdentifier`` is missing, empty or not in the batch fails the whole batch; otherwise the
    batch is checkpointed before the lowest failed sequence number.
    """
    result = response.result
    if response.error is not None:
        return Outcome.ERROR, response.error, 0
    if tumbling_window and not (isinstance(result, dict) and isinstance(result.get("state"), dict)):
        return (
            Outcome.ERROR,
            "with a tumbling window the handler must return "
            "{'state': {...}}; it returned " + repr(result)[:80],
            0,
        )
    if not report_batch_item_failures:
        return Outcome.SUCCESS, None, len(sequence_numbers)
    if result is None or (isinstance(result, dict) and not result.get("batchItemFailures")):
        return Outcome.SUCCESS, None, len(sequence_numbers)  # null or empty: success
    if not isinstance(result, dict) or not isinstance(result["batchItemFailures"], list):
        return (
            Outcome.ERROR,
            "the response is not {'batchItemFailures': [...]}: " + repr(result)[:80],
            0,
        )
    positions = {sequence: i for i, sequence in enumerate(sequence_numbers)}
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

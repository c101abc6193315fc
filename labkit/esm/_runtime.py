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
import math
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from ._capture import LogBuffer
from ._environment import INIT_LIMIT_S, EnvironmentPool, Job, process_mb
from ._invocations import Outcome
from ._loops import Write

__all__ = [
    "PAYLOAD_LIMIT",
    "Handler",
    "LambdaContext",
    "Response",
    "check_response",
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
    # A string, as AWS's Python runtime gives it (awslambdaric reads it from the environment).
    memory_limit_in_mb: str = "128"
    timeout_s: float = 3.0
    region: str = "us-east-1"
    account_id: str = "000000000000"
    aws_request_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    identity: Any = None  # Cognito identity: only for mobile SDK invocations
    client_context: Any = None  # only for mobile SDK invocations
    environment_id: str = field(default_factory=lambda: uuid.uuid4().hex, repr=False)
    _deadline: float = field(default=0.0, repr=False)

    def __post_init__(self) -> None:
        self.memory_limit_in_mb = str(self.memory_limit_in_mb)
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
        return f"{day}/[{self.function_version}]{self.environment_id}"

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
    cold_start: bool = False
    writes: tuple[Write, ...] = ()  # what the handler wrote to DynamoDB (``_loops``)


class _Unmarshallable(Exception):
    """The handler returned something Lambda could not turn into JSON."""


class _ResponseTooLarge(Exception):
    """The handler's response is over Lambda's 6 MB payload limit."""


def json_default(value: Any) -> Any:
    """JSON for what Lambda's Python runtime can serialise beyond plain JSON: Decimals."""
    if isinstance(value, decimal.Decimal):  # Lambda's runtime writes Decimals as numbers
        return int(value) if value == value.to_integral_value() else float(value)
    raise TypeError(f"Object of type {type(value).__name__} is not JSON serializable")


# "Invocation payload (request and response): 6 MB each for synchronous" (Lambda quotas);
# the runtime's own check uses 6,291,556 bytes for the response.
PAYLOAD_LIMIT = 6 * 1024 * 1024
RESPONSE_LIMIT = 6_291_556


def check_response(result: Any) -> None:
    """Fail as Lambda's runtime does for a response it cannot send back."""
    if inspect.iscoroutine(result) or inspect.isgenerator(result):
        result.close()
        raise _Unmarshallable(f"the handler returned a {type(result).__name__}: its body never ran")
    if result is None:
        return
    try:
        body = json.dumps(result, default=json_default)
    except (TypeError, ValueError) as exc:
        raise _Unmarshallable(f"Unable to marshal response: {exc}") from exc
    if len(body.encode()) > RESPONSE_LIMIT:
        raise _ResponseTooLarge(
            f"Response payload size ({len(body.encode())} bytes) exceeded maximum allowed "
            f"payload size ({RESPONSE_LIMIT} bytes)."
        )


def _stamp() -> str:
    return dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def invoke(pool: EnvironmentPool, event: dict[str, Any]) -> Response:
    """Invoke the pool's function once with ``event``, as Lambda does: in an execution
    environment (cold or warm), within its timeout, its output framed by ``START``, ``END`` and
    ``REPORT`` lines. Never raises for the function's own failure: that is ``Response.error``."""
    function = pool.function
    env = pool.acquire()
    cold = env.handler is None
    baseline = pool.baseline_mb
    context = LambdaContext(
        function_name=function.function_name,
        memory_limit_in_mb=str(function.memory_size),
        timeout_s=float(function.timeout),
        region=pool.region,
        environment_id=env.id,
    )
    request_id = context.aws_request_id
    buffer = LogBuffer(request_id)
    job = Job(event, context, buffer, check_response)
    env.submit(job)
    job.initialised.wait(INIT_LIMIT_S)
    began = time.perf_counter()
    finished = job.done.wait(function.timeout)
    took = (time.perf_counter() - began) * 1000
    if finished and job.duration_ms is not None:
        took = job.duration_ms  # measured around the handler itself, in its thread
    error: str | None = None
    status = ""
    if not finished:
        env.abandon()
        job.end()
        error = f"Task timed out after {function.timeout:.2f} seconds"
        status, took = "\tStatus: timeout", function.timeout * 1000.0
    elif job.init_error is not None:
        error = f"{type(job.init_error).__name__}: {job.init_error}"
        status = "\tStatus: error\tError Type: Runtime.ImportModuleError"
    elif isinstance(job.error, _Unmarshallable):
        error = f"Runtime.MarshalError: {job.error}"
    elif isinstance(job.error, _ResponseTooLarge):
        error = f"Function.ResponseSizeTooLarge: {job.error}"
    elif job.error is not None:
        error = f"{type(job.error).__name__}: {job.error}"
    pool.release(env)
    # On a cold start the init phase comes first in CloudWatch Logs: what the module's own code
    # wrote precedes START ("Lambda execution environment lifecycle": Init, then Invoke).
    # (AWS also writes an INIT_START line naming its runtime version; the lab has no such
    # version to name, so the frame here is START, END and REPORT.)
    init_lines, handler_lines = buffer.phases()
    logs = [*init_lines, f"START RequestId: {request_id} Version: $LATEST", *handler_lines]
    if error is not None and (not finished or error.startswith(("Runtime.", "Function."))):
        logs.append(f"{_stamp()} {request_id} {error}")
    used = max(1, round(process_mb() - baseline))
    init = f"\tInit Duration: {env.init_ms:.2f} ms" if cold and env.init_ms is not None else ""
    logs += [
        f"END RequestId: {request_id}",
        f"REPORT RequestId: {request_id}\tDuration: {took:.2f} ms\t"
        f"Billed Duration: {math.ceil(took)} ms\tMemory Size: {function.memory_size} MB\t"
        f"Max Memory Used: {used} MB{init}{status}",
    ]
    result = job.result if finished and error is None else None
    return Response(result, error, tuple(logs), took, request_id, cold, tuple(job.writes))


def _is_empty_response(result: Any) -> bool:
    """An empty or null EventResponse: what a handler returns as JSON ``null``, ``""``, ``[]``
    or ``{}`` (a tuple is a JSON array too)."""
    return result is None or (isinstance(result, str | list | tuple | dict) and not result)


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
    Lambda", "Success and failure conditions"): "Lambda treats a batch as a complete success if
    you return ... An empty batchItemFailure list, A null batchItemFailure list, An empty
    EventResponse, A null EventResponse", and "as a complete failure if you return ... An empty
    string itemIdentifier, A null itemIdentifier, An itemIdentifier with a bad key name";
    otherwise the batch is checkpointed before the lowest failed sequence number. An empty
    response is any empty JSON value a handler can return: ``None``, ``{}``, ``[]`` and ``""``
    (AWS recorded ``[]`` and ``{}`` as one successful invocation, no retry: LocalStack's
    AWS-validated ``test_dynamodb_report_batch_item_success_scenarios``, 2025-11-25). Any other
    response that is not an object (``"abc"``, ``5``, ``true``, ``["x"]``) cannot be read as
    an EventResponse and fails the whole batch, as the SQS page of the same guide lists "An
    invalid JSON response" among the complete failures (the stream pages list no such case;
    this is labkit's reading, not a recording). An ``itemIdentifier`` that names no record of
    the batch fails it too.
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
    if _is_empty_response(result) or (
        isinstance(result, dict) and not result.get("batchItemFailures")
    ):
        return Outcome.SUCCESS, None, len(sequence_numbers)  # null or empty: success
    if not isinstance(result, dict) or not isinstance(result["batchItemFailures"], list):
        return (
            Outcome.ERROR,
            "the response is not {'batchItemFailures': [...]} (nor empty): "
            + repr(result)[:80]
            + "; the whole batch counts as failed",
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

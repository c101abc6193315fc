"""The one error hierarchy of labkit.

Every error a learner can meet says *what happened*, *why*, and *what to do*::

    LabError
    ├── SetupError                    the machine lacks something labkit needs
    │   ├── JavaNotFoundError         no Java 17+ runtime
    │   └── DynamoDBLocalNotFoundError no usable DynamoDB Local jar
    ├── BackendError                  the DynamoDB endpoint could not be used
    │   ├── PortInUseError            the chosen port is taken
    │   ├── BackendStartError         DynamoDB Local did not come up
    │   ├── EndpointUnreachableError  nothing answers at the endpoint
    │   ├── BackendStoppedError       the lab's DynamoDB Local died or froze
    │   └── AWSRequestRefusedError    a request from a local lab would have left the machine
    ├── TableError                    a table could not be made or used
    │   ├── InvalidTableNameError
    │   ├── TableExistsError
    │   ├── StreamNotEnabledError
    │   └── InvalidItemError          an item holds a value DynamoDB cannot store
    ├── FunctionError                 a function (code, handler, environment, limits) is invalid
    ├── TriggerError                  a trigger was set up or used wrongly
    │   ├── InvalidTriggerOptionError
    │   ├── RecursiveLoopError        the function keeps feeding its own stream: stopped
    │   └── DeployError               a trigger cannot be turned into an AWS deployment
    ├── TraceError                    the tracer was used out of order
    └── QuizError                     a quiz file is malformed

The original exception, when there is one, is kept as ``cause`` (and as ``__cause__``).
"""

from __future__ import annotations

__all__ = [
    "AWSRequestRefusedError",
    "BackendError",
    "BackendStartError",
    "BackendStoppedError",
    "DeployError",
    "DynamoDBLocalNotFoundError",
    "EndpointUnreachableError",
    "FunctionError",
    "InvalidItemError",
    "InvalidTableNameError",
    "InvalidTriggerOptionError",
    "JavaNotFoundError",
    "LabError",
    "PortInUseError",
    "QuizError",
    "RecursiveLoopError",
    "SetupError",
    "StreamNotEnabledError",
    "TableError",
    "TableExistsError",
    "TraceError",
    "TriggerError",
]


class LabError(Exception):
    """Base class of every labkit error: a diagnosis plus the fix.

    ``str(error)`` reads ``<what happened> Fix: <what to do>``; ``error.what`` and
    ``error.fix`` hold the two parts.
    """

    def __init__(self, what: str, fix: str, *, cause: BaseException | None = None) -> None:
        self.what = what
        self.fix = fix
        self.cause = cause
        super().__init__(f"{what}\nFix: {fix}")
        if cause is not None:
            self.__cause__ = cause


class SetupError(LabError):
    """Something labkit needs is missing from this machine."""


class JavaNotFoundError(SetupError):
    """No Java 17+ runtime was found (DynamoDB Local 3.x needs one)."""


class DynamoDBLocalNotFoundError(SetupError):
    """No usable DynamoDB Local jar was found or could be installed."""


class BackendError(LabError):
    """The DynamoDB endpoint could not be started or reached."""


class PortInUseError(BackendError):
    """The port asked for is already taken by another program."""


class BackendStartError(BackendError):
    """DynamoDB Local exited or did not answer in time."""


class EndpointUnreachableError(BackendError):
    """Nothing answers DynamoDB requests at the endpoint."""


class BackendStoppedError(BackendError):
    """The DynamoDB Local the lab started stopped while the lab used it: its process was killed
    or exited, or it froze (suspended, or no answer at all). Its tables were in memory, so they
    are gone; ``lk.start()`` starts a fresh one.

    ``reason`` says what happened to the process (``"its Java process was killed by signal 9
    (SIGKILL)"``). See ``labkit/backend/_health.py``.
    """

    def __init__(
        self, what: str, fix: str, *, reason: str = "", cause: BaseException | None = None
    ) -> None:
        super().__init__(what, fix, cause=cause)
        self.reason = reason


class AWSRequestRefusedError(BackendError):
    """While a local lab runs, an AWS SDK request was about to leave the machine (a client made
    before ``lk.start()``, or a service the lab does not emulate); it was refused unsent.

    ``url`` is where it would have gone, ``service`` the client's endpoint prefix (``"sqs"``).
    """

    def __init__(
        self,
        what: str,
        fix: str,
        *,
        url: str = "",
        service: str | None = None,
        cause: BaseException | None = None,
    ) -> None:
        super().__init__(what, fix, cause=cause)
        self.url = url
        self.service = service


class TableError(LabError):
    """A table could not be created or used."""


class InvalidTableNameError(TableError):
    """The name breaks DynamoDB's table-name rules."""


class TableExistsError(TableError):
    """A table of that name already exists."""


class StreamNotEnabledError(TableError):
    """The table has no stream, so nothing can be read or triggered from it."""


class InvalidItemError(TableError):
    """An item holds a value DynamoDB cannot store (a float, a number out of DynamoDB's range or
    precision); nothing was written.

    Introduced in notebooks/01-stream-processing-flow.ipynb.
    """


class FunctionError(LabError):
    """A function's definition is invalid: its handler, code, environment or limits."""


class TriggerError(LabError):
    """A trigger (event source mapping) was configured or used wrongly."""


class InvalidTriggerOptionError(TriggerError):
    """An event-source-mapping option is outside the range AWS accepts."""


class RecursiveLoopError(TriggerError):
    """A function kept writing to the table whose stream invokes it, in response to records it
    had written itself: a loop that never ends. The lab stopped the trigger before its next
    invocation; the records waiting in the stream are kept.

    ``function_name``, ``table_name`` and ``generations`` say which loop, and how deep it got.
    """

    def __init__(
        self,
        what: str,
        fix: str,
        *,
        function_name: str = "",
        table_name: str = "",
        generations: int = 0,
    ) -> None:
        super().__init__(what, fix)
        self.function_name = function_name
        self.table_name = table_name
        self.generations = generations


class TraceError(LabError):
    """The tracer was used out of order (a step inside a step, say)."""


class QuizError(LabError):
    """A quiz file does not follow the quiz format."""


class DeployError(TriggerError):
    """A trigger cannot be turned into an AWS deployment as asked (a missing destination ARN,
    arguments boto3 would refuse).

    Introduced in notebooks/11-from-the-lab-to-aws.ipynb.
    """

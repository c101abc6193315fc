"""labkit: the machinery behind DynamoDB Streams Lab.

``import labkit as lk`` gives a learner a small set of verbs::

    lab = lk.start()                         # DynamoDB Local, started for you
    orders = lab.create_table("orders")      # a table with a stream
    trigger = lab.trigger("orders", handler) # your handler, fed like AWS Lambda
    trigger.run_until_idle()                 # deliver what the stream captured
    trace = lk.Tracer(lab, ...)              # execution table and variable tracker
    lk.quiz("quizzes/01-stream-processing-flow.json")

Engine modules (no Jupyter imports): _install, _java, _server, _lab, _stream, _events, _trigger.
Presentation modules: _tracer, _quiz, _doctor, _monitor.
"""

from __future__ import annotations

from ._check import CheckResult, Exercise, check
from ._checkpoints import MemoryCheckpoints, TableCheckpoints
from ._deploy import check_esm_config, cloudformation_template, iam_policy
from ._display import LabTable
from ._doctor import Check, Report, doctor
from ._errors import (
    BackendError,
    BackendStartError,
    DeployError,
    DynamoDBLocalNotFoundError,
    EndpointUnreachableError,
    InvalidTableNameError,
    InvalidTriggerOptionError,
    JavaNotFoundError,
    LabError,
    PortInUseError,
    QuizError,
    SetupError,
    StreamNotEnabledError,
    TableError,
    TableExistsError,
    TraceError,
    TriggerError,
)
from ._events import EventName, LambdaContext, StreamViewType, lambda_event
from ._lab import Lab, start
from ._monitor import Monitor, monitor
from ._options import TriggerConfig
from ._quiz import Feedback, Option, Question, Quiz, quiz
from ._stream import StartingPosition, StreamReader
from ._tracer import Change, StepTrace, Tracer
from ._trigger import Discard, Invocation, Outcome, Trigger

__version__ = "0.1.0"

__all__ = [
    "BackendError",
    "BackendStartError",
    "Change",
    "Check",
    "CheckResult",
    "DeployError",
    "Discard",
    "DynamoDBLocalNotFoundError",
    "EndpointUnreachableError",
    "EventName",
    "Exercise",
    "Feedback",
    "InvalidTableNameError",
    "InvalidTriggerOptionError",
    "Invocation",
    "JavaNotFoundError",
    "Lab",
    "LabError",
    "LabTable",
    "LambdaContext",
    "MemoryCheckpoints",
    "Monitor",
    "Option",
    "Outcome",
    "PortInUseError",
    "Question",
    "Quiz",
    "QuizError",
    "Report",
    "SetupError",
    "StartingPosition",
    "StepTrace",
    "StreamNotEnabledError",
    "StreamReader",
    "StreamViewType",
    "TableCheckpoints",
    "TableError",
    "TableExistsError",
    "TraceError",
    "Tracer",
    "Trigger",
    "TriggerConfig",
    "TriggerError",
    "check",
    "check_esm_config",
    "cloudformation_template",
    "doctor",
    "iam_policy",
    "lambda_event",
    "monitor",
    "quiz",
    "start",
]

"""labkit: the machinery behind DynamoDB Streams Lab.

``import labkit as lk`` gives a learner a small set of verbs::

    lab = lk.start()                         # DynamoDB Local, started for you
    orders = lab.create_table("orders")      # a table with a stream
    trigger = lab.trigger("orders", handler) # your handler, fed like AWS Lambda
    trigger.run_until_idle()                 # deliver what the stream captured
    trace = lk.Tracer(lab, ...)              # execution table and variable tracker
    lk.quiz("quizzes/01-stream-processing-flow.json")
    lk.check("01-keep-real-orders", handler) # a graded exercise
    lk.progress()                            # exercises and quizzes done, lesson by lesson
    lk.timeline(trigger)                     # the run as a picture

labkit is built in three wings (see README, "How labkit is built"):

* ``labkit.backend``: Java, DynamoDB Local, the loopback server, where to connect;
* ``labkit.esm``: the event source mapping: reading, shaping, filtering, batching, the Lambda
  runtime, policy, failure documents, deployment;
* ``labkit.teach``: tracer, monitor, quiz, check, doctor, notebook generation.

``labkit._lab`` joins the first two into the ``Lab`` a lesson holds. The engine (backend, esm,
``_lab``) imports nothing from ``teach`` and no pandas, ipywidgets, tqdm or matplotlib; the
teaching wing is imported here only when one of its names is first used. The engine asks for a
progress bar and a log table through ``labkit._seams``; this module names the teaching wing's as
the ones to use.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from . import _seams
from ._errors import (
    AWSRequestRefusedError,
    BackendError,
    BackendStartError,
    BackendStoppedError,
    DeployError,
    DynamoDBLocalNotFoundError,
    EndpointUnreachableError,
    FunctionError,
    InvalidItemError,
    InvalidTableNameError,
    InvalidTriggerOptionError,
    JavaNotFoundError,
    LabError,
    PortInUseError,
    QuizError,
    RecursiveLoopError,
    SetupError,
    StreamNotEnabledError,
    TableError,
    TableExistsError,
    TraceError,
    TriggerError,
)
from ._lab import Lab, start
from .esm import (
    Discard,
    EventName,
    Function,
    Invocation,
    LambdaContext,
    MemoryCheckpoints,
    Outcome,
    StartingPosition,
    StreamReader,
    StreamViewType,
    TableCheckpoints,
    Trigger,
    TriggerConfig,
    check_esm_config,
    cloudformation_template,
    creation_checks,
    function_config,
    iam_policy,
    lambda_event,
)

if TYPE_CHECKING:
    from .teach import (
        LabTable,
        Tracer,
        check,
        doctor,
        monitor,
        progress,
        quiz,
        shard_strip,
        timeline,
    )

_seams.register(
    bar="labkit.teach._progress:bar",
    table="labkit.teach._display:lab_table",
    metrics="labkit.teach._metrics:metrics_table",
)

__version__ = "0.1.0"

# The teaching wing's public names, imported on first use (``lk.Tracer`` imports pandas).
_TEACH = (
    "LabTable",
    "Tracer",
    "check",
    "doctor",
    "monitor",
    "progress",
    "quiz",
    "shard_strip",
    "timeline",
)


def __getattr__(name: str) -> Any:
    if name in _TEACH:
        value = getattr(importlib.import_module(".teach", __name__), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'labkit' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(__all__)


__all__ = [
    "AWSRequestRefusedError",
    "BackendError",
    "BackendStartError",
    "BackendStoppedError",
    "DeployError",
    "Discard",
    "DynamoDBLocalNotFoundError",
    "EndpointUnreachableError",
    "EventName",
    "Function",
    "FunctionError",
    "InvalidItemError",
    "InvalidTableNameError",
    "InvalidTriggerOptionError",
    "Invocation",
    "JavaNotFoundError",
    "Lab",
    "LabError",
    "LabTable",
    "LambdaContext",
    "MemoryCheckpoints",
    "Outcome",
    "PortInUseError",
    "QuizError",
    "RecursiveLoopError",
    "SetupError",
    "StartingPosition",
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
    "creation_checks",
    "doctor",
    "function_config",
    "iam_policy",
    "lambda_event",
    "monitor",
    "progress",
    "quiz",
    "shard_strip",
    "start",
    "timeline",
]

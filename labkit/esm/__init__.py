"""The event source mapping wing: what Lambda does between a DynamoDB stream and a function.

Rooms: ``_stream`` (the stream reader, sole owner of shard state), ``_checkpoints``; ``_events``,
``_normalize`` and ``_records`` (a record as the handler gets it, shaped by one function);
``_filters`` (Lambda's filter rules); ``_options`` (the one home of the options' names, defaults
and ranges); ``_intake`` (reading shards into lanes); ``_batching`` (lanes, batches, tumbling
windows, the 6 MB payload); ``_function`` (a function as Lambda has one), ``_environment``
(its execution environments: cold and warm starts, variables, timeouts) and ``_runtime``
(invoking it, its logs, judging its response; with ``_capture``); ``_loops`` (a function that
feeds its own stream, noticed and stopped); ``_mapping`` and ``_trigger``
(what a mapping is and did; its policy and run loop); ``_poller`` (the background thread);
``_kinesis`` (the same mapping on a Kinesis stream: its reader and record shape);
``_invocations`` and ``_failures`` (what happened, AWS's failure document); ``_repair`` (replay
and redelivery); ``_deploy`` (the function's package and create_function arguments, esm_config
checked by botocore, IAM policy, CloudFormation) and ``_creation`` (what Lambda checks at
creation, against botocore and labkit); ``_pipe`` (an EventBridge pipe: a ``Trigger`` whose step
is enrichment then target, and the queue stand-in), with ``_pipe_params`` (its source parameters,
checked against botocore's ``pipes`` model) and ``_transformer`` (input templates). Imports
nothing from ``teach`` and no pandas, ipywidgets or tqdm.
"""

from __future__ import annotations

from ._checkpoints import CheckpointStore, MemoryCheckpoints, TableCheckpoints
from ._creation import creation_checks
from ._deploy import (
    check_esm_config,
    check_function_config,
    cloudformation_template,
    function_config,
    function_files,
    function_zip,
    iam_policy,
    lab_arns,
)
from ._events import EventName, StreamViewType, lambda_event, lambda_record
from ._filters import FilterCriteria, compile_filter_criteria
from ._function import Function
from ._invocations import Discard, Invocation, InvocationLog, Outcome
from ._options import TriggerConfig
from ._records import shape
from ._runtime import LambdaContext, Response, invoke, judge
from ._stream import ShardState, StartingPosition, StreamReader
from ._trigger import Trigger

__all__ = [
    "CheckpointStore",
    "Discard",
    "EventName",
    "FilterCriteria",
    "Function",
    "Invocation",
    "InvocationLog",
    "LambdaContext",
    "MemoryCheckpoints",
    "Outcome",
    "Response",
    "ShardState",
    "StartingPosition",
    "StreamReader",
    "StreamViewType",
    "TableCheckpoints",
    "Trigger",
    "TriggerConfig",
    "check_esm_config",
    "check_function_config",
    "cloudformation_template",
    "compile_filter_criteria",
    "creation_checks",
    "function_config",
    "function_files",
    "function_zip",
    "iam_policy",
    "invoke",
    "judge",
    "lab_arns",
    "lambda_event",
    "lambda_record",
    "shape",
]

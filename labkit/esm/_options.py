"""Event-source-mapping options: Lambda's names (in snake_case), defaults and ranges for
DynamoDB Streams, checked when a trigger is made, and turned back into the keyword arguments of
boto3's ``lambda.create_event_source_mapping``.

Ranges and defaults are those of the AWS Lambda documentation, "Lambda parameters for Amazon
DynamoDB event source mappings" (services-ddb-params).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from .._errors import InvalidTableNameError, InvalidTriggerOptionError
from .._names import check_table_name
from ._filters import FilterCriteria, compile_filter_criteria

__all__ = ["EVENT_COUNT", "REPORT_BATCH_ITEM_FAILURES", "TriggerConfig"]

REPORT_BATCH_ITEM_FAILURES = "ReportBatchItemFailures"
# The one metric group of MetricsConfig for a DynamoDB stream ("EventCount"; the API's other
# values, ErrorCount and KafkaMetrics, are for Amazon MSK and self-managed Apache Kafka).
EVENT_COUNT = "EventCount"
_STARTING_POSITIONS = ("TRIM_HORIZON", "LATEST")


def _whole(
    name: str,
    value: Any,
    low: int,
    high: int,
    default: str,
    *,
    minus_one: bool = False,
) -> None:
    ok = (
        isinstance(value, int)
        and not isinstance(value, bool)
        and (low <= value <= high or (minus_one and value == -1))
    )
    if not ok:
        allowed = (
            f"-1 (no limit) or a whole number from {low} to {high:,}"
            if minus_one
            else f"a whole number from {low} to {high:,}"
        )
        raise InvalidTriggerOptionError(
            f"{name}={value!r} is out of range: for DynamoDB Streams Lambda accepts {allowed}.",
            f"pass {name} within that range (Lambda's default is {default}).",
        )


@dataclass(frozen=True)
class TriggerConfig:
    """Every option of a Lambda event source mapping for DynamoDB Streams.

    * ``batch_size``: records per invocation at most; 1 to 10,000, default 100.
    * ``maximum_batching_window_in_seconds``: how long to gather records before invoking;
      0 to 300, default 0 (invoke as soon as records are there).
    * ``starting_position``: ``TRIM_HORIZON`` (oldest record) or ``LATEST`` (records written
      after the trigger is made). Required on AWS; labkit defaults to ``TRIM_HORIZON``.
    * ``filter_criteria``: ``{"Filters": [{"Pattern": "<json>"}]}``, up to 5 filters; a record
      is delivered if any filter matches; others are skipped and checkpointed. Default: none.
    * ``maximum_retry_attempts``: retries of a failed batch; -1 (until the record expires) or
      0 to 10,000, default -1.
    * ``maximum_record_age_in_seconds``: records older than this are not sent; -1 (no limit) or
      60 to 604,800, default -1.
    * ``bisect_batch_on_function_error``: split a failed batch in two and retry each half
      (splitting does not use up retries); default False.
    * ``destination_config``: ``{"OnFailure": {"Destination": "<lab table>"}}``: where the
      failure document goes when retries or record age run out. Default: none (records are
      dropped then, as on AWS).
    * ``function_response_types``: ``["ReportBatchItemFailures"]`` lets the handler return
      ``{"batchItemFailures": [{"itemIdentifier": "<SequenceNumber>"}]}``. Default: ``[]``.
    * ``tumbling_window_in_seconds``: 0 to 900; above 0, the handler gets ``window`` and
      ``state`` and returns ``{"state": ...}``. Default 0 (no window).
    * ``parallelization_factor``: 1 to 10 batches of one shard in flight at once, each item key
      always on the same lane (so per-item order holds); default 1.
    * ``metrics_config``: ``{"Metrics": ["EventCount"]}`` asks for the mapping's event-count
      metrics (``PolledEventCount``, ``FilteredOutEventCount``, ``InvokedEventCount``,
      ``FailedInvokeEventCount``, ``DroppedEventCount``,
      ``OnFailureDestinationDeliveredEventCount``), which AWS emits only when asked
      (``EventSourceMappingMetricsConfig``: "Include EventCount to receive event source mapping
      metrics"). ``EventCount`` is the only group for a DynamoDB stream. Default: none.

    Introduced in notebooks/01-stream-processing-flow.ipynb.
    """

    batch_size: int = 100
    maximum_batching_window_in_seconds: int = 0
    starting_position: str = "TRIM_HORIZON"
    filter_criteria: dict[str, Any] | None = None
    maximum_retry_attempts: int = -1
    maximum_record_age_in_seconds: int = -1
    bisect_batch_on_function_error: bool = False
    destination_config: dict[str, Any] | None = None
    function_response_types: tuple[str, ...] = ()
    tumbling_window_in_seconds: int = 0
    parallelization_factor: int = 1
    metrics_config: dict[str, Any] | None = None
    filters: FilterCriteria | None = field(default=None, init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        _whole("batch_size", self.batch_size, 1, 10_000, "100")
        _whole(
            "maximum_batching_window_in_seconds",
            self.maximum_batching_window_in_seconds,
            0,
            300,
            "0",
        )
        if self.starting_position not in _STARTING_POSITIONS:
            raise InvalidTriggerOptionError(
                f"starting_position={self.starting_position!r} is not one DynamoDB Streams "
                f"supports ({', '.join(_STARTING_POSITIONS)}; AT_TIMESTAMP is for Kinesis only).",
                "pass starting_position='TRIM_HORIZON' (oldest record) or 'LATEST' (new records "
                "only).",
            )
        _whole(
            "maximum_retry_attempts", self.maximum_retry_attempts, 0, 10_000, "-1", minus_one=True
        )
        _whole(
            "maximum_record_age_in_seconds",
            self.maximum_record_age_in_seconds,
            60,
            604_800,
            "-1",
            minus_one=True,
        )
        if not isinstance(self.bisect_batch_on_function_error, bool):
            raise InvalidTriggerOptionError(
                f"bisect_batch_on_function_error={self.bisect_batch_on_function_error!r} is not "
                "True or False.",
                "pass bisect_batch_on_function_error=True or False (default False).",
            )
        self._check_destination()
        raw = self.function_response_types
        if raw is not None and not isinstance(raw, list | tuple):
            raise InvalidTriggerOptionError(
                f"function_response_types={raw!r} is not a list.",
                f"pass function_response_types=[{REPORT_BATCH_ITEM_FAILURES!r}] or leave it out.",
            )
        types = tuple(raw or ())
        if any(t != REPORT_BATCH_ITEM_FAILURES for t in types) or len(set(types)) != len(types):
            raise InvalidTriggerOptionError(
                f"function_response_types={self.function_response_types!r}: the only response "
                f"type for DynamoDB Streams is {REPORT_BATCH_ITEM_FAILURES!r}.",
                f"pass function_response_types=[{REPORT_BATCH_ITEM_FAILURES!r}] or leave it out.",
            )
        object.__setattr__(self, "function_response_types", types)
        _whole("tumbling_window_in_seconds", self.tumbling_window_in_seconds, 0, 900, "0")
        _whole("parallelization_factor", self.parallelization_factor, 1, 10, "1")
        self._check_metrics_config()
        object.__setattr__(self, "filters", compile_filter_criteria(self.filter_criteria))

    def _check_destination(self) -> None:
        """The on-failure destination: AWS's shape, naming a lab table (not an ARN)."""
        config = self.destination_config
        if config is None:
            return
        ok = (
            isinstance(config, dict)
            and set(config) == {"OnFailure"}
            and isinstance(config["OnFailure"], dict)
            and set(config["OnFailure"]) == {"Destination"}
            and isinstance(config["OnFailure"]["Destination"], str)
            and config["OnFailure"]["Destination"]
        )
        if not ok:
            raise InvalidTriggerOptionError(
                f"destination_config={config!r} is not of the form "
                "{'OnFailure': {'Destination': '<table name>'}} (DynamoDB Streams mappings "
                "support an on-failure destination only).",
                "pass destination_config={'OnFailure': {'Destination': 'my_failures'}}, naming a "
                "lab table that receives the failure documents.",
            )
        name = config["OnFailure"]["Destination"]
        if name.startswith("arn:"):
            raise InvalidTriggerOptionError(
                f"destination_config names {name!r}, an ARN; in the lab the on-failure "
                "destination is a lab table that receives AWS's failure documents.",
                "pass destination_config={'OnFailure': {'Destination': 'failures'}} with a table "
                "made by lab.create_table; give the SQS or SNS ARN to "
                "trigger.esm_config(destination_arn=...) for AWS.",
            )
        try:
            check_table_name(name, "destination_config Destination (a lab table name)")
        except InvalidTableNameError as exc:
            raise InvalidTriggerOptionError(
                exc.what,
                "name a lab table made with lab.create_table('failures', stream=None) in "
                "destination_config={'OnFailure': {'Destination': 'failures'}}.",
            ) from exc

    def _check_metrics_config(self) -> None:
        """MetricsConfig: AWS's shape, with the one metric group a DynamoDB stream has."""
        config = self.metrics_config
        if config is None:
            return
        metrics = config.get("Metrics") if isinstance(config, dict) else None
        ok = (
            isinstance(config, dict)
            and set(config) == {"Metrics"}
            and isinstance(metrics, list)
            and all(m == EVENT_COUNT for m in metrics)
            and len(metrics) <= 1
        )
        if not ok:
            other = isinstance(metrics, list) and any(
                m in ("ErrorCount", "KafkaMetrics") for m in metrics
            )
            why = (
                "ErrorCount and KafkaMetrics are metric groups for Amazon MSK and self-managed "
                "Apache Kafka only; a DynamoDB stream has EventCount"
                if other
                else "it is not of the form {'Metrics': ['EventCount']} (a list holding "
                "EventCount at most once)"
            )
            raise InvalidTriggerOptionError(
                f"metrics_config={config!r} is not one Lambda accepts for a DynamoDB stream: "
                f"{why}.",
                "pass metrics_config={'Metrics': ['EventCount']} to get the event-count metrics "
                "(trigger.metrics() shows them), or leave it out.",
            )
        object.__setattr__(self, "metrics_config", {"Metrics": list(metrics)})

    @property
    def event_count_metrics(self) -> bool:
        """Whether MetricsConfig asks for the event-count metrics."""
        return self.metrics_config is not None and EVENT_COUNT in self.metrics_config["Metrics"]

    @property
    def destination(self) -> str | None:
        """The on-failure destination (a lab table name), or None."""
        if self.destination_config is None:
            return None
        return str(self.destination_config["OnFailure"]["Destination"])

    @property
    def report_batch_item_failures(self) -> bool:
        return REPORT_BATCH_ITEM_FAILURES in self.function_response_types

    def esm_kwargs(
        self, *, stream_arn: str, function_name: str, destination_arn: str | None
    ) -> dict[str, Any]:
        """Keyword arguments for boto3's ``lambda.create_event_source_mapping``."""
        kwargs: dict[str, Any] = {
            "EventSourceArn": stream_arn,
            "FunctionName": function_name,
            "Enabled": True,
            "BatchSize": self.batch_size,
            "MaximumBatchingWindowInSeconds": self.maximum_batching_window_in_seconds,
            "StartingPosition": self.starting_position,
            "MaximumRetryAttempts": self.maximum_retry_attempts,
            "MaximumRecordAgeInSeconds": self.maximum_record_age_in_seconds,
            "BisectBatchOnFunctionError": self.bisect_batch_on_function_error,
            "ParallelizationFactor": self.parallelization_factor,
            "FunctionResponseTypes": list(self.function_response_types),
        }
        if self.filter_criteria:
            kwargs["FilterCriteria"] = self.filter_criteria
        if self.tumbling_window_in_seconds:
            kwargs["TumblingWindowInSeconds"] = self.tumbling_window_in_seconds
        if self.metrics_config is not None:
            kwargs["MetricsConfig"] = {"Metrics": list(self.metrics_config["Metrics"])}
        if self.destination is None and destination_arn is not None:
            raise InvalidTriggerOptionError(
                f"destination_arn={destination_arn!r} was given, but this trigger has no "
                "destination_config, so there is nothing to send there.",
                "make the trigger with destination_config={'OnFailure': {'Destination': ...}}, "
                "or leave destination_arn out.",
            )
        if self.destination is not None:
            if destination_arn is None:
                raise InvalidTriggerOptionError(
                    f"This trigger sends failures to the lab table {self.destination!r}; on AWS "
                    "the on-failure destination must be an SQS queue, SNS topic or S3 bucket.",
                    "pass esm_config(function_name, destination_arn='arn:aws:sqs:...').",
                )
            kwargs["DestinationConfig"] = {"OnFailure": {"Destination": destination_arn}}
        return kwargs

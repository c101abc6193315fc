"""CloudWatch metrics of a trigger: its function's and its event source mapping's, computed from
what the trigger recorded while it ran, named, defined and aggregated as AWS does.

What the trigger records (never a guess made afterwards): each invocation's start and end on the
trigger's clock (``Invocation.started``, ``ended``) and the IteratorAge of its batch
(``iterator_age_ms``, computed when the event was sent); each discard's time (``Discard.at``);
and, here in the ``Recorder``, each GetRecords call's count and each filtering's count. From that
``datapoints`` makes the datapoints Lambda would emit, one per invocation, poll or discard, and
``statistics`` aggregates them per period as CloudWatch does (Sum, Average, Maximum, Minimum,
SampleCount). ``IteratorAgeAlarm`` is the CloudWatch alarm on IteratorAge: its CloudFormation
resource and its evaluation, period by period, on the same datapoints.

Sources (AWS documentation):

[M1] Lambda DG, "Types of metrics for Lambda functions"
     (https://docs.aws.amazon.com/lambda/latest/dg/monitoring-metrics-types.html): the
     definitions quoted in ``METRICS``; invocation metrics are viewed with ``Sum``, performance
     metrics with ``Average`` or ``Max``, concurrency metrics with ``Max``; the event source
     mapping metrics of the ``EventCount`` group for "Kinesis and DynamoDB streams" are
     PolledEventCount, FilteredOutEventCount, InvokedEventCount, FailedInvokeEventCount,
     DroppedEventCount and OnFailureDestinationDeliveredEventCount (DeletedEventCount is SQS's,
     CommittedEventCount Kafka's; the ErrorCount and KafkaMetrics groups are Kafka's).
[M2] Lambda API, "EventSourceMappingMetricsConfig": "Include EventCount to receive event source
     mapping metrics related to the number of events processed by your event source mapping."
[M3] Lambda DG, "Using CloudWatch metrics with Lambda": "Lambda sends metric data to CloudWatch
     in 1-minute intervals", and a metric's timestamp "reflects when the function was invoked".
[M4] CloudWatch API, "GetMetricStatistics": data points are aggregated per period; StartTime is
     rounded down to the whole minute. The lab counts periods from the trigger's first
     datapoint instead, so that a lesson's tables are the same on every run.
[M5] CloudWatch User Guide, "Using Amazon CloudWatch alarms": an alarm compares a statistic of
     each period with a threshold and goes to ALARM when ``DatapointsToAlarm`` of the last
     ``EvaluationPeriods`` periods breach; with ``TreatMissingData: notBreaching`` a period
     without data counts as good (Lambda emits no IteratorAge while nothing is invoked).

IteratorAge measures "the time between when a stream receives the record and when the event
source mapping sends the event to the function" [M1], for the last record of the batch. DynamoDB
tells when a record reached the stream by its ``ApproximateCreationDateTime``, to the second on
AWS; DynamoDB Local rounds it down to the **minute**, which would make every age in the lab up to
a minute too old. The lab knows more than that minute: the record cannot have arrived later than
the GetRecords call that returned it. So on DynamoDB Local a record's arrival is taken as the
earlier of ``ApproximateCreationDateTime + 60 s`` and that call's time (``arrival``); on AWS it is
``ApproximateCreationDateTime`` itself, as Lambda takes it. The arrival is on the wall clock,
and an age is the trigger's clock (which a lesson may move forward, to show an hour in a moment)
minus it.

Engine module: no pandas, no Jupyter.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from .. import _seams
from .._errors import DeployError, TriggerError
from ._invocations import Invocation, InvocationLog, Outcome

if TYPE_CHECKING:
    from ._batching import Entry

__all__ = [
    "EVENT_COUNT_METRICS",
    "FUNCTION_METRICS",
    "LOCAL_RESOLUTION_S",
    "METRICS",
    "TIME_COLUMN",
    "Datapoint",
    "IteratorAgeAlarm",
    "Metric",
    "Metrics",
    "Recorder",
    "arrival",
    "column",
    "datapoints",
    "iterator_age_ms",
    "statistics",
    "truncate",
]

TIME_COLUMN = "Time (s)"  # a period's start, in seconds after the trigger's first datapoint
LOCAL_RESOLUTION_S = 60.0  # DynamoDB Local's ApproximateCreationDateTime: the minute


@dataclass(frozen=True)
class Metric:
    """A CloudWatch metric as AWS names and defines it, and how the lab computes it."""

    name: str
    statistic: str  # the statistic AWS says to view it with [M1]
    unit: str  # CloudWatch's unit
    group: str | None  # "EventCount" for the mapping's metrics [M2]; None: always emitted
    definition: str  # AWS's definition [M1]
    lab: str  # what the lab counts


METRICS: tuple[Metric, ...] = (
    Metric(
        "Invocations",
        "Sum",
        "Count",
        None,
        "The number of times that your function code is invoked, including successful "
        "invocations and invocations that result in a function error.",
        "1 per invocation, at its start: the mapping's, retries, bisect halves and a tumbling "
        "window's final call included, and replays (trigger.replay, trigger.redeliver), which "
        "invoke the function directly.",
    ),
    Metric(
        "Errors",
        "Sum",
        "Count",
        None,
        "The number of invocations that result in a function error. Function errors include "
        "exceptions that your code throws and exceptions that the Lambda runtime throws "
        "[such as] timeouts. ... the timestamp on an error metric reflects when the function "
        "was invoked.",
        "1 for an invocation that raised, timed out or could not start (FunctionError "
        "'Unhandled'), else 0, at its start. A response the mapping rejects (an invalid "
        "batchItemFailures) is not a function error: the function returned.",
    ),
    Metric(
        "Duration",
        "Average",
        "Milliseconds",
        None,
        "The amount of time that your function code spends processing an event. ... Duration "
        "does not include cold start time.",
        "the handler's own time (Invocation.duration_ms, the REPORT line's Duration; the "
        "timeout for a call that timed out), at the invocation's start.",
    ),
    Metric(
        "ConcurrentExecutions",
        "Maximum",
        "Count",
        None,
        "The number of function instances that are processing events.",
        "at each invocation's start, how many invocations of this trigger are under way (it "
        "included): 1 without lanes, up to parallelization_factor with them.",
    ),
    Metric(
        "IteratorAge",
        "Maximum",
        "Milliseconds",
        None,
        "For DynamoDB, Kinesis, and Amazon DocumentDB event sources, the age of the last "
        "record in the event in milliseconds. This metric measures the time between when a "
        "stream receives the record and when the event source mapping sends the event to the "
        "function.",
        "the trigger's clock when it sent the event, minus when the batch's last record "
        "arrived: its ApproximateCreationDateTime, on DynamoDB Local refined by when "
        "GetRecords returned it (see the module's docstring). Not for a window's final call "
        "(no record) nor for replays (not from the stream).",
    ),
    Metric(
        "PolledEventCount",
        "Sum",
        "Count",
        "EventCount",
        "The number of events that Lambda reads successfully from the event source. If Lambda "
        "polls for events but receives an empty poll (no new records), Lambda emits a 0 value.",
        "the records each GetRecords call returned (0 for an empty one, at most one 0 a second "
        "of the trigger's clock), at the call.",
    ),
    Metric(
        "FilteredOutEventCount",
        "Sum",
        "Count",
        "EventCount",
        "For event source mapping with a filter criteria, the number of events filtered out by "
        "that filter criteria. ... For events that match the filter criteria, Lambda emits a 0 "
        "metric.",
        "with filter_criteria, the records that matched no filter (never delivered, "
        "checkpointed all the same), counted as they are filtered; nothing without a filter.",
    ),
    Metric(
        "InvokedEventCount",
        "Sum",
        "Count",
        "EventCount",
        "The number of events that invoked your Lambda function. ... If an event results in a "
        "function error or throttling, InvokedEventCount may count multiple times for the same "
        "polled event due to automatic retries.",
        "the records of each invocation the mapping made (every retry and bisect half again), "
        "at its start; not replays.",
    ),
    Metric(
        "FailedInvokeEventCount",
        "Sum",
        "Count",
        "EventCount",
        "The number of events that Lambda tried to invoke your function with, but failed. ... "
        "If your event source mapping has partial batch responses enabled, "
        "FailedInvokeEventCount includes any event with a non-empty BatchItemFailures in the "
        "response. ... The timestamp ... represents the end of the function invocation.",
        "at each invocation's end: all its records when it failed as a whole (a function "
        "error, a timeout, a response the mapping rejects), the records its batchItemFailures "
        "named for a partial failure, else 0. (AWS lists invoke failures such as permissions; "
        "the lab has none of those, and counts a failed batch: labkit's reading.)",
    ),
    Metric(
        "DroppedEventCount",
        "Sum",
        "Count",
        "EventCount",
        "The number of events that Lambda dropped due to expiry or retry exhaustion. "
        "Specifically, this is the number of records that exceed your configured values for "
        "MaximumRecordAgeInSeconds or MaximumRetryAttempts. ... Dropped events also excludes "
        "events that you send to an on-failure destination.",
        "the records of each discard (RetryAttemptsExhausted or RecordAgeExceeded) when the "
        "trigger has no destination_config, when they are discarded.",
    ),
    Metric(
        "OnFailureDestinationDeliveredEventCount",
        "Sum",
        "Count",
        "EventCount",
        "For event source mappings with an on-failure destination configured, the number of "
        "events sent to that destination.",
        "the records of each discard whose failure document went to the destination table, "
        "when they are discarded.",
    ),
)
BY_NAME = {m.name: m for m in METRICS}
FUNCTION_METRICS = tuple(m.name for m in METRICS if m.group is None)
EVENT_COUNT_METRICS = tuple(m.name for m in METRICS if m.group == "EventCount")
_STATISTICS = ("Sum", "Average", "Maximum", "Minimum", "SampleCount")


def column(name: str, statistic: str | None = None) -> str:
    """A metric's column in a table: ``"IteratorAge (Maximum, ms)"``, ``"Errors (Sum)"``."""
    metric = BY_NAME[name]
    statistic = statistic or metric.statistic
    unit = ", ms" if metric.unit == "Milliseconds" and statistic != "SampleCount" else ""
    return f"{name} ({statistic}{unit})"


def truncate(value: float | None, precision_ms: float | None) -> float | None:
    """A time shown to ``precision_ms``: rounded *down* to a multiple of it, as a clock shows
    whole seconds (1380 ms at a precision of 1000 shows as 1000). The lab's timings vary by
    milliseconds, and a cold start by a few hundred, from run to run; rounding down keeps a
    lesson's table the same as long as they stay under the precision."""
    if precision_ms is None or value is None:
        return value
    return math.floor(value / precision_ms + 1e-9) * precision_ms


@dataclass(frozen=True)
class Datapoint:
    """One value of one metric at one moment (epoch seconds, on the trigger's clock)."""

    metric: str
    timestamp: float
    value: float


# -- what the trigger records while it reads --------------------------------------------------
def arrival(created: float, seen: float, resolution: float) -> float:
    """When a record reached the stream, as IteratorAge measures from it: its
    ApproximateCreationDateTime (``created``) when that is exact to the second (AWS), else the
    earlier of ``created + resolution`` and ``seen``, the wall-clock time of the GetRecords call
    that returned it: the latest moment it can have arrived (DynamoDB Local, to the minute)."""
    if resolution <= 1:
        return created
    return min(created + resolution, seen)


def iterator_age_ms(sent: float, entries: Sequence[Entry]) -> float | None:
    """IteratorAge of a batch sent at ``sent``: the age of its last record, in milliseconds
    (None for a batch without records, a tumbling window's final call)."""
    if not entries:
        return None
    return max(0.0, (sent - entries[-1].arrived) * 1000.0)


class Recorder:
    """What a mapping counts as it reads its shards: each GetRecords call's records and each
    filtering's (as datapoints), and when each record arrived (``arrival``).

    ``resolution`` is how precisely ApproximateCreationDateTime tells a record's arrival:
    ``LOCAL_RESOLUTION_S`` on DynamoDB Local, 1 on AWS. Thread-safe (a monitor reads it while
    the poller writes).
    """

    def __init__(self, resolution: float = LOCAL_RESOLUTION_S) -> None:
        self.resolution = resolution
        self._points: list[Datapoint] = []
        self._lock = threading.Lock()
        self._quiet_second: int | None = None  # the clock's second of the last empty poll

    def polled(self, at: float, count: int) -> None:
        """A GetRecords call returned ``count`` records (an empty poll: at most one a second)."""
        with self._lock:
            if count == 0:
                if self._quiet_second == int(at):
                    return
                self._quiet_second = int(at)
            self._points.append(Datapoint("PolledEventCount", at, float(count)))

    def filtered(self, at: float, count: int) -> None:
        """A filter rejected ``count`` records of those it just looked at (0: all matched)."""
        with self._lock:
            self._points.append(Datapoint("FilteredOutEventCount", at, float(count)))

    def arrival(self, created: float, seen: float) -> float:
        return arrival(created, seen, self.resolution)

    def points(self) -> list[Datapoint]:
        with self._lock:
            return list(self._points)


# -- datapoints, from what was recorded ------------------------------------------------------
def _failed_records(invocation: Invocation) -> int:
    if invocation.outcome is Outcome.ERROR:
        return len(invocation.records)
    if invocation.outcome is Outcome.PARTIAL_FAILURE and isinstance(invocation.result, dict):
        return len(invocation.result.get("batchItemFailures") or [])
    return 0


def _concurrency(invocations: Sequence[Invocation]) -> list[int]:
    """For each invocation, how many were under way when it started (itself included)."""
    return [
        sum(1 for other in invocations if other.started <= inv.started < other.ended) or 1
        for inv in invocations
    ]


def datapoints(history: InvocationLog, recorder: Recorder | None = None) -> list[Datapoint]:
    """Every datapoint the trigger's function and mapping would have emitted, in time order."""
    invocations, discards = history.snapshot()
    points: list[Datapoint] = []
    for inv, running in zip(invocations, _concurrency(invocations), strict=True):
        at = inv.started
        points += [
            Datapoint("Invocations", at, 1.0),
            Datapoint("Errors", at, 1.0 if inv.function_error else 0.0),
            Datapoint("Duration", at, inv.duration_ms),
            Datapoint("ConcurrentExecutions", at, float(running)),
        ]
        if inv.repair is not None:
            continue  # invoked directly, not by the mapping
        if inv.iterator_age_ms is not None:
            points.append(Datapoint("IteratorAge", at, inv.iterator_age_ms))
        points.append(Datapoint("InvokedEventCount", at, float(len(inv.records))))
        points.append(Datapoint("FailedInvokeEventCount", inv.ended, float(_failed_records(inv))))
    for d in discards:
        name = "OnFailureDestinationDeliveredEventCount" if d.destination else "DroppedEventCount"
        points.append(Datapoint(name, d.at, float(len(d.sequence_numbers))))
    if recorder is not None:
        points += recorder.points()
    return sorted(points, key=lambda p: p.timestamp)


def _statistic(values: list[float], statistic: str) -> float:
    if statistic == "Sum":
        return math.fsum(values)
    if statistic == "Average":
        return math.fsum(values) / len(values)
    if statistic == "Maximum":
        return max(values)
    if statistic == "Minimum":
        return min(values)
    return float(len(values))  # SampleCount


def statistics(
    points: Iterable[Datapoint],
    wanted: Sequence[tuple[str, str]],
    *,
    period: float,
    start: float,
    every_period: bool = False,
) -> list[dict[str, Any]]:
    """One row per period: ``TIME_COLUMN`` (its start, in seconds after ``start``) and the
    ``(metric, statistic)`` values of the datapoints whose timestamps fall in it (None where a
    metric has none). Only periods with a datapoint of a wanted metric, unless
    ``every_period`` (an alarm evaluates every period)."""
    names = {name for name, _ in wanted}
    buckets: dict[int, dict[str, list[float]]] = {}
    for p in points:
        if p.metric in names:
            slot = math.floor((p.timestamp - start) / period + 1e-9)
            buckets.setdefault(slot, {}).setdefault(p.metric, []).append(p.value)
    slots = sorted(buckets)
    if every_period and slots:
        slots = list(range(min(0, slots[0]), slots[-1] + 1))
    rows = []
    for slot in slots:
        values = buckets.get(slot, {})
        row: dict[str, Any] = {TIME_COLUMN: slot * period}
        for name, statistic in wanted:
            got = values.get(name)
            row[column(name, statistic)] = _statistic(got, statistic) if got else None
        rows.append(row)
    return rows


@dataclass(frozen=True)
class Metrics:
    """A trigger's datapoints at one moment, and which metrics AWS would show for it: the
    function's always, the mapping's event counts only when its MetricsConfig asks [M2]."""

    function_name: str
    table_name: str
    event_count: bool
    points: tuple[Datapoint, ...]

    @property
    def start(self) -> float | None:
        """The first datapoint's time: periods count from it."""
        return self.points[0].timestamp if self.points else None

    def names(self, wanted: Sequence[str] = ()) -> list[str]:
        """The metrics asked for (all those AWS would emit, by default), checked."""
        shown = [*FUNCTION_METRICS, *(EVENT_COUNT_METRICS if self.event_count else ())]
        if not wanted:
            return shown
        for name in wanted:
            if name not in BY_NAME:
                raise TriggerError(
                    f"{name!r} is not a metric the lab computes.",
                    f"ask for one of {', '.join(m.name for m in METRICS)}.",
                )
            if name not in shown:
                raise TriggerError(
                    f"{name} is an event source mapping metric, which Lambda emits only when "
                    "the mapping's MetricsConfig asks for EventCount, and this trigger's does "
                    "not.",
                    "make the trigger with metrics_config={'Metrics': ['EventCount']} (on AWS: "
                    "MetricsConfig in create_event_source_mapping).",
                )
        return list(wanted)

    def wanted(self, names: Sequence[str] = ()) -> list[tuple[str, str]]:
        return [(n, BY_NAME[n].statistic) for n in self.names(names)]

    def rows(self, *names: str, period: float = 60.0) -> list[dict[str, Any]]:
        """Per period, each metric's statistic (see ``statistics``)."""
        if not self.points:
            return []
        assert self.start is not None
        return statistics(self.points, self.wanted(names), period=period, start=self.start)

    def between(self, begin: float, end: float) -> Metrics:
        """Only the datapoints from ``begin`` to ``end`` (a tracer's step)."""
        inside = tuple(p for p in self.points if begin <= p.timestamp <= end)
        return Metrics(self.function_name, self.table_name, self.event_count, inside)


# -- the alarm ---------------------------------------------------------------------------------
_CF_ALARM_NAME = 255


@dataclass(frozen=True)
class IteratorAgeAlarm:
    """A CloudWatch alarm on a function's IteratorAge (namespace ``AWS/Lambda``, dimension
    ``FunctionName``, statistic ``Maximum``): ALARM when ``datapoints_to_alarm`` of the last
    ``evaluation_periods`` periods of ``period`` seconds have an IteratorAge above
    ``threshold_ms``; a period without data counts as good (``notBreaching``) [M5].

    Made by ``trigger.iterator_age_alarm(...)``; ``history()`` evaluates it on the trigger's
    run, and ``lk.cloudformation_template(trigger, alarms=[alarm])`` deploys it.

    Introduced in notebooks/13-operating-a-stream-consumer.ipynb.
    """

    function_name: str
    threshold_ms: float
    evaluation_periods: int = 1
    datapoints_to_alarm: int | None = None
    period: int = 60
    actions: tuple[str, ...] = ()
    source: Callable[[], Metrics] | None = field(default=None, compare=False, repr=False)

    NAMESPACE = "AWS/Lambda"
    METRIC = "IteratorAge"
    STATISTIC = "Maximum"
    COMPARISON = "GreaterThanThreshold"
    MISSING = "notBreaching"

    def __post_init__(self) -> None:
        threshold = self.threshold_ms
        if isinstance(threshold, bool) or not isinstance(threshold, int | float) or threshold < 0:
            raise DeployError(
                f"threshold_ms={threshold!r} is not a number of milliseconds.",
                "pass the IteratorAge above which to alarm, in milliseconds (the metric's "
                "unit): threshold_ms=60_000 for a minute.",
            )
        n = self.evaluation_periods
        if isinstance(n, bool) or not isinstance(n, int) or n < 1:
            raise DeployError(
                f"evaluation_periods={n!r} is not a whole number of periods (1 or more).",
                "pass evaluation_periods=3 to look at the last three periods.",
            )
        m = self.datapoints_to_alarm
        if m is not None and (isinstance(m, bool) or not isinstance(m, int) or not 1 <= m <= n):
            raise DeployError(
                f"datapoints_to_alarm={m!r} is not from 1 to evaluation_periods ({n}): "
                "CloudWatch refuses more breaching periods than it evaluates.",
                f"pass datapoints_to_alarm between 1 and {n}, or leave it out (all {n}).",
            )
        p = self.period
        if isinstance(p, bool) or not isinstance(p, int) or p < 60 or p % 60:
            raise DeployError(
                f"period={p!r} is not a whole number of minutes in seconds: Lambda sends its "
                "metrics to CloudWatch once a minute, so an alarm on them needs 60, 120, ... ",
                "pass period=60 (a minute) or a multiple of it.",
            )
        for arn in self.actions:
            if not (isinstance(arn, str) and arn.startswith("arn:aws") and ":sns:" in arn):
                raise DeployError(
                    f"actions holds {arn!r}, not the ARN of an SNS topic.",
                    "pass actions=['arn:aws:sns:us-east-1:123456789012:on-call'] or leave it "
                    "out (the alarm then only changes state).",
                )

    @property
    def breaching_needed(self) -> int:
        return self.datapoints_to_alarm or self.evaluation_periods

    @property
    def description(self) -> str:
        minutes = self.period // 60
        return (
            f"{self.function_name} is behind its stream: IteratorAge (Maximum per "
            f"{minutes} minute{'s' * (minutes != 1)}) above {self.threshold_ms:g} ms in "
            f"{self.breaching_needed} of {self.evaluation_periods} period(s)"
        )

    def properties(self, function_name: Any) -> dict[str, Any]:
        """The ``AWS::CloudWatch::Alarm`` properties; ``function_name`` is the dimension's value
        (a name, or a CloudFormation ``Ref`` to the template's function)."""
        properties: dict[str, Any] = {
            "AlarmDescription": self.description,
            "Namespace": self.NAMESPACE,
            "MetricName": self.METRIC,
            "Dimensions": [{"Name": "FunctionName", "Value": function_name}],
            "Statistic": self.STATISTIC,
            "Period": self.period,
            "EvaluationPeriods": self.evaluation_periods,
            "DatapointsToAlarm": self.breaching_needed,
            "Threshold": self.threshold_ms,
            "ComparisonOperator": self.COMPARISON,
            "TreatMissingData": self.MISSING,
        }
        if self.actions:
            properties["AlarmActions"] = list(self.actions)
        return properties

    def evaluate(self, metrics: Metrics) -> list[dict[str, Any]]:
        """The alarm on the run, period by period from the first datapoint: the period's
        IteratorAge (Maximum), whether it breaches, and the alarm's state then."""
        if metrics.start is None:
            return []
        wanted = [(self.METRIC, self.STATISTIC)]
        rows = statistics(
            metrics.points, wanted, period=self.period, start=metrics.start, every_period=True
        )
        key = column(self.METRIC, self.STATISTIC)
        out: list[dict[str, Any]] = []
        for i, row in enumerate(rows):
            value = row[key]
            breaching = value is not None and value > self.threshold_ms
            window = [*out[max(0, i - self.evaluation_periods + 1) :], {"Breaching": breaching}]
            state = (
                "ALARM" if sum(r["Breaching"] for r in window) >= self.breaching_needed else "OK"
            )
            out.append(
                {TIME_COLUMN: row[TIME_COLUMN], key: value, "Breaching": breaching, "State": state}
            )
        return out

    def history(self, precision_ms: float | None = None) -> Any:
        """The alarm's states on the trigger's run so far, one row per period (a table);
        ``precision_ms`` rounds the IteratorAge shown down (``truncate``; the alarm compares
        the exact value).

        Introduced in notebooks/13-operating-a-stream-consumer.ipynb.
        """
        if self.source is None:
            raise TriggerError(
                "This alarm was not made from a trigger, so it has no run to evaluate.",
                "make it with trigger.iterator_age_alarm(threshold_ms=...).",
            )
        rows = self.evaluate(self.source())
        key = column(self.METRIC, self.STATISTIC)
        for row in rows:
            row[key] = truncate(row[key], precision_ms)
            row[key] = "" if row[key] is None else _plain_number(row[key])
            row[TIME_COLUMN] = _plain_number(row[TIME_COLUMN])
        return _seams.table(rows, [TIME_COLUMN, key, "Breaching", "State"])


def _plain_number(value: float) -> float | int:
    return int(value) if value == int(value) else round(value, 2)

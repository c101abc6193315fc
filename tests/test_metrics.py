"""CloudWatch metrics of a trigger (labkit/esm/_metrics.py, labkit/teach/_metrics.py), computed
from real runs on DynamoDB Local: retries, filters, bisect halves, partial batch responses,
discards with and without a destination, replays, timeouts, parallel lanes, and IteratorAge
measured from ApproximateCreationDateTime with the trigger's clock moved forward.

Each expectation follows the metric's definition in the Lambda Developer Guide, "Types of metrics
for Lambda functions" (quoted in ``labkit.esm._metrics.METRICS``). Counts are asserted exactly;
times only where the clock, not the machine's speed, decides them.
"""

from __future__ import annotations

import json
import math
import threading
import time
import zlib
from collections.abc import Callable, Iterator
from typing import Any

import pandas as pd
import pytest
from _esm import created, pks, put_items, stream_records, trigger_factory

import labkit
from labkit import _seams
from labkit.esm._metrics import (
    EVENT_COUNT_METRICS,
    FUNCTION_METRICS,
    METRICS,
    TIME_COLUMN,
    Datapoint,
    IteratorAgeAlarm,
    Metrics,
    arrival,
    column,
    statistics,
    truncate,
)

EVENT_COUNT = {"Metrics": ["EventCount"]}


@pytest.fixture
def make_trigger(lab: labkit.Lab) -> Iterator[Callable[..., labkit.Trigger]]:
    yield from trigger_factory(lab)


def ok(event: dict[str, Any], context: Any) -> None:
    return None


def poison_pill(event: dict[str, Any], context: Any) -> None:
    if "poison" in pks(event["Records"]):
        raise ValueError("cannot process poison")


def sums(trigger: labkit.Trigger) -> dict[str, float]:
    """Each metric's Sum over the whole run (one period that holds it all; 0 without data)."""
    data = trigger.metric_data()
    wanted = [(m.name, "Sum") for m in METRICS]
    (row,) = statistics(data.points, wanted, period=math.inf, start=data.start)
    return {name: row[column(name, "Sum")] or 0 for name, _ in wanted}


def values(trigger: labkit.Trigger, metric: str) -> list[float]:
    return [p.value for p in trigger.metric_data().points if p.metric == metric]


def source(lab: labkit.Lab, table_name: Callable[[str], str], *pk: str) -> str:
    name = table_name("orders")
    table = lab.create_table(name)
    put_items(table, *pk)
    stream_records(lab, name, len(pk))
    return name


# -- what AWS defines, and what the lab shows -----------------------------------------------
def test_every_metric_has_aws_definition_statistic_and_unit():
    """[M1]: invocation metrics with Sum, performance metrics with Average or Maximum,
    concurrency with Maximum; the six EventCount metrics of a DynamoDB stream."""
    by_name = {m.name: m for m in METRICS}
    assert FUNCTION_METRICS == (
        "Invocations",
        "Errors",
        "Duration",
        "ConcurrentExecutions",
        "IteratorAge",
    )
    assert EVENT_COUNT_METRICS == (
        "PolledEventCount",
        "FilteredOutEventCount",
        "InvokedEventCount",
        "FailedInvokeEventCount",
        "DroppedEventCount",
        "OnFailureDestinationDeliveredEventCount",
    )
    assert {by_name[n].statistic for n in ("Invocations", "Errors")} == {"Sum"}
    assert by_name["ConcurrentExecutions"].statistic == "Maximum"
    assert by_name["IteratorAge"].statistic == "Maximum"
    assert by_name["IteratorAge"].unit == by_name["Duration"].unit == "Milliseconds"
    assert "last record" in by_name["IteratorAge"].definition
    assert "excludes events that you send to an on-failure destination" in (
        by_name["DroppedEventCount"].definition
    )
    assert all(m.definition and m.lab for m in METRICS)


def test_a_plain_run_counts_invocations_records_and_polls(lab, table_name, make_trigger):
    name = source(lab, table_name, "a", "b", "c", "d", "e")
    trigger = make_trigger(name, ok, batch_size=2, metrics_config=EVENT_COUNT)
    trigger.run_until_idle()
    got = sums(trigger)
    assert got["Invocations"] == 3 and got["Errors"] == 0
    assert got["PolledEventCount"] == 5 and got["InvokedEventCount"] == 5
    assert got["FailedInvokeEventCount"] == 0
    assert got["DroppedEventCount"] == got["OnFailureDestinationDeliveredEventCount"] == 0
    assert "FilteredOutEventCount" not in {p.metric for p in trigger.metric_data().points}
    assert values(trigger, "ConcurrentExecutions") == [1, 1, 1]
    assert values(trigger, "Duration") == [i.duration_ms for i in trigger.invocations]
    # an empty poll is a datapoint of 0, as Lambda emits one
    assert 0.0 in values(trigger, "PolledEventCount")


def test_without_metrics_config_the_event_counts_do_not_exist(lab, table_name, make_trigger):
    """EventSourceMappingMetricsConfig: the event counts come only with EventCount [M2]."""
    name = source(lab, table_name, "a")
    trigger = make_trigger(name, ok)
    trigger.run_until_idle()
    frame = trigger.metrics()
    assert [c.split(" (")[0] for c in frame.columns[1:]] == list(FUNCTION_METRICS)
    with pytest.raises(labkit.TriggerError) as caught:
        trigger.metrics("PolledEventCount")
    assert "metrics_config={'Metrics': ['EventCount']}" in caught.value.fix
    with pytest.raises(labkit.TriggerError, match="not a metric"):
        trigger.metrics("IteratorAgeMs")
    with pytest.raises(labkit.TriggerError, match="period"):
        trigger.metrics(period=0)


# -- failures ------------------------------------------------------------------------------------
@pytest.mark.parametrize("with_destination", [False, True])
def test_retries_count_every_attempt_and_the_discard_where_it_went(
    lab, table_name, make_trigger, with_destination
):
    """Invocations and InvokedEventCount count every retry; FailedInvokeEventCount every failed
    one; the discard is DroppedEventCount without a destination and
    OnFailureDestinationDeliveredEventCount with one, never both [M1]."""
    name = source(lab, table_name, "a", "poison", "c")
    options: dict[str, Any] = {"batch_size": 1, "maximum_retry_attempts": 2}
    if with_destination:
        failures = table_name("failures")
        lab.create_table(failures, stream=None)
        options["destination_config"] = {"OnFailure": {"Destination": failures}}
    trigger = make_trigger(name, poison_pill, metrics_config=EVENT_COUNT, **options)
    trigger.run_until_idle()
    got = sums(trigger)
    assert got["Invocations"] == 1 + 3 + 1  # a, poison three times, c
    assert got["Errors"] == 3
    assert got["InvokedEventCount"] == 5 and got["FailedInvokeEventCount"] == 3
    assert got["PolledEventCount"] == 3
    delivered, dropped = (1, 0) if with_destination else (0, 1)
    assert got["OnFailureDestinationDeliveredEventCount"] == delivered
    assert got["DroppedEventCount"] == dropped
    (discard,) = trigger.discards
    assert discard.at >= trigger.invocations[-2].ended  # given up on after the last failure


def test_bisect_halves_and_partial_failures_count_their_own_records(lab, table_name, make_trigger):
    name = source(lab, table_name, "a", "b", "poison", "d")
    bisect = make_trigger(
        name,
        poison_pill,
        maximum_retry_attempts=0,
        bisect_batch_on_function_error=True,
        metrics_config=EVENT_COUNT,
    )
    bisect.run_until_idle()
    sizes = [len(i.records) for i in bisect.invocations]
    assert sizes == [4, 2, 2, 1, 1]  # the batch, its halves, the poison half's halves
    got = sums(bisect)
    assert got["InvokedEventCount"] == sum(sizes)
    failed = [len(i.records) for i in bisect.invocations if not i.ok]
    assert got["FailedInvokeEventCount"] == sum(failed)
    assert got["DroppedEventCount"] == 1

    def report_poison(event: dict[str, Any], context: Any) -> dict[str, Any]:
        bad = [r for r in event["Records"] if pks([r]) == ["poison"]]
        return {
            "batchItemFailures": [{"itemIdentifier": r["dynamodb"]["SequenceNumber"]} for r in bad]
        }

    other = source(lab, table_name, "a", "poison", "c")
    partial = make_trigger(
        other,
        report_poison,
        function_response_types=["ReportBatchItemFailures"],
        maximum_retry_attempts=1,
        metrics_config=EVENT_COUNT,
    )
    partial.run_until_idle()
    # "FailedInvokeEventCount includes any event with a non-empty BatchItemFailures": the
    # records each response named, 1 per attempt; Errors stays 0 (the function returned).
    assert [len(i.records) for i in partial.invocations] == [3, 2]
    got = sums(partial)
    assert got["FailedInvokeEventCount"] == 2 and got["Errors"] == 0
    assert got["DroppedEventCount"] == 2  # the rest of the batch, from the poison on


def test_filtered_records_are_counted_polled_and_filtered_out_never_invoked(
    lab, table_name, make_trigger
):
    """FilteredOutEventCount: with a filter, the records it rejected; 0 for those it kept."""
    name = table_name("orders")
    table = lab.create_table(name)
    for pk, status in [("a", "new"), ("b", "old"), ("c", "new"), ("d", "old"), ("e", "old")]:
        table.put_item(Item={"pk": pk, "status": status})
    stream_records(lab, name, 5)
    pattern = '{"dynamodb": {"NewImage": {"status": {"S": ["new"]}}}}'
    trigger = make_trigger(
        name, ok, filter_criteria={"Filters": [{"Pattern": pattern}]}, metrics_config=EVENT_COUNT
    )
    trigger.run_until_idle()
    got = sums(trigger)
    assert got["PolledEventCount"] == 5
    assert got["FilteredOutEventCount"] == 3
    assert got["InvokedEventCount"] == 2


def test_a_timeout_is_an_error_lasting_the_timeout_and_a_replay_is_no_mapping_event(
    lab, table_name, make_trigger, tmp_path
):
    code = tmp_path / "functions"
    code.mkdir()
    (code / "stall.py").write_text(
        "import time\n\ndef handler(event, context):\n    while True:\n        pass\n"
    )
    name = source(lab, table_name, "a")
    stall = lab.function("stall-fn", "stall.handler", code=code, timeout=1)
    trigger = make_trigger(
        name,
        stall,
        maximum_retry_attempts=0,
        metrics_config=EVENT_COUNT,
        destination_config=None,
    )
    trigger.run_until_idle()
    assert values(trigger, "Duration") == [1000.0]  # the timeout, as REPORT says
    assert values(trigger, "Errors") == [1.0]
    (discard,) = trigger.discards
    trigger.replay(discard, ok)  # the operator invokes the function directly
    got = sums(trigger)
    assert got["Invocations"] == 2  # the replay is an invocation of the function...
    assert got["InvokedEventCount"] == 1  # ...but not one the mapping made
    assert len(values(trigger, "IteratorAge")) == 1


def _one_key_per_lane(lanes: int) -> list[str]:
    """Keys that fall on lanes 0, 1, 2, ... (labkit hashes the item's key, see _intake)."""
    found: dict[int, str] = {}
    for n in range(1000):
        key = json.dumps({"pk": {"S": f"k{n}"}}, sort_keys=True)
        found.setdefault(zlib.crc32(key.encode()) % lanes, f"k{n}")
        if len(found) == lanes:
            return [found[lane] for lane in range(lanes)]
    raise AssertionError("no such keys")


def test_parallel_lanes_run_at_once_and_concurrency_says_so(lab, table_name, make_trigger):
    """ConcurrentExecutions: "the number of function instances that are processing events":
    three lanes, one record each, invoked together and each taking a moment."""
    name = source(lab, table_name, *_one_key_per_lane(3))
    started = threading.Barrier(3, timeout=5)

    def together(event: dict[str, Any], context: Any) -> None:
        started.wait()  # all three are inside the function before any returns

    trigger = make_trigger(name, together, batch_size=1, parallelization_factor=3)
    trigger.run_until_idle()
    assert sorted(i.lane for i in trigger.invocations) == [0, 1, 2]
    assert all(i.ok for i in trigger.invocations)
    assert max(values(trigger, "ConcurrentExecutions")) == 3
    single = make_trigger(
        source(lab, table_name, "a", "b"), ok, batch_size=1, function_name="single"
    )
    single.run_until_idle()
    assert values(single, "ConcurrentExecutions") == [1, 1]


# -- IteratorAge -----------------------------------------------------------------------------
def test_times_are_shown_rounded_down_to_the_precision():
    """1380 ms (a second and a cold start) shows as 1000 at a precision of 1000: the same on
    every run while the variation stays under a second."""
    assert [truncate(v, 1000) for v in (0.2, 999.9, 1000.0, 1380.0, 60_004.2)] == [
        0,
        0,
        1000,
        1000,
        60_000,
    ]
    assert truncate(1380.5, None) == 1380.5 and truncate(None, 1000) is None


def test_arrival_is_the_creation_time_on_aws_and_bounded_by_the_read_on_local():
    created_at = 1_800_000_000.0  # a whole minute, as DynamoDB Local sends it
    assert arrival(created_at + 7, created_at + 7.4, resolution=1) == created_at + 7
    assert arrival(created_at, created_at + 12.5, resolution=60) == created_at + 12.5
    assert arrival(created_at, created_at + 600, resolution=60) == created_at + 60


def test_iterator_age_is_measured_from_the_last_record_with_the_clock_moved(
    lab, table_name, make_trigger
):
    """IteratorAge: "the time between when a stream receives the record and when the event
    source mapping sends the event" [M1], for the last record of the batch. The trigger's clock
    moved an hour ahead makes every record an hour old."""
    name = source(lab, table_name, "a", "b", "c")
    records = stream_records(lab, name, 3)
    trigger = make_trigger(name, ok, batch_size=2)
    trigger.clock = lambda: time.time() + 3600
    read_before = time.time()
    trigger.run_until_idle()
    read_after = time.time()
    assert [len(i.records) for i in trigger.invocations] == [2, 1]
    for inv in trigger.invocations:
        last = float(inv.records[-1]["dynamodb"]["ApproximateCreationDateTime"])
        arrived = inv.started - inv.iterator_age_ms / 1000
        # DynamoDB Local rounds ApproximateCreationDateTime down to the minute; the record
        # arrived in that minute, and before the lab read it
        assert last <= arrived <= last + 60 and arrived <= read_after
        assert (
            3600 <= inv.iterator_age_ms / 1000 <= 3600 + (read_after - min(map(created, records)))
        )
    assert read_before < read_after


def test_a_blocked_shard_ages_with_every_minute_and_the_alarm_fires(lab, table_name, make_trigger):
    """A poison record with unlimited retries: one attempt per run, each an error, each batch
    as old as the time since it arrived; the alarm on IteratorAge (Maximum) goes to ALARM once
    two periods in a row breach its threshold [M5]."""
    name = source(lab, table_name, "a", "poison", "c")
    trigger = make_trigger(name, poison_pill, batch_size=1, metrics_config=EVENT_COUNT)
    trigger.run_until_idle()
    for minute in (1, 2, 3, 4):
        trigger.clock = lambda m=minute: time.time() + 60 * m
        trigger.run_until_idle()
    frame = trigger.metrics(precision_ms=1000)
    assert list(frame[TIME_COLUMN]) == [0, 60, 120, 180, 240]
    assert list(frame["Errors (Sum)"]) == [1, 1, 1, 1, 1]
    assert list(frame["IteratorAge (Maximum, ms)"]) == [0, 60_000, 120_000, 180_000, 240_000]
    # a blocked shard is not read further: no GetRecords, so no PolledEventCount after it
    assert (
        frame["PolledEventCount (Sum)"][0] == 3 and frame["PolledEventCount (Sum)"][1:].isna().all()
    )
    assert list(frame["InvokedEventCount (Sum)"]) == [2, 1, 1, 1, 1]  # the same record again
    alarm = trigger.iterator_age_alarm(90_000, evaluation_periods=2)
    history = alarm.history(precision_ms=1000)
    assert list(history["State"]) == ["OK", "OK", "OK", "ALARM", "ALARM"]
    assert list(history["Breaching"]) == [False, False, True, True, True]
    relaxed = trigger.iterator_age_alarm(90_000, evaluation_periods=3, datapoints_to_alarm=3)
    assert list(relaxed.history()["State"]) == ["OK", "OK", "OK", "OK", "ALARM"]


def test_record_age_discards_are_dropped_events(lab, table_name, make_trigger):
    name = source(lab, table_name, "a", "b")
    trigger = make_trigger(name, ok, maximum_record_age_in_seconds=600, metrics_config=EVENT_COUNT)
    trigger.clock = lambda: time.time() + 3600
    trigger.run_until_idle()
    got = sums(trigger)
    assert got["Invocations"] == 0 and got["DroppedEventCount"] == 2


# -- statistics and the alarm, as CloudWatch computes them -------------------------------------
def test_statistics_aggregate_per_period_from_the_first_datapoint():
    points = [
        Datapoint("Invocations", 100.0, 1),
        Datapoint("Invocations", 159.9, 1),
        Datapoint("IteratorAge", 100.0, 10),
        Datapoint("IteratorAge", 159.0, 30),
        Datapoint("Invocations", 160.0, 1),
        Datapoint("Invocations", 290.0, 1),
    ]
    wanted = [("Invocations", "Sum"), ("IteratorAge", "Maximum"), ("IteratorAge", "Average")]
    rows = statistics(points, wanted, period=60, start=100.0)
    assert rows == [
        {
            TIME_COLUMN: 0,
            "Invocations (Sum)": 2,
            "IteratorAge (Maximum, ms)": 30,
            "IteratorAge (Average, ms)": 20,
        },
        {
            TIME_COLUMN: 60,
            "Invocations (Sum)": 1,
            "IteratorAge (Maximum, ms)": None,
            "IteratorAge (Average, ms)": None,
        },
        {
            TIME_COLUMN: 180,
            "Invocations (Sum)": 1,
            "IteratorAge (Maximum, ms)": None,
            "IteratorAge (Average, ms)": None,
        },
    ]
    every = statistics(points, wanted[:1], period=60, start=100.0, every_period=True)
    assert [r[TIME_COLUMN] for r in every] == [0, 60, 120, 180]
    assert every[2]["Invocations (Sum)"] is None


def test_the_alarm_needs_m_of_n_breaching_periods_and_treats_missing_data_as_good():
    points = tuple(
        Datapoint("IteratorAge", t, v)
        for t, v in [(0, 100), (60, 500), (180, 700), (240, 800), (300, 50)]
    )
    data = Metrics("fn", "orders", False, points)
    alarm = IteratorAgeAlarm("fn", 400, evaluation_periods=3, datapoints_to_alarm=2)
    states = [(r[TIME_COLUMN], r["Breaching"], r["State"]) for r in alarm.evaluate(data)]
    assert states == [
        (0, False, "OK"),
        (60, True, "OK"),
        (120, False, "OK"),  # no datapoint: notBreaching
        (180, True, "ALARM"),  # 60 and 180 breach: 2 of the last 3
        (240, True, "ALARM"),
        (300, False, "ALARM"),  # 180 and 240 still among the last 3
    ]
    properties = alarm.properties({"Ref": "Fn"})
    assert properties["Dimensions"] == [{"Name": "FunctionName", "Value": {"Ref": "Fn"}}]
    assert (properties["Namespace"], properties["MetricName"]) == ("AWS/Lambda", "IteratorAge")
    assert (properties["Statistic"], properties["TreatMissingData"]) == ("Maximum", "notBreaching")
    assert (properties["EvaluationPeriods"], properties["DatapointsToAlarm"]) == (3, 2)


@pytest.mark.parametrize(
    ("options", "says"),
    [
        ({"threshold_ms": -1}, "threshold_ms"),
        ({"threshold_ms": "60s"}, "threshold_ms"),
        ({"threshold_ms": 1, "evaluation_periods": 0}, "evaluation_periods"),
        ({"threshold_ms": 1, "evaluation_periods": 2, "datapoints_to_alarm": 3}, "datapoints"),
        ({"threshold_ms": 1, "period": 30}, "period"),
        ({"threshold_ms": 1, "actions": ("arn:aws:sqs:us-east-1:1:q",)}, "SNS"),
    ],
)
def test_an_alarm_cloudwatch_would_refuse_is_refused(options, says):
    with pytest.raises(labkit.DeployError, match=says) as caught:
        IteratorAgeAlarm("fn", **options)
    assert caught.value.fix


# -- the frame, the chart, the tracer, the monitor's numbers -----------------------------------
def test_the_frame_shows_cloudwatch_columns_empty_cells_and_rounded_times(
    lab, table_name, make_trigger
):
    name = source(lab, table_name, "a", "poison")
    trigger = make_trigger(name, poison_pill, batch_size=1, metrics_config=EVENT_COUNT)
    trigger.run_until_idle()
    frame = trigger.metrics("Invocations", "IteratorAge", "DroppedEventCount", precision_ms=1000)
    assert isinstance(frame, pd.DataFrame)
    assert list(frame.columns) == [
        TIME_COLUMN,
        "Invocations (Sum)",
        "IteratorAge (Maximum, ms)",
        "DroppedEventCount (Sum)",
    ]
    assert list(frame["Invocations (Sum)"]) == [2]
    assert list(frame["IteratorAge (Maximum, ms)"]) == [0]
    assert frame["DroppedEventCount (Sum)"].isna().all()  # no datapoint: no value
    text = repr(frame)
    assert "nan" not in text and "2.0" not in text
    chart = frame.chart("IteratorAge", "Invocations")
    assert chart.text().splitlines()[0].endswith("CloudWatch metrics per 1 minute")
    assert "IteratorAge (Maximum, ms)" in chart.text()
    assert chart.png() == chart.png()  # the same bytes for the same data
    with pytest.raises(labkit.TriggerError, match="no column"):
        frame.chart("Errors")


def test_the_engine_alone_gives_plain_rows(lab, table_name, make_trigger, monkeypatch):
    """Without the teaching wing (a plain script), trigger.metrics() is the rows themselves."""
    monkeypatch.setitem(_seams._factories, "metrics", None)
    monkeypatch.setitem(_seams._factories, "table", None)
    name = source(lab, table_name, "a")
    trigger = make_trigger(name, ok)
    trigger.run_until_idle()
    (row,) = trigger.metrics("Invocations", "Errors")
    assert row == {TIME_COLUMN: 0, "Invocations (Sum)": 1.0, "Errors (Sum)": 0.0}
    history = trigger.iterator_age_alarm(1000).history()
    assert [r["State"] for r in history] == ["OK"]


def test_tracer_metrics_give_each_step_its_own_statistics(lab, table_name, make_trigger):
    name = table_name("orders")
    table = lab.create_table(name)
    trigger = make_trigger(name, poison_pill, batch_size=1, metrics_config=EVENT_COUNT)
    trace = labkit.Tracer(lab, trigger)
    with trace.step("Two good orders"):
        put_items(table, "a", "b")
    with trace.step("A poison order"):
        put_items(table, "poison")
    with trace.step("Nothing new: the retry before the step"):
        pass
    frame = trace.metrics("Invocations", "Errors", "InvokedEventCount")
    # step 3: the blocked batch is tried in the poll before the step and after it
    assert list(frame["Step"]) == [1, 2, 3]
    assert list(frame["Invocations (Sum)"]) == [2, 1, 2]
    assert list(frame["Errors (Sum)"]) == [0, 1, 2]
    assert list(frame["InvokedEventCount (Sum)"]) == [2, 1, 2]

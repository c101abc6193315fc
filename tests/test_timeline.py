"""The pictures of a run, from real runs on DynamoDB Local: the timeline's data (records, batches,
attempts, bisect halves, lanes, tumbling windows, discards, replays), the step chart, the shard
strip, and the counting they rely on (every invocation of the log is in some step)."""

from __future__ import annotations

import base64
import time
from collections import defaultdict
from typing import Any

import pytest

import labkit
from labkit.teach._picture import seq_label
from labkit.teach._timeline import Mark, Timeline


def _negative(record: dict[str, Any]) -> bool:
    return int(record["dynamodb"]["NewImage"]["total"]["N"]) < 0


def fragile(event: dict[str, Any], context: Any) -> None:
    for record in event["Records"]:
        if _negative(record):
            raise ValueError("negative total")


def fixed(event: dict[str, Any], context: Any) -> None:
    return None


def _three_orders(lab: labkit.Lab, name: str) -> list[str]:
    """good, poison, good; their sequence numbers."""
    table = lab.create_table(name)
    for pk, total in [("order-1", 10), ("order-2", -5), ("order-3", 7)]:
        table.put_item(Item={"pk": pk, "total": total})
    return _sequence_numbers(lab, name)


def _sequence_numbers(lab: labkit.Lab, name: str) -> list[str]:
    arn = lab.stream_arn(name)
    shard = lab.streams.describe_stream(StreamArn=arn)["StreamDescription"]["Shards"][0]
    iterator = lab.streams.get_shard_iterator(
        StreamArn=arn, ShardId=shard["ShardId"], ShardIteratorType="TRIM_HORIZON"
    )["ShardIterator"]
    return [
        r["dynamodb"]["SequenceNumber"]
        for r in lab.streams.get_records(ShardIterator=iterator)["Records"]
    ]


def _story(marks: tuple[Mark, ...]) -> list[tuple[Any, ...]]:
    return [
        (m.kind, m.number, m.batch, m.bisect, m.attempt, m.sequence_numbers, m.outcome)
        for m in marks
    ]


def test_seq_label_is_short():
    assert seq_label("000000000000000000023") == "#23"
    assert seq_label("49663478601234567890123456789") == "#…6789"


def test_bisect_retries_discard_and_replay_are_drawn_from_the_log(lab, table_name):
    source, failures = table_name("orders"), table_name("failures")
    lab.create_table(failures, stream=None)
    s1, s2, s3 = _three_orders(lab, source)
    trigger = lab.trigger(
        source,
        fragile,
        maximum_retry_attempts=2,
        bisect_batch_on_function_error=True,
        destination_config={"OnFailure": {"Destination": failures}},
    )
    trigger.run_until_idle()
    trigger.replay(trigger.discards[0], handler=fixed)

    # the engine's facts: the batch, its halves, the discard's place and records
    assert [(i.batch, i.bisect, i.attempt) for i in trigger.invocations] == [
        (1, (), 1),
        (1, (1,), 1),
        (1, (2,), 1),
        (1, (2, 1), 1),
        (1, (2, 1), 2),
        (1, (2, 1), 3),
        (1, (2, 2), 1),
        (0, (), 1),
    ]
    assert trigger.invocations[-1].repair == "replay"
    (discard,) = trigger.discards
    assert (discard.lane, discard.batch, discard.bisect) == (0, 1, (2, 1))
    assert [r["dynamodb"]["Keys"]["pk"]["S"] for r in discard.records] == ["order-2"]

    picture = labkit.timeline(trigger)
    (panel,) = picture.panels
    assert [(r.label, r.event, r.key) for r in panel.rows] == [
        (seq_label(s1), "INSERT", "order-1"),
        (seq_label(s2), "INSERT", "order-2"),
        (seq_label(s3), "INSERT", "order-3"),
    ]
    assert _story(panel.marks) == [
        ("invocation", 1, 1, (), 1, (s1, s2, s3), "error"),
        ("invocation", 2, 1, (1,), 1, (s1,), "success"),
        ("invocation", 3, 1, (2,), 1, (s2, s3), "error"),
        ("invocation", 4, 1, (2, 1), 1, (s2,), "error"),
        ("invocation", 5, 1, (2, 1), 2, (s2,), "error"),
        ("invocation", 6, 1, (2, 1), 3, (s2,), "error"),
        ("discard", None, 1, (2, 1), 0, (s2,), "discarded"),
        ("invocation", 7, 1, (2, 2), 1, (s3,), "success"),
        ("invocation", 8, 0, (), 1, (s2,), "success"),
    ]
    assert [m.slot for m in panel.marks] == list(range(1, 10)) and picture.width == 9
    assert panel.marks[6].tags(1) == ["discarded", "retries out", f"→ {failures}"]
    assert panel.marks[5].tags(1) == ["half 2.1", "try 3"]
    assert panel.marks[8].tags(1) == ["replay"]
    assert "bisect_batch_on_function_error=True" in panel.options
    table = picture.table()
    assert list(table.columns) == ["Invocation", "Batch", "Attempt", "Records", "Outcome"]
    assert table["Batch"].tolist()[:4] == ["1", "1 half 1", "1 half 2", "1 half 2.1"]
    assert table["Outcome"].tolist()[6] == (
        f"discarded (RetryAttemptsExhausted), sent to {failures}"
    )
    assert table["Outcome"].tolist()[8] == "success (replay)"


def test_a_partial_batch_response_shows_what_it_reported(lab, table_name):
    source = table_name("orders")
    s1, s2, s3 = _three_orders(lab, source)

    def report(event: dict[str, Any], context: Any) -> dict[str, Any]:
        failed = [r["dynamodb"]["SequenceNumber"] for r in event["Records"] if _negative(r)]
        return {"batchItemFailures": [{"itemIdentifier": s} for s in failed]}

    trigger = lab.trigger(
        source,
        report,
        function_response_types=["ReportBatchItemFailures"],
        maximum_retry_attempts=1,
    )
    trigger.run_until_idle()
    (panel,) = labkit.timeline(trigger).panels
    assert _story(panel.marks) == [
        ("invocation", 1, 1, (), 1, (s1, s2, s3), "partial failure"),
        ("invocation", 2, 1, (), 2, (s2, s3), "partial failure"),
        ("discard", None, 1, (), 0, (s2, s3), "discarded"),
    ]
    assert [m.reported for m in panel.marks] == [(s2,), (s2,), ()]
    assert panel.marks[0].outcome_text() == f"partial failure ({seq_label(s2)} reported)"


def test_records_too_old_to_send_keep_their_names(lab, table_name):
    source = table_name("orders")
    s1, s2, s3 = _three_orders(lab, source)
    trigger = lab.trigger(source, fragile, maximum_record_age_in_seconds=60)
    trigger.clock = lambda: time.time() + 3600  # never sent: too old at the first poll
    trigger.run_until_idle()
    assert trigger.invocations == []
    (panel,) = labkit.timeline(trigger).panels
    assert _story(panel.marks) == [("discard", None, 1, (), 0, (s1, s2, s3), "discarded")]
    assert [r.text for r in panel.rows] == [
        f"{seq_label(s)} INSERT order-{n}" for n, s in enumerate((s1, s2, s3), start=1)
    ]
    assert panel.marks[0].tags(1) == ["discarded", "too old", "dropped"]


def test_lanes_are_columns_of_their_own_batches(lab, table_name):
    source = table_name("stock")
    stock = lab.create_table(source)
    skus = ("sku-1", "sku-2", "sku-3", "sku-5")
    for sku in skus:
        stock.put_item(Item={"pk": sku, "qty": 10})
    for sku in skus:
        stock.update_item(
            Key={"pk": sku}, UpdateExpression="SET qty = :q", ExpressionAttributeValues={":q": 9}
        )
    trigger = lab.trigger(source, fixed, batch_size=2, parallelization_factor=2)
    trigger.run_until_idle()
    picture = labkit.timeline(trigger)
    (panel,) = picture.panels
    assert panel.lanes == 2 and picture.width == 2
    lane_of = {r.key: r.lane for r in panel.rows}
    for mark in panel.marks:  # a lane's k-th batch is in column k; its records are its keys
        keys = {r.key for r in panel.rows if r.sequence_number in mark.sequence_numbers}
        assert {lane_of[k] for k in keys} == {mark.lane}
        assert mark.slot == mark.batch and mark.tags(2) == [f"lane {mark.lane}"]
    assert sorted((m.slot, m.lane) for m in panel.marks) == [(1, 0), (1, 1), (2, 0), (2, 1)]
    table = picture.table()
    assert list(table.columns) == ["Lane", "Batch", "Attempt", "Records", "Outcome"]
    assert table["Lane"].tolist() == [0, 1, 0, 1]  # column by column: the same on every run
    assert "Invocation" not in table.columns  # numbers between lanes change from run to run


def test_a_tumbling_window_and_its_final_call(lab, table_name):
    source = table_name("sales")
    sales = lab.create_table(source)

    def revenue(event: dict[str, Any], context: Any) -> dict[str, Any]:
        state = dict(event["state"])
        state["n"] = state.get("n", 0) + len(event["Records"])
        return {"state": state}

    trigger = lab.trigger(source, revenue, batch_size=2, tumbling_window_in_seconds=900)
    if time.time() % 900 > 890:  # keep the writes in one window
        time.sleep(900.5 - time.time() % 900)
    for n in range(3):
        sales.put_item(Item={"pk": f"s{n}"})
    trigger.run_until_idle()
    trigger.clock = lambda: time.time() + 900
    trigger.run_until_idle()
    picture = labkit.timeline(trigger)
    (panel,) = picture.panels
    assert [(m.batch, len(m.sequence_numbers), m.window, m.final) for m in panel.marks] == [
        (1, 2, 1, False),
        (2, 1, 1, False),
        (3, 0, 1, True),
    ]
    assert {r.window for r in panel.rows} == {1}
    final = panel.marks[-1]
    assert panel.covered(final) == [0, 1, 2]  # drawn over the window it closes
    assert final.tags(1) == ["final call"]
    assert picture.table()["Outcome"].tolist()[-1] == "success (final call of the window)"


def test_every_invocation_of_the_log_is_counted_by_a_step(lab, table_name):
    """Issue 14, item 6: lesson 08's blocked shard. The tracer lets the trigger poll before
    each step; those retries belong to the step, so the log, the execution table, the tracker
    and the timeline all count 7."""
    source, target = table_name("orders"), table_name("processed")
    orders = lab.create_table(source)
    lab.create_table(target, stream=None)
    trigger = lab.trigger(source, fragile)
    trace = labkit.Tracer(lab, trigger, target=target)
    with trace.step("good"):
        orders.put_item(Item={"pk": "order-1", "total": 10})
    with trace.step("poison"):
        orders.put_item(Item={"pk": "order-2", "total": -5})
    with trace.step("behind it"):
        orders.put_item(Item={"pk": "order-3", "total": 7})
    with trace.step("fix"):
        trigger.handler = fixed

    assert len(trigger.invocations) == 7
    assert [len(s.invocations) for s in trace.steps] == [1, 1, 2, 3]
    assert [s.before for s in trace.steps] == [0, 0, 1, 1]
    assert sum(len(s.invocations) for s in trace.steps) == len(trigger.invocations)
    assert (
        trace.variable_tracker().table().loc["Final", "Lambda Trigger"]
        == "idle after 7 invocations"
    )
    triggered = trace.execution_table()["Lambda Triggered"].tolist()
    assert triggered[2] == (
        "Yes: 2 invocations, 2 records (1 when the trigger polled before the step)"
    )
    assert "once when it polled before the step" in trace.transcript().paragraphs[2]

    picture = trace.timeline()
    (panel,) = picture.panels
    assert [m.number for m in panel.marks] == [1, 2, 3, 4, 5, 6, 7]
    assert [(m.step, m.before, m.attempt) for m in panel.marks] == [
        (1, False, 1),
        (2, False, 1),
        (3, True, 2),
        (3, False, 3),
        (4, True, 4),
        (4, False, 5),
        (4, False, 1),
    ]
    assert [(s.number, s.first, s.last) for s in picture.steps] == [
        (1, 1, 1),
        (2, 2, 2),
        (3, 3, 4),
        (4, 5, 7),
    ]
    assert picture.table()["Step"].tolist() == [1, 2, 3, 3, 4, 4, 4]


def test_a_step_without_an_invocation_keeps_its_column(lab, table_name):
    source = table_name("orders")
    orders = lab.create_table(source)
    trigger = lab.trigger(source, fixed)
    trace = labkit.Tracer(lab, trigger)
    with trace.step("insert"):
        orders.put_item(Item={"pk": "o1", "n": 1})
    with trace.step("unchanged"):
        orders.put_item(Item={"pk": "o1", "n": 1})
    picture = labkit.timeline(trace)
    (panel,) = picture.panels
    assert [(m.kind, m.slot, m.step) for m in panel.marks] == [("invocation", 1, 1), ("idle", 2, 2)]
    assert picture.table()["Outcome"].tolist() == ["success", "no invocation"]


def test_the_step_chart_sets_each_view_against_a_scan_of_the_source(lab, table_name):
    source, naive_name, delta_name = table_name("orders"), table_name("naive"), table_name("delta")
    orders = lab.create_table(source)
    naive = lab.create_table(naive_name, key="customer", stream=None)
    delta = lab.create_table(delta_name, key="customer", stream=None)

    def add_new(event: dict[str, Any], context: Any) -> None:
        for record in event["Records"]:
            if "NewImage" in record["dynamodb"]:
                image = record["dynamodb"]["NewImage"]
                naive.update_item(
                    Key={"customer": image["customer"]["S"]},
                    UpdateExpression="ADD revenue :t",
                    ExpressionAttributeValues={":t": int(image["total"]["N"])},
                )

    def add_delta(event: dict[str, Any], context: Any) -> None:
        for record in event["Records"]:
            for image, sign in (("OldImage", -1), ("NewImage", 1)):
                if image in record["dynamodb"]:
                    item = record["dynamodb"][image]
                    delta.update_item(
                        Key={"customer": item["customer"]["S"]},
                        UpdateExpression="ADD revenue :t",
                        ExpressionAttributeValues={":t": sign * int(item["total"]["N"])},
                    )

    triggers = [lab.trigger(source, add_new), lab.trigger(source, add_delta)]
    trace = labkit.Tracer(lab, triggers, target=[naive_name, delta_name])
    with trace.step("insert"):
        orders.put_item(Item={"pk": "o1", "customer": "alice", "total": 30})
    with trace.step("update"):
        orders.put_item(Item={"pk": "o1", "customer": "alice", "total": 45})

    def revenue(items: list[dict[str, Any]]) -> dict[str, Any]:
        out: dict[str, Any] = defaultdict(int)
        for item in items:
            out[item["customer"]] += item["total"]
        return out

    chart = trace.step_chart("revenue", truth=revenue)
    assert chart.keys == ("alice",)
    assert dict(chart.series) == {
        f"truth (a scan of {source})": {"alice": (30.0, 45.0)},
        naive_name: {"alice": (30.0, 75.0)},
        delta_name: {"alice": (30.0, 45.0)},
    }
    table = chart.table()
    assert table["Differs from the truth"].tolist() == ["", naive_name]


def test_the_shard_strip_reads_where_each_iterator_starts(lab, table_name):
    source = table_name("orders")
    orders = lab.create_table(source)
    for pk in ("o1", "o2", "o3"):
        orders.put_item(Item={"pk": pk})
    s1, s2, s3 = _sequence_numbers(lab, source)
    arn = lab.stream_arn(source)
    shard = lab.streams.describe_stream(StreamArn=arn)["StreamDescription"]["Shards"][0]

    def iterator(kind: str, **more: str) -> str:
        return lab.streams.get_shard_iterator(
            StreamArn=arn, ShardId=shard["ShardId"], ShardIteratorType=kind, **more
        )["ShardIterator"]

    strip = labkit.shard_strip(
        lab,
        source,
        iterators={
            "AFTER #2": iterator("AFTER_SEQUENCE_NUMBER", SequenceNumber=s2),
            "LATEST": iterator("LATEST"),
        },
        checkpoints={"poller": s1, "new reader": None},
    )
    assert [r.sequence_number for r in strip.records] == [s1, s2, s3]
    assert dict(strip.reads) == {"AFTER #2": (s3,), "LATEST": ()}
    assert strip.table().to_dict("records") == [
        {
            "Position": "AFTER #2",
            "Where": f"at {seq_label(s3)}",
            "Records from there": seq_label(s3),
        },
        {"Position": "LATEST", "Where": "after the last record", "Records from there": "none yet"},
        {
            "Position": "poller",
            "Where": f"after {seq_label(s1)}",
            "Records from there": f"{seq_label(s2)} {seq_label(s3)}",
        },
        {
            "Position": "new reader",
            "Where": "none: from the oldest",
            "Records from there": " ".join(map(seq_label, (s1, s2, s3))),
        },
    ]


def test_a_picture_is_a_png_and_its_table_as_text(lab, table_name):
    source = table_name("orders")
    _three_orders(lab, source)
    trigger = lab.trigger(source, fragile, maximum_retry_attempts=0)
    trigger.run_until_idle()
    picture = labkit.timeline(trigger)
    data, metadata = picture._repr_mimebundle_()
    png = base64.b64decode(data["image/png"])
    assert png.startswith(b"\x89PNG\r\n\x1a\n") and png == picture.png()  # the same bytes
    assert b"Software" not in png and b"Creation" not in png  # no version, no date
    assert metadata["image/png"]["width"] > 300
    assert data["text/plain"] == repr(picture) == f"{picture.title}\n{picture.table()!r}"
    assert isinstance(picture, Timeline)


def test_timeline_says_what_it_draws(lab):
    with pytest.raises(labkit.TraceError, match=r"lk\.timeline draws a trigger's run"):
        labkit.timeline("orders")  # type: ignore[arg-type]

"""A tracer that follows several functions and several target tables: two consumers of one
stream, and a chain where one function's target is the next function's source."""

from __future__ import annotations

from typing import Any

import labkit


def copier(lab: labkit.Lab, target: str, say: str) -> Any:
    out = lab.table(target)

    def handler(event: dict[str, Any], context: Any) -> None:
        for record in event["Records"]:
            pk = record["dynamodb"]["Keys"]["pk"]["S"]
            if record["eventName"] == "REMOVE":
                out.delete_item(Key={"pk": pk})
            else:
                out.put_item(Item={"pk": pk, "by": say})
            print(f"{say} {record['eventName']} {pk}")

    handler.__name__ = say
    return handler


def test_two_consumers_of_one_stream_are_named_in_every_column(lab, table_name):
    src, a, b = table_name("src"), table_name("a"), table_name("b")
    source = lab.create_table(src)
    lab.create_table(a, stream=None)
    lab.create_table(b, stream=None)
    first = lab.trigger(src, copier(lab, a, "first"))
    second = lab.trigger(src, copier(lab, b, "second"))
    trace = labkit.Tracer(lab, [first, second], target=[a, b])
    with trace.step("Insert x"):
        source.put_item(Item={"pk": "x"})
    with trace.step("Insert x again, unchanged"):
        source.put_item(Item={"pk": "x"})
    row = trace.execution_table().iloc[0]
    assert row["Stream Record Captured"] == "Yes: INSERT"  # one record, read by both
    assert row["Lambda Triggered"] == (
        "Yes: first 1 invocation, 1 record; second 1 invocation, 1 record"
    )
    assert row["Processing Action"] == "first: first INSERT x; second: second INSERT x"
    assert f"Wrote x to {a}" in row["Output Action"] and f"Wrote x to {b}" in row["Output Action"]
    quiet = trace.execution_table().iloc[1]
    assert (quiet["Lambda Triggered"], quiet["Output Action"]) == ("No", "No write")
    tracker = trace.variable_tracker().table()
    output = tracker.loc["After Step 1", "Processed Output"]
    assert output.startswith(f"{a}: + x") and f"\n{b}: + x" in output
    assert "first invoked with INSERT, succeeded" in tracker.loc["After Step 1", "Lambda Trigger"]


def test_a_chain_runs_downstream_functions_in_the_same_step(lab, table_name):
    src, mid, end = table_name("src"), table_name("mid"), table_name("end")
    source = lab.create_table(src)
    lab.create_table(mid)  # with a stream: the second function reads it
    lab.create_table(end, stream=None)
    upstream = lab.trigger(src, copier(lab, mid, "up"))
    downstream = lab.trigger(mid, copier(lab, end, "down"))
    trace = labkit.Tracer(lab, [upstream, downstream], target=[mid, end])
    with trace.step("Insert y"):
        source.put_item(Item={"pk": "y"})
    with trace.step("Delete y"):
        source.delete_item(Key={"pk": "y"})
    insert, delete = trace.steps
    assert insert.event_names == ["INSERT", "INSERT"]  # the source's record, then mid's
    assert insert.functions == ["up", "down"]
    assert [c.table for c in insert.changes] == [mid, end]
    assert delete.event_names == ["REMOVE", "REMOVE"]
    assert lab.items(end) == []
    assert "down: down REMOVE y" in trace.execution_table().iloc[1]["Processing Action"]
    told = str(trace.transcript())
    assert "The triggers invoked up once, down once" in told and "The target changed" in told


def test_a_tracer_without_a_trigger_is_a_clear_error(lab):
    try:
        labkit.Tracer(lab, [])
    except labkit.TraceError as exc:
        assert "lab.trigger" in str(exc)
    else:
        raise AssertionError("an empty trigger list was accepted")


def test_a_step_whose_batch_fails_then_succeeds_says_both(lab, table_name):
    src = table_name("src")
    source = lab.create_table(src)
    tries: list[int] = []

    def flaky(event: dict[str, Any], context: Any) -> None:
        tries.append(1)
        if len(tries) == 1:
            raise RuntimeError("first try fails")

    trigger = lab.trigger(src, flaky, maximum_retry_attempts=2)
    trace = labkit.Tracer(lab, trigger)
    with trace.step("Insert z"):
        source.put_item(Item={"pk": "z"})
    text = trace.variable_tracker().table().loc["After Step 1", "Lambda Trigger"]
    assert text.startswith("invoked with INSERT, INSERT, failed (")
    assert text.endswith(", then succeeded") and "first try fails" in text

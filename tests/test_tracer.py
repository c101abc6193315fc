"""The execution table and variable tracker follow from what really happened in a run.

The handler's log text is a parameter of the test: whatever it prints must appear in the table's
"Processing Action" column, which shows that column is computed from the run, never typed in.
"""

from __future__ import annotations

import re
from typing import Any

import pytest
from _streamcheck import at_least, read_until, set_attr

import labkit

EXECUTION_COLUMNS = [
    "Step",
    "Event",
    "Stream Record Captured",
    "Lambda Triggered",
    "Processing Action",
    "Output Action",
]
TRACKER_VARIABLES = ["Stream Record", "Lambda Trigger", "Processed Output"]
ACCEPTED = ("new", "paid")  # the handler's filter: other statuses are not written


def make_handler(lab: labkit.Lab, target: str, say: str) -> Any:
    """INSERT/MODIFY: keep accepted statuses, upper-case them, write to ``target``. REMOVE: log."""
    out = lab.table(target)

    def handler(event: dict[str, Any], context: Any) -> None:
        for record in event["Records"]:
            pk = record["dynamodb"]["Keys"]["pk"]["S"]
            if record["eventName"] == "REMOVE":
                print(f"{say} {pk} removed, target kept")
                continue
            status = record["dynamodb"]["NewImage"]["status"]["S"]
            if status not in ACCEPTED:
                print(f"{say} {pk} skipped ({status})")
                continue
            out.put_item(Item={"pk": pk, "status": status.upper()})
            print(f"{say} {pk} stored as {status.upper()}")

    return handler


def four_steps(lab: labkit.Lab, table_name: Any, say: str) -> dict[str, Any]:
    source_name, target_name = table_name("orders"), table_name("processed")
    source = lab.create_table(source_name)
    lab.create_table(target_name, stream=None)
    trigger = lab.trigger(source_name, make_handler(lab, target_name, say))
    trace = labkit.Tracer(lab, trigger, target=target_name)
    witness = labkit.StreamReader(lab.streams, lab.stream_arn(source_name), "LATEST")
    seen: list[list[str]] = []  # event names per step, read by a consumer of our own

    def witnessed(n: int) -> None:
        seen.append([r["eventName"] for r in read_until(witness, at_least(n))])

    with trace.step("Insert order-1"):
        source.put_item(Item={"pk": "order-1", "status": "new"})
    witnessed(1)
    with trace.step("Pay order-1"):
        set_attr(source, "order-1", "status", "paid")
    witnessed(1)
    with trace.step("Delete order-1"):
        source.delete_item(Key={"pk": "order-1"})
    witnessed(1)
    with trace.step("Delete order-1 again"):
        source.delete_item(Key={"pk": "order-1"})  # no such item any more: nothing changes
    seen.append([r["eventName"] for r in witness.read_all()])
    return {
        "trace": trace,
        "trigger": trigger,
        "target": target_name,
        "seen": seen,
        "source": source,
    }


@pytest.fixture(params=["handler:", "Lambda says"], ids=["say-handler", "say-lambda"])
def run(request: pytest.FixtureRequest, lab: labkit.Lab, table_name: Any) -> dict[str, Any]:
    result = four_steps(lab, table_name, request.param)
    result["say"] = request.param
    return result


def test_execution_table_rows_follow_from_the_run(run, lab):
    trace, target, say = run["trace"], run["target"], run["say"]
    table = trace.execution_table()
    assert list(table.columns) == EXECUTION_COLUMNS
    assert list(table["Step"]) == [1, 2, 3, 4]
    assert list(table["Event"]) == [
        "Insert order-1",
        "Pay order-1",
        "Delete order-1",
        "Delete order-1 again",
    ]
    # our own consumer saw one record per step, none in step 4
    assert run["seen"] == [["INSERT"], ["MODIFY"], ["REMOVE"], []]
    rows = table.to_dict("records")
    for row, names in zip(rows[:3], run["seen"][:3], strict=True):
        assert row["Stream Record Captured"].startswith("Yes")
        assert all(name in row["Stream Record Captured"] for name in names)
        assert row["Lambda Triggered"].startswith("Yes")

    # what the handler printed, word for word
    assert rows[0]["Processing Action"] == f"{say} order-1 stored as NEW"
    assert rows[1]["Processing Action"] == f"{say} order-1 stored as PAID"
    assert rows[2]["Processing Action"] == f"{say} order-1 removed, target kept"

    # the output column describes the target's real change
    assert lab.items(target) == [{"pk": "order-1", "status": "PAID"}]
    assert target in rows[0]["Output Action"] and "order-1" in rows[0]["Output Action"]
    assert rows[0]["Output Action"] != "No write"
    assert target in rows[1]["Output Action"]
    assert "'NEW'" in rows[1]["Output Action"] and "'PAID'" in rows[1]["Output Action"]
    assert rows[2]["Output Action"] == "No write"

    assert {k: rows[3][k] for k in EXECUTION_COLUMNS[2:]} == {
        "Stream Record Captured": "No",
        "Lambda Triggered": "No",
        "Processing Action": "None",
        "Output Action": "No write",
    }


def test_variable_tracker_follows_from_the_run(run, lab):
    trace, trigger = run["trace"], run["trigger"]
    tracker = trace.variable_tracker().table()
    assert list(tracker.columns) == TRACKER_VARIABLES
    assert list(tracker.index) == [
        "Start",
        "After Step 1",
        "After Step 2",
        "After Step 3",
        "After Step 4",
        "Final",
    ]
    records, calls, output = (tracker[column] for column in TRACKER_VARIABLES)
    for step, names in enumerate(run["seen"], start=1):
        for name in ("INSERT", "MODIFY", "REMOVE"):
            assert (name in records[f"After Step {step}"]) == (name in names)
            assert (name in calls[f"After Step {step}"]) == (name in names)
    assert str(len(trigger.invocations)) in calls["Final"]
    assert all(name in records["Final"] for name in ("INSERT", "MODIFY", "REMOVE"))
    # the target: empty at the start; a step shows only what it changed (NEW added by step 1,
    # NEW -> PAID by step 2, nothing by the REMOVE nor by the second delete); Final shows it all
    assert output["Start"] == "empty"
    assert output["After Step 1"] == "+ order-1  status: 'NEW'"
    assert output["After Step 2"] == "~ order-1  status: 'NEW' → 'PAID'"
    assert output["After Step 3"] == output["After Step 4"] == "no change"
    assert output["Final"] == "order-1  status: 'PAID'"
    assert lab.items(run["target"]) == [{"pk": "order-1", "status": "PAID"}]


def test_a_record_the_filter_rejects_is_triggered_but_writes_nothing(lab, table_name):
    source_name, target_name = table_name("orders"), table_name("processed")
    source = lab.create_table(source_name)
    lab.create_table(target_name, stream=None)
    trigger = lab.trigger(source_name, make_handler(lab, target_name, "filter:"))
    trace = labkit.Tracer(lab, trigger, target=target_name)
    with trace.step("Insert a cancelled order"):
        source.put_item(Item={"pk": "order-9", "status": "cancelled"})

    (row,) = trace.execution_table().to_dict("records")
    assert (
        row["Stream Record Captured"].startswith("Yes")
        and "INSERT" in row["Stream Record Captured"]
    )
    assert row["Lambda Triggered"].startswith("Yes")
    assert row["Processing Action"] == "filter: order-9 skipped (cancelled)"
    assert row["Output Action"] == "No write"
    assert lab.items(target_name) == []


def test_a_step_inside_a_step_is_a_trace_error(lab, table_name):
    name = table_name("orders")
    source = lab.create_table(name)
    trace = labkit.Tracer(lab, lab.trigger(name, lambda event, context: None))
    with pytest.raises(labkit.TraceError) as caught, trace.step("outer"), trace.step("inner"):
        source.put_item(Item={"pk": "never"})
    assert isinstance(caught.value, labkit.LabError)
    assert "Fix:" in str(caught.value)
    assert source.get_item(Key={"pk": "never"}).get("Item") is None
    assert trace.steps == []
    # the tracer is usable again after the mistake
    with trace.step("alone"):
        source.put_item(Item={"pk": "once"})
    assert [s.event_names for s in trace.steps] == [["INSERT"]]


# -- how the tables render --------------------------------------------------------------------
def test_equal_tables_render_identical_html_and_different_tables_do_not(run):
    trace = run["trace"]
    first, again = trace.execution_table(), trace.execution_table()
    assert first is not again
    assert first._repr_html_() == again._repr_html_()
    assert trace.variable_tracker()._repr_html_() == trace.variable_tracker()._repr_html_()
    assert first._repr_html_() != trace.variable_tracker()._repr_html_()


def _untagged(html: str) -> str:
    return re.sub(r"<[^>]+>", "", html)


def test_long_cells_are_shown_whole(lab, table_name):
    name, target = table_name("orders"), table_name("processed")
    source = lab.create_table(name)
    lab.create_table(target, stream=None)
    long_word = "order-" + "x" * 300
    trace = labkit.Tracer(lab, lab.trigger(name, make_handler(lab, target, "long:")), target)
    with trace.step("Insert a long key"):
        source.put_item(Item={"pk": long_word, "status": "new"})

    expected = f"long: {long_word} stored as NEW"
    table = trace.execution_table()
    assert table.loc[0, "Processing Action"] == expected
    for text in (_untagged(table._repr_html_()), repr(table)):
        assert expected in text
        assert "..." not in text and "…" not in text
    # the one token too long for any column may break anywhere; the words around it may not
    assert f'<span style="word-break:break-all">{long_word}</span>' in table._repr_html_()
    tracker = trace.variable_tracker()
    for text in (tracker._repr_html_(), repr(tracker)):
        assert long_word in text and "..." not in text and "…" not in text


def test_cell_text_is_escaped_in_html(lab, table_name):
    name = table_name("orders")
    source = lab.create_table(name)

    def handler(event: dict[str, Any], context: Any) -> None:
        print("qty < 10 so <b>not</b> shipped")

    trace = labkit.Tracer(lab, lab.trigger(name, handler))
    with trace.step("Insert"):
        source.put_item(Item={"pk": "a"})
    html = trace.execution_table()._repr_html_()
    assert "qty &lt; 10 so &lt;b&gt;not&lt;/b&gt; shipped" in html

"""The variable tracker reads at a glance: a step shows only what it changed, marked and coloured
(added, changed, removed), the whole table one click away, no word broken, and the same data as
plain text for a terminal and for nbval.

Most tests build the tracker from known rows (no DynamoDB needed), so each assertion names the
exact text a learner sees; the last one traces a real run.
"""

from __future__ import annotations

import html
import re
from decimal import Decimal
from typing import Any

import labkit
from labkit.teach._display import ADDED, CHANGED, LONG_TOKEN, REMOVED, STRUCK, cell_text
from labkit.teach._tracer import Change
from labkit.teach._tracker import TableState, TrackerRow, VariableTracker

KEYS = ("customer",)
ALICE_1 = {"customer": "alice", "order_count": Decimal(1), "revenue": Decimal(30)}
ALICE_2 = {"customer": "alice", "order_count": Decimal(2), "revenue": Decimal(50)}
BOB = {"customer": "bob", "order_count": Decimal(1), "revenue": Decimal(15), "note": "vip"}
BOB_LESS = {"customer": "bob", "order_count": Decimal(1), "revenue": Decimal(15)}


def _state(items: list[dict[str, Any]], *changes: Change, name: str = "totals") -> TableState:
    return TableState(name, KEYS, tuple(items), tuple(changes))


def _tracker(named: bool = False) -> VariableTracker:
    """Start empty; step 1 adds alice and bob; step 2 changes alice, drops bob's note; step 3
    removes bob; step 4 changes nothing."""

    def tables(items: list[dict[str, Any]], *changes: Change) -> tuple[TableState, ...]:
        main = _state(items, *changes)
        if not named:
            return (main,)
        return (main, _state([], name="customer_totals_naive"))

    ok = (("invoked with INSERT, succeeded", "ok"),)
    rows = (
        TrackerRow("Start", "", "none yet", (("waiting", "ok"),), tables([]), True),
        TrackerRow(
            "After Step 1",
            "Insert two orders",
            "INSERT o1, INSERT o2",
            ok,
            tables(
                [ALICE_1, BOB],
                Change("put", "alice", None, ALICE_1, "totals"),
                Change("put", "bob", None, BOB, "totals"),
            ),
            False,
        ),
        TrackerRow(
            "After Step 2",
            "Change alice's order",
            "MODIFY o1",
            (("invoked with MODIFY, failed (boom), then succeeded", "recovered"),),
            tables(
                [ALICE_2, BOB_LESS],
                Change("update", "alice", ALICE_1, ALICE_2, "totals"),
                Change("update", "bob", BOB, BOB_LESS, "totals"),
            ),
            False,
        ),
        TrackerRow(
            "After Step 3",
            "Delete bob",
            "REMOVE o2",
            (("invoked with REMOVE, failed (boom)", "failed"),),
            tables([ALICE_2], Change("delete", "bob", BOB_LESS, None, "totals")),
            False,
        ),
        TrackerRow(
            "After Step 4",
            "Nothing",
            "none (no change)",
            (("not invoked", "ok"),),
            tables([ALICE_2]),
            False,
        ),
        TrackerRow(
            "Final", "", "3 records", (("idle after 4 invocations", "ok"),), tables([ALICE_2]), True
        ),
    )
    return VariableTracker(rows)


def _rows_of(html: str) -> list[str]:
    return re.findall(r"<tr>.*?</tr>", html)


def _untagged(text: str) -> str:
    return html.unescape(re.sub(r"<[^>]+>", "", text)).replace("\xa0", " ")


# -- what a step shows ----------------------------------------------------------------------------
def test_a_step_shows_only_what_it_changed_marked_added_changed_removed():
    output = _tracker().table()["Processed Output"]
    assert output["Start"] == "empty"
    assert output["After Step 1"] == (
        "+ alice  order_count: 1, revenue: 30\n+ bob  note: 'vip', order_count: 1, revenue: 15"
    )
    # only the changed attributes, old → new; a dropped attribute says so
    assert output["After Step 2"] == (
        "~ alice  order_count: 1 → 2, revenue: 30 → 50\n~ bob  note: 'vip' → (removed)"
    )
    assert output["After Step 3"] == "- bob  order_count: 1, revenue: 15"
    assert output["After Step 4"] == "no change"
    # alice, untouched by step 3, is not repeated there; the whole table is at Final
    assert "alice" not in output["After Step 3"]
    assert output["Final"] == "alice  order_count: 2, revenue: 50"


def test_changes_are_coloured_by_kind_and_signed_so_colour_is_not_the_only_clue():
    rows = _rows_of(_tracker()._repr_html_())
    # the Processed Output cells of steps 1-3 (rows[0] is the header, rows[1] Start)
    step1, step2, step3 = (re.findall(r"<td.*?</td>", row)[-1] for row in rows[2:5])
    added = re.findall(rf'<div style="{ADDED};[^"]*">(.*?)</div>', step1)
    assert [_untagged(a) for a in added[:2]] == [
        "+ alice  order_count: 1, revenue: 30",
        "+ bob  note: 'vip', order_count: 1, revenue: 15",
    ]
    changed = re.findall(rf'<div style="{CHANGED};[^"]*">(.*?)</div>', step2)
    assert _untagged(changed[0]) == "~ alice  order_count: 1 → 2, revenue: 30 → 50"
    removed = re.findall(rf'<div style="{REMOVED};[^"]*">(.*?)</div>', step3)
    assert _untagged(removed[0]) == "- bob  order_count: 1, revenue: 15"
    # the removed item is struck through, its sign is not
    assert removed[0].startswith(f'- <span style="{STRUCK}">')


def test_the_whole_table_after_a_step_is_one_click_away():
    rows = _rows_of(_tracker()._repr_html_())
    # Start and Final show the whole table; every step folds it in one <details>
    assert "<details" not in rows[1] and "<details" not in rows[-1]
    for row in rows[2:-1]:
        assert row.count("<details") == 1 and "whole table after this step" in row
    step3_whole = re.search(r"<details.*?</details>", rows[4])
    assert step3_whole is not None
    assert "(1 item)" in step3_whole.group(0)
    assert "alice" in _untagged(step3_whole.group(0))  # untouched by step 3, still there
    assert "bob" not in _untagged(step3_whole.group(0))  # removed by it


def test_the_trigger_column_colours_failures():
    rows = _rows_of(_tracker()._repr_html_())
    assert "failed (boom), then succeeded" in rows[3] and CHANGED in rows[3]
    assert "background-color:#fce8e6" in rows[4]
    assert "background-color" not in re.findall(r"<td.*?</td>", rows[2])[1]  # a success: plain


def test_several_tables_are_named_each_with_its_changes():
    output = _tracker(named=True).table()["Processed Output"]
    assert output["After Step 3"] == (
        "totals: - bob  order_count: 1, revenue: 15\ncustomer_totals_naive: no change"
    )
    assert output["After Step 1"].startswith("totals:\n  + alice")
    page = _tracker(named=True)._repr_html_()
    assert "all tables after this step" in page
    assert "<b>customer_totals_naive</b>" in page


# -- no word broken -------------------------------------------------------------------------------
def test_no_word_is_broken_only_a_token_too_long_for_any_column_may_be():
    page = _tracker(named=True)._repr_html_()
    assert "overflow-wrap:anywhere" not in page  # what broke "custom er_total s_naive"
    assert "break-all" not in page  # no token here is long enough to need it
    assert "<br" not in page and "\u00ad" not in page and "\u200b" not in page
    for cell in re.findall(r'<t[dh] style="([^"]*)"', page):
        assert "white-space:pre-wrap" in cell and "overflow-wrap:normal" in cell
    # a "name: value" pair stays on one line, so "order_count: 3" cannot split at its space
    assert '<span style="white-space:nowrap">order_count: 1</span>' in page
    # the long table name is one text run, never split by markup
    assert "customer_totals_naive" in page

    long = "x" * (LONG_TOKEN + 1)
    assert cell_text(f"a {long} b") == f'a <span style="word-break:break-all">{long}</span> b'
    assert cell_text("x" * LONG_TOKEN) == "x" * LONG_TOKEN


def test_every_style_is_one_jupyterlab_keeps_in_an_untrusted_notebook():
    """JupyterLab's sanitizer drops a style whose value it does not know (overflow-wrap:anywhere
    is one): the tracker uses only values it keeps."""
    allowed_values = {
        "overflow-wrap": {"normal", "break-word"},
        "word-break": {"normal", "keep-all", "break-all"},
        "white-space": {"normal", "pre", "nowrap", "pre-wrap", "pre-line"},
        "text-decoration": {"none", "line-through", "underline"},
    }
    page = _tracker(named=True)._repr_html_() + cell_text("y" * 99)
    for style in re.findall(r'style="([^"]*)"', page):
        for declaration in filter(None, style.split(";")):
            name, _, value = declaration.partition(":")
            if name in allowed_values:
                assert value in allowed_values[name], declaration


# -- the text form ---------------------------------------------------------------------------------
def test_the_text_form_reads_as_a_block_per_step():
    text = repr(_tracker())
    assert text == str(_tracker())
    blocks = text.split("\n\n")
    assert [b.splitlines()[0] for b in blocks] == [
        "Start",
        "After Step 1 · Insert two orders",
        "After Step 2 · Change alice's order",
        "After Step 3 · Delete bob",
        "After Step 4 · Nothing",
        "Final",
    ]
    assert blocks[1].splitlines()[1:] == [
        "  Stream Record     INSERT o1, INSERT o2",
        "  Lambda Trigger    invoked with INSERT, succeeded",
        "  Processed Output  + alice  order_count: 1, revenue: 30",
        "                    + bob  note: 'vip', order_count: 1, revenue: 15",
    ]
    assert "\\n" not in text  # real lines, not pandas' escaped newlines


def test_the_same_run_renders_the_same_html_and_text():
    assert _tracker()._repr_html_() == _tracker()._repr_html_()
    assert repr(_tracker(named=True)) == repr(_tracker(named=True))


# -- a real run ------------------------------------------------------------------------------------
def test_a_traced_run_marks_a_put_an_update_and_a_delete(lab, table_name):
    source_name, target_name = table_name("orders"), table_name("copy")
    source = lab.create_table(source_name)
    lab.create_table(target_name, stream=None)
    copy = lab.table(target_name)

    def handler(event: dict[str, Any], context: Any) -> None:
        for record in event["Records"]:
            pk = record["dynamodb"]["Keys"]["pk"]["S"]
            if record["eventName"] == "REMOVE":
                copy.delete_item(Key={"pk": pk})
            else:
                image = record["dynamodb"]["NewImage"]
                copy.put_item(Item={k: next(iter(v.values())) for k, v in image.items()})

    trace = labkit.Tracer(lab, lab.trigger(source_name, handler), target=target_name)
    with trace.step("Insert a and b"):
        source.put_item(Item={"pk": "a", "status": "new"})
        source.put_item(Item={"pk": "b", "status": "new"})
    with trace.step("Pay a"):
        source.put_item(Item={"pk": "a", "status": "paid"})
    with trace.step("Delete b"):
        source.delete_item(Key={"pk": "b"})
    tracker = trace.variable_tracker()
    output = tracker.table()["Processed Output"]
    assert output["After Step 1"] == "+ a  status: 'new'\n+ b  status: 'new'"
    assert output["After Step 2"] == "~ a  status: 'new' → 'paid'"
    assert output["After Step 3"] == "- b  status: 'new'"
    assert output["Final"] == "a  status: 'paid'"
    assert tracker._repr_html_().count("<details") == 3
    assert repr(tracker).splitlines()[0] == "Start"


def test_numeric_keys_are_listed_as_numbers():
    """An audit log keyed 2, 7, 17 lists 17 last (a string sort would put it first)."""
    items = [{"n": Decimal(n), "change": c} for n, c in ((17, "c"), (2, "a"), (7, "b"))]
    table = TableState("audit_log", ("n",), tuple(items), ())
    assert [line.key for line in table.state_lines()] == ["2", "7", "17"]
    changes = tuple(Change("put", str(i["n"]), None, i, "audit_log") for i in items)
    table = TableState("audit_log", ("n",), tuple(items), changes)
    assert [line.text() for line in table.change_lines()] == [
        "+ 2  change: 'a'",
        "+ 7  change: 'b'",
        "+ 17  change: 'c'",
    ]

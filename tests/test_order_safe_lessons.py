"""Lessons that stay right whatever order, and however often, a learner runs their cells.

* A lesson that goes on with the learner's answer after its check (lessons 11 and 12) goes on
  with the reference solution while the check fails, and says so; once the check passes, it says
  to Restart & Run All. Proved on the learner copy of lesson 12, run with its stub as a learner's
  "Run All" runs it: every table after the check must be the lesson's own (the prose describes
  those), then the function is finished in the same kernel and the check run again.
* A demo cell run twice in one kernel still shows its point (fresh keys), or says why nothing
  happened: lesson 03's two consumers, lesson 01's cancelled order, its settling cell and a step.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path
from typing import Any

import nbformat
import pytest
from nbclient import NotebookClient

import labkit as lk
from labkit.teach import _reference
from labkit.teach._notebooks import NOTEBOOKS, lessons
from labkit.teach._workspace import sync

pytestmark = pytest.mark.dynamodb_local
RESTART = "Restart Kernel and Run All Cells"


def _text(cell: Any) -> str:
    """What a cell shows, as text (streams, errors, and each output's text/plain)."""
    parts = []
    for out in cell.get("outputs", []):
        if out["output_type"] == "stream":
            parts.append(out["text"])
        elif out["output_type"] == "error":
            parts.append(f"{out['ename']}: {out['evalue']}")
        else:
            parts.append(out.get("data", {}).get("text/plain", ""))
    return "\n".join(parts)


def _cell(nb: Any, starts: str) -> tuple[int, Any]:
    found = [(i, c) for i, c in enumerate(nb.cells) if c.source.startswith(starts)]
    assert len(found) == 1, f"{len(found)} cells start with {starts!r}"
    return found[0]


def _client(nb: Any, cwd: Path) -> NotebookClient:
    return NotebookClient(
        nb, timeout=300, kernel_name="python3", resources={"metadata": {"path": str(cwd)}}
    )


def test_lesson_12_with_the_stub_runs_on_the_reference_says_so_then_asks_for_a_restart(tmp_path):
    workspace = tmp_path / "ws"
    sync(workspace)  # as `make lab` makes it: the learner copies, the stub in place
    name = "12-capstone-order-system.ipynb"
    nb = nbformat.read(workspace / name, as_version=4)
    lesson = nbformat.read(NOTEBOOKS / name, as_version=4)
    client = _client(nb, workspace)
    with client.setup_kernel():
        for i, cell in enumerate(nb.cells):
            if cell.cell_type == "code":
                client.execute_cell(cell, i)
        _, check = _cell(nb, "pipeline_check = lk.check(")
        assert "0/5 cases pass" in _text(check), _text(check)  # the stub does nothing
        f, function = _cell(nb, "order_pipeline = lab.function(")
        said = _text(function)
        assert "does not pass the check yet" in said and "reference solution" in said, said
        assert "functions/order_pipeline_reference.py" in said and RESTART in said
        assert (workspace / "functions" / "order_pipeline_reference.py").is_file()
        assert "pass  # your answer" in (workspace / "functions" / "order_pipeline.py").read_text()
        # every table after the check is the lesson's own: the one its prose describes
        for starts in (
            'lab.items("orders_enriched")',
            'lab.items("revenue_by_customer")',
            'known = {c["customer_id"]',
            "trace.variable_tracker()",
            "step3 = trace.steps[2]",
        ):
            _, mine = _cell(nb, starts)
            _, theirs = _cell(lesson, starts)
            assert _text(mine) == _text(theirs), starts
        _, items = _cell(nb, 'lab.items("revenue_by_customer")')
        assert "'revenue': Decimal('35')" in _text(items)  # a full table, not an empty one
        _, deployed = _cell(nb, "from pathlib import Path")
        assert "'Handler': 'order_pipeline_reference.handler'" in _text(deployed)  # what ran

        # the learner finishes the function, runs its cell and the check again
        s, solution = _cell(lesson, "%%writefile functions/order_pipeline.py")
        finished = nbformat.v4.new_code_cell(solution.source)
        client.execute_cell(finished, s)
        c, check = _cell(nb, "pipeline_check = lk.check(")
        client.execute_cell(check, c)
        said = _text(check)
        assert "5/5 cases pass" in said and "ran on the reference solution" in said, said
        assert RESTART in said
        html = check.outputs[-1]["data"]["text/html"]
        assert RESTART in html  # shown in JupyterLab too, not only in the text form
        client.execute_cell(function, f)  # a cell below, run again without a restart
        said = _text(function)
        assert "now uses your answer" in said and RESTART in said, said


def test_a_passing_first_check_says_nothing_about_the_reference(lab, monkeypatch, capsys):
    monkeypatch.setattr(_reference, "_STATE", {})
    reference = _reference.reference("11-deploy-ready-filter")
    namespace: dict[str, Any] = {}
    exec(reference.imports + "\n" + reference.source, namespace)
    mine = namespace["filter_criteria"]
    result = lk.check("11-deploy-ready-filter", mine, lab=lab)
    assert result.passed and result.note == ""
    assert result.yours_or_reference() is mine  # the learner's own object
    assert capsys.readouterr().out == ""


def test_a_failing_filter_goes_on_with_the_reference_filter(lab, monkeypatch, capsys):
    monkeypatch.setattr(_reference, "_STATE", {})
    stub = {"Filters": []}
    result = lk.check("11-deploy-ready-filter", stub, lab=lab)
    assert not result.passed
    used = result.yours_or_reference()
    reference = _reference.reference("11-deploy-ready-filter")
    namespace: dict[str, Any] = {}
    exec(reference.imports + "\n" + reference.source, namespace)
    assert used == namespace["filter_criteria"] and used is not stub
    assert reference.lesson == "11-from-the-lab-to-aws.ipynb"
    said = capsys.readouterr().out
    assert "reference solution's `filter_criteria`" in said and RESTART in said
    # then the learner's answer passes: the check says to restart, and the answer is theirs
    again = lk.check("11-deploy-ready-filter", namespace["filter_criteria"], lab=lab)
    assert again.passed and RESTART in again.note and RESTART in repr(again)
    assert again.yours_or_reference() is namespace["filter_criteria"]


def _answer_uses(source: str, name: str) -> bool:
    """Whether a cell uses the answer ``name`` (a variable, or a "module.handler" string)."""
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return False
    for node in ast.walk(tree):
        if isinstance(node, ast.Name) and node.id == name:
            return True
        if isinstance(node, ast.Constant) and node.value == name and "." in name:
            return True
    return False


def test_after_its_check_a_lesson_uses_the_answer_only_through_yours_or_reference():
    """The learner's own answer, unchecked, never reaches the rest of a lesson: a cell after the
    check that uses it must take it from ``yours_or_reference()``."""
    call = re.compile(r"""lk\.check\(\s*["']([^"']+)["']\s*,\s*["']?([\w.]+)""")
    for path in lessons():
        code = [c for c in nbformat.read(path, as_version=4).cells if c.cell_type == "code"]
        for i, cell in enumerate(code):
            for exercise_id, name in call.findall(cell.source):
                for later in code[i + 1 :]:
                    if _answer_uses(later.source, name) and "lk.check(" not in later.source:
                        pytest.fail(
                            f"{path.name}: a cell after lk.check({exercise_id!r}, ...) uses "
                            f"{name} itself; take it from the check's yours_or_reference():\n"
                            f"{later.source}"
                        )


def test_demo_cells_run_twice_still_show_their_point(tmp_path):
    """Lesson 03's two consumers and lesson 01's cancelled order use new keys when run again;
    lesson 01's settling cell and a step run again say why nothing was delivered."""
    (tmp_path / "functions").mkdir()  # the kernel's folder: the project's files stay as they are
    name = "03-reading-the-stream.ipynb"
    nb = nbformat.read(NOTEBOOKS / name, as_version=4)
    c, consumers = _cell(nb, "good, poison = two_new_orders()")
    client = _client(nb, tmp_path)
    with client.setup_kernel():
        for i, cell in enumerate(nb.cells[: c + 1]):
            if cell.cell_type == "code":
                client.execute_cell(cell, i)
        first = _text(consumers)
        client.execute_cell(consumers, c)
        second = _text(consumers)
    assert "order-6, order-6, order-7" in first  # at-least-once handled order-6 twice
    assert "order-6-2, order-6-2, order-7-2" in second, second
    assert second.count("crashed: the process died") == 2
    assert "read 0 record(s)" in second  # the at-most-once restart lost order-7-2

    name = "01-stream-processing-flow.ipynb"
    nb = nbformat.read(NOTEBOOKS / name, as_version=4)
    m, moment = _cell(nb, 'order = lab.new_key("orders", "order-3")')
    s, settle = _cell(nb, 'orders.put_item(Item={"pk": "order-2"')
    t, step = _cell(nb, 'with trace.step("Insert order-1 (status new)")')
    client = _client(nb, tmp_path)
    with client.setup_kernel():
        for i, cell in enumerate(nb.cells[: m + 1]):
            if cell.cell_type == "code":
                client.execute_cell(cell, i)
                if i == t:  # step 1 run again at once: order-1 already has those values
                    client.execute_cell(step, t)
                    stepped = _text(step)
        client.execute_cell(moment, m)
        again = _text(moment)
        client.execute_cell(settle, s)
        settled = _text(settle)
    assert "Insert order-3-2 (status cancelled)" in again and "Yes: INSERT" in again, again
    assert "filtered out (cancelled)" in again
    assert settled.startswith("'Nothing delivered: this cell ran before"), settled
    assert "ran before in this kernel" in stepped and RESTART in stepped, stepped


def test_new_key_is_one_no_item_has(lab, table_name):
    name = table_name("orders")
    table = lab.create_table(name)
    assert lab.new_key(name, "order-1") == "order-1"
    table.put_item(Item={"pk": "order-1"})
    assert lab.new_key(name, "order-1") == "order-1-2"
    table.put_item(Item={"pk": "order-1-2"})
    assert lab.new_key(name, "order-1") == "order-1-3"
    both = table_name("both")
    lab.create_table(both, key="pk", sort_key="sk")
    with pytest.raises(lk.LabError, match="sort key"):
        lab.new_key(both, "order-1")


def test_a_trigger_made_again_that_delivers_nothing_says_why(lab, table_name, capsys):
    name = table_name("orders")
    orders = lab.create_table(name)
    seen: list[str] = []

    def handler(event, context):
        seen.extend(r["eventName"] for r in event["Records"])

    orders.put_item(Item={"pk": "order-1"})
    assert len(lab.trigger(name, handler).run_until_idle()) == 1
    capsys.readouterr()
    again = lab.trigger(name, handler)  # the cell run again
    assert again.run_until_idle() == []
    said = capsys.readouterr().out
    assert "nothing delivered: this trigger replaced an earlier one" in said and RESTART in said
    assert again.run_until_idle() == [] and capsys.readouterr().out == ""  # said once
    orders.put_item(Item={"pk": "order-2"})
    assert len(again.run_until_idle()) == 1 and seen == ["INSERT", "INSERT"]


@pytest.mark.parametrize(
    ("name", "starts", "says"),
    [
        (
            "06-aggregation.ipynb",
            "window_trigger.clock = lambda",
            "Nothing delivered: the window had its final call",
        ),
        (
            "09-exactly-once-effects.ipynb",
            'orders.put_item(Item={"pk": "order-5"',
            "Nothing delivered: this cell ran before",
        ),
    ],
)
def test_cells_whose_writes_change_nothing_when_run_again_say_why(tmp_path, name, starts, says):
    """Lesson 06's final window call and lesson 09's order-5/order-6 cell, run a second time,
    deliver nothing (the window is closed; the same values make no stream record) and say so."""
    (tmp_path / "functions").mkdir()
    nb = nbformat.read(NOTEBOOKS / name, as_version=4)
    c, cell = _cell(nb, starts)
    client = _client(nb, tmp_path)
    with client.setup_kernel():
        for i, each in enumerate(nb.cells[: c + 1]):
            if each.cell_type == "code":
                client.execute_cell(each, i)
        first = _text(cell)
        client.execute_cell(cell, c)
        second = _text(cell)
    assert "Nothing delivered" not in first, first
    assert "Invocation" in first or "counted" in first, first  # the first run delivered
    assert says in second, second

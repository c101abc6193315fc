"""Every learner notebook, run as a learner runs it: JupyterLab in Chromium, Run → Run All Cells.

For each notebook in ``notebooks/learner/`` (what ``make lab`` opens) the test opens it, runs all
cells through the menu, and checks what a learner would see:

* kernelspec metadata, no blocking dialog, and no error output (tracebacks, stderr, a widget
  that failed to display);
* each Mermaid fence rendered as a diagram (an SVG), not shown as its source;
* each ``execution_table()`` rendered as an HTML table with rows;
* each quiz question: a wrong option shows that option's feedback, the right one shows success;
* each live monitor updated in the page while its trigger ran, then showed it stopped.

It saves a screenshot per lesson; for lesson 01 also the execution table, a quiz and the live
monitor, which ``make screenshots`` copies into ``docs/screenshots/`` for the README.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import time
from pathlib import Path
from typing import Any

import nbformat
import pytest
from _browser import NOTEBOOKS, README_SCREENSHOTS, ROOT, SCREENSHOTS, Jupyter

pytest.importorskip(
    "playwright", reason="Playwright is not installed: `make test-browser` installs it"
)
from playwright.sync_api import BrowserContext, Locator, Page, expect

RUN_TIMEOUT_S = float(os.environ.get("LABKIT_BROWSER_TIMEOUT", "300"))  # per notebook
# The pictures the README shows (lesson 01's); `make screenshots` copies them to docs/screenshots/.
README_PICTURES = ("-execution-table.png", "-quiz.png", "-live-monitor.png")
_QUIZ_PATH = re.compile(r"""lk\.quiz\(\s*["']([^"']+)["']""")
_MERMAID = re.compile(r"^```mermaid\s*$", re.MULTILINE)

# Records every state the live monitor's counter shows in the page, before the cells run.
_WATCH_MONITOR = """
() => {
  window.__labkitMonitor = [];
  const seen = () => {
    for (const el of document.querySelectorAll('.labkit-monitor-counter')) {
      const state = `${el.dataset.state}:${el.dataset.records}`;
      const log = window.__labkitMonitor;
      if (log[log.length - 1] !== state) log.push(state);
    }
  };
  new MutationObserver(seen).observe(document.body,
    {subtree: true, childList: true, characterData: true, attributes: true});
}
"""

# The prompts of the open notebook's code cells, and whether any output is an error.
_PROGRESS = """
() => {
  const panel = document.querySelector('.jp-NotebookPanel:not(.lm-mod-hidden)');
  if (!panel) return null;
  const prompts = [...panel.querySelectorAll('.jp-CodeCell .jp-InputArea .jp-InputPrompt')]
    .map(p => p.textContent.trim());
  const errors = panel.querySelectorAll(
    '.jp-OutputArea-output[data-mime-type="application/vnd.jupyter.stderr"]').length;
  return {prompts, errors};
}
"""


def _learner_notebooks() -> list[str]:
    return sorted(p.name for p in NOTEBOOKS.glob("*.ipynb"))


def test_there_are_learner_notebooks_to_run():
    assert _learner_notebooks(), f"no notebooks in {NOTEBOOKS}: run `make notebooks` first"


def _save(locator: Locator | Page, name: str) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / name
    locator.screenshot(path=str(path))
    readme = name.startswith("01-") and name.endswith(README_PICTURES)
    if readme and os.environ.get("LABKIT_README_SCREENSHOTS") == "1":
        README_SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        shutil.copy2(path, README_SCREENSHOTS / name.removeprefix("01-"))


def _open(page: Page, jupyter: Jupyter, name: str, cells: int) -> None:
    workspace = re.sub(r"[^a-z0-9]+", "-", name.lower())  # a fresh layout per notebook
    page.goto(f"{jupyter.url}/lab/workspaces/{workspace}/tree/{name}?token={jupyter.token}")
    panel = page.locator(".jp-NotebookPanel:not(.lm-mod-hidden)")
    expect(panel).to_be_visible(timeout=90_000)
    expect(panel.locator(".jp-Notebook .jp-Notebook-cell")).to_have_count(cells, timeout=60_000)
    # a kernel ready and idle; a notebook without kernelspec would open "Select Kernel" instead
    expect(panel.locator(".jp-Notebook-ExecutionIndicator[data-status='idle']")).to_be_attached(
        timeout=90_000
    )
    dialogs = page.locator(".jp-Dialog")
    assert dialogs.count() == 0, f"{name} opened a dialog: {dialogs.first.inner_text()!r}"
    page.locator(".jp-Notebook").first.click(position={"x": 5, "y": 5})  # focus the notebook
    page.keyboard.press("Control+b")  # hide the file browser: wider outputs and screenshots


def _run_all(page: Page, name: str) -> None:
    """Run → Run All Cells (JupyterLab has no default shortcut for it), and see it start."""
    for _ in range(2):  # a click that lands while the page is still settling is tried again
        page.locator(".lm-MenuBar-itemLabel", has_text=re.compile(r"^Run$")).click()
        page.locator(".lm-Menu-itemLabel", has_text=re.compile(r"^Run All Cells$")).click()
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            prompts = (page.evaluate(_PROGRESS) or {}).get("prompts", [])
            if any(p not in ("[ ]:", "") for p in prompts):
                return
            time.sleep(0.3)
        page.keyboard.press("Escape")
    pytest.fail(f"{name}: Run → Run All Cells did not start any cell", pytrace=False)


def _wait_finished(page: Page, name: str, code_cells: int) -> dict[str, Any]:
    """Until every code cell ran (or one failed, which stops Run All), and the kernel is idle."""
    deadline = time.monotonic() + RUN_TIMEOUT_S
    idle = page.locator(
        ".jp-NotebookPanel:not(.lm-mod-hidden) .jp-Notebook-ExecutionIndicator[data-status='idle']"
    )
    state: dict[str, Any] = {}
    while time.monotonic() < deadline:
        state = page.evaluate(_PROGRESS) or {}
        prompts = state.get("prompts", [])
        busy = any("*" in p for p in prompts)
        ran = len(prompts) == code_cells and all(re.fullmatch(r"\[\d+\]:", p) for p in prompts)
        if not busy and (ran or state.get("errors")) and idle.count():
            time.sleep(0.5)  # let the last outputs and widget messages arrive
            return page.evaluate(_PROGRESS)
        time.sleep(0.5)
    pytest.fail(f"{name}: Run All did not finish in {RUN_TIMEOUT_S:.0f} s (prompts {state})")


def _no_errors(panel: Locator, name: str) -> None:
    errors = panel.locator(
        ".jp-OutputArea-output[data-mime-type='application/vnd.jupyter.stderr']"
    ).all_inner_texts()
    assert not errors, f"{name} showed error output:\n" + "\n---\n".join(e[-2000:] for e in errors)
    for text in ("Error displaying widget", "Failed to display Jupyter Widget"):
        assert panel.get_by_text(text).count() == 0, f"{name}: a widget did not display ({text})"


def _check_mermaid(panel: Locator, name: str, expected: int) -> None:
    """JupyterLab 4 renders a Mermaid fence as an SVG image inside ``.jp-RenderedMermaid``;
    a diagram it cannot parse gets ``jp-mod-warning`` and shows the source instead."""
    diagrams = panel.locator(".jp-RenderedMermaid img[src^='data:image/svg+xml']")
    expect(diagrams).to_have_count(expected, timeout=30_000)
    for i in range(expected):
        diagram = diagrams.nth(i)
        diagram.scroll_into_view_if_needed()
        expect(diagram).to_be_visible()
        drawn = diagram.evaluate("img => img.complete && img.naturalWidth")
        box = diagram.bounding_box()
        assert drawn and box and box["width"] > 50 and box["height"] > 50, (
            f"{name}: diagram {i + 1} did not draw (naturalWidth {drawn}, box {box})"
        )
    broken = panel.locator(".jp-RenderedMermaid.jp-mod-warning").count()
    assert broken == 0, f"{name}: {broken} Mermaid diagram(s) failed to render"
    # (JupyterLab keeps each source in a collapsed <details> for screen readers: not shown)
    sources = panel.locator(".jp-RenderedMarkdown pre >> visible=true").all_inner_texts()
    assert not [s for s in sources if "flowchart" in s or "sequenceDiagram" in s], (
        f"{name}: a Mermaid diagram is shown as its source"
    )


def _check_table(output: Locator, name: str) -> None:
    table = output.locator("table").first
    expect(table).to_be_visible()
    assert table.locator("thead th").count() >= 2, f"{name}: the execution table has no header"
    assert table.locator("tbody tr").count() >= 1, f"{name}: the execution table has no rows"


def _check_quiz(output: Locator, quiz: dict[str, Any], name: str) -> None:
    questions = output.locator(".widget-radio-box")
    expect(questions).to_have_count(len(quiz["questions"]))
    checks = output.locator("button", has_text=re.compile(r"^Check$"))
    for q, question in enumerate(quiz["questions"]):
        options = questions.nth(q).locator("label")
        box = questions.nth(q).locator("xpath=ancestor::div[contains(@class, 'widget-vbox')][1]")
        wrong = next(i for i, o in enumerate(question["options"]) if not o["correct"])
        right = next(i for i, o in enumerate(question["options"]) if o["correct"])
        options.nth(wrong).click()
        checks.nth(q).click()
        expect(box).to_contain_text("Not quite")
        expect(box).to_contain_text(question["options"][wrong]["feedback"])
        if q == 0:
            _save(output, f"{Path(name).stem}-quiz.png")
        options.nth(right).click()
        checks.nth(q).click()
        expect(box).to_contain_text("Correct")
        expect(box).to_contain_text(question["options"][right]["feedback"])
        assert "Not quite" not in box.inner_text(), f"{name}: Q{q + 1} kept the wrong feedback"


def _check_monitor(page: Page, output: Locator, name: str) -> None:
    counter = output.locator(".labkit-monitor-counter")
    expect(counter).to_have_attribute("data-state", "stopped")
    seen: list[str] = page.evaluate("() => window.__labkitMonitor")
    live = [int(s.split(":")[1]) for s in seen if s.startswith("running:")]
    assert live and max(live) > 0, (
        f"{name}: the monitor never showed a record while its trigger ran (states seen: {seen})"
    )
    final = int(seen[-1].split(":")[1])
    assert seen[-1].startswith("stopped:") and final >= max(live), seen
    assert output.locator("table tbody tr").count() >= 1, f"{name}: the monitor shows no records"


@pytest.mark.parametrize("name", _learner_notebooks())
def test_learner_notebook_runs_in_the_browser(
    name: str, jupyter: Jupyter, browser: BrowserContext
) -> None:
    nb = nbformat.read(jupyter.root / name, as_version=4)
    # Without it JupyterLab asks "Select Kernel" in a blocking dialog wherever more than one
    # kernel is installed (here only one is, so the page alone would not show it).
    assert nb.metadata.get("kernelspec", {}).get("name"), f"{name} has no kernelspec metadata"
    code = [c for c in nb.cells if c.cell_type == "code"]
    mermaid = sum(len(_MERMAID.findall(c.source)) for c in nb.cells if c.cell_type == "markdown")
    page = browser.new_page()
    stem = Path(name).stem
    try:
        _open(page, jupyter, name, len(nb.cells))
        page.evaluate(_WATCH_MONITOR)
        _run_all(page, name)
        _wait_finished(page, name, len(code))
        panel = page.locator(".jp-NotebookPanel:not(.lm-mod-hidden)")
        _no_errors(panel, name)
        dom_code = panel.locator(".jp-Notebook .jp-CodeCell")
        assert dom_code.count() == len(code)
        _check_mermaid(panel, name, mermaid)
        seen = {"table": 0, "quiz": 0, "monitor": 0}
        for i, cell in enumerate(code):
            output = dom_code.nth(i).locator(".jp-OutputArea")
            last = cell.source.strip().splitlines()[-1] if cell.source.strip() else ""
            if last.endswith("execution_table()"):
                _check_table(output, name)
                if not seen["table"]:
                    _save(output, f"{stem}-execution-table.png")
                seen["table"] += 1
            if match := _QUIZ_PATH.search(cell.source):
                quiz = json.loads((ROOT / "notebooks" / match.group(1)).read_text())
                _check_quiz(output, quiz, name)
                seen["quiz"] += 1
            if "lk.monitor(" in cell.source:
                _check_monitor(page, output, name)
                _save(output, f"{stem}-live-monitor.png")
                seen["monitor"] += 1
        _no_errors(panel, name)  # answering the quizzes raised nothing either
        if stem.startswith("01-"):  # the lesson the README shows: every kind must be there
            assert all(seen.values()), f"{name}: expected a table, a quiz and a monitor: {seen}"
    finally:
        _save(page, f"{stem}.png")
        page.close()
        jupyter.shutdown_kernels()

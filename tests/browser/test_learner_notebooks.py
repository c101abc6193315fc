"""Every learner notebook, run as a learner runs it: JupyterLab in Chromium, Run → Run All Cells.

For each notebook in ``notebooks/learner/`` (what ``make lab`` copies into the learner's workspace;
the suite serves such a workspace, made in a temporary folder) the test opens it, runs all
cells through the menu, and checks what a learner would see. What to expect is taken from the
lesson itself (``notebooks/NN-*.ipynb``, whose outputs are kept in git and checked by nbval) and
its quiz file, never from what the page happens to show:

* kernelspec metadata, no blocking dialog, and no error output (tracebacks, stderr, a widget
  that failed to display);
* as many Mermaid diagrams (SVGs) as the lesson has Mermaid fences, none shown as its source;
* in each code cell, as many pictures of the run (``lk.timeline`` and the other PNG outputs) as
  the lesson's stored output has, each drawn (its image decoded, and shown at a readable size);
* in each code cell, the HTML tables (execution tables, variable trackers, ...) of the lesson's
  stored output for that cell: as many, with the same header cells, and the same number of rows
  up to the first exercise (after it the learner's unfinished answer may change the data, so
  there a table must still be there with its header). A table inside a ``<details>`` is detail
  shown on request (a check's Expected | Got, folded for a pass, open for a FAIL) and is not
  counted: a check result's verdict is checked instead (coloured, and pass or FAIL as the
  lesson's stored output says up to the first exercise);
* the quiz of ``notebooks/quizzes/NN-*.json``: every question's prompt is shown, a wrong option
  (found by its text: options are shuffled per learner) shows that option's feedback, the right
  one shows success;
* each live monitor updated in the page while its trigger ran, then showed it stopped.

Missing Playwright or Chromium is a failure, not a skip: `make test-browser` installs both.

It saves a screenshot per lesson; for lesson 01 also the execution table, a quiz and the live
monitor, which ``make screenshots`` copies into ``docs/screenshots/`` for the README.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import time
from dataclasses import dataclass
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import nbformat
import pytest
from _browser import NOTEBOOKS, README_SCREENSHOTS, ROOT, SCREENSHOTS, Jupyter, run_all

try:
    from playwright.sync_api import BrowserContext, Locator, Page, expect
except ImportError as missing:  # a failure, not a skip: a suite that skips proves nothing
    raise ImportError(
        f"Playwright is not installed ({missing}). Fix: run `make test-browser`, or "
        "`bash tests/browser/install.sh .venv/bin/python` (it installs Playwright and chromium)."
    ) from missing

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


# For each code cell of the open notebook, the tables of its HTML outputs: header cells and rows.
_TABLES = """
() => {
  const panel = document.querySelector('.jp-NotebookPanel:not(.lm-mod-hidden)');
  return [...panel.querySelectorAll('.jp-Notebook .jp-CodeCell')].map(cell =>
    [...cell.querySelectorAll(
      '.jp-OutputArea-output[data-mime-type="text/html"] table')]
      .filter(t => !t.closest('details')).map(t => ({
        head: [...t.querySelectorAll('thead th')].map(th => th.textContent.trim()),
        rows: t.querySelectorAll('tbody tr').length,
        shown: t.getBoundingClientRect().width > 0 && t.getBoundingClientRect().height > 0,
      })));
}
"""

# For each code cell, the verdicts of its check results (lk.check): their text and colour.
_VERDICTS = """
() => {
  const panel = document.querySelector('.jp-NotebookPanel:not(.lm-mod-hidden)');
  const verdict = /^(✔ (all )?\\d+ cases? pass|✘ \\d+ of \\d+ cases? fail)$/;
  return [...panel.querySelectorAll('.jp-Notebook .jp-CodeCell')].map(cell =>
    [...cell.querySelectorAll('.jp-OutputArea-output[data-mime-type="text/html"] span')]
      .filter(s => verdict.test(s.textContent.trim()))
      .map(s => ({text: s.textContent.trim(), background: getComputedStyle(s).backgroundColor})));
}
"""
_VERDICT = re.compile(r"✔ (?:all )?\d+ cases? pass|✘ \d+ of \d+ cases? fail")


class _Tables(HTMLParser):
    """The tables of an HTML output as the page counts them: thead header cells, tbody rows."""

    def __init__(self) -> None:
        super().__init__()
        self.tables: list[dict[str, Any]] = []
        self._section: str | None = None
        self._in_th = False
        self._details = 0  # inside a <details>: folded detail, not counted
        self._counted = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "details":
            self._details += 1
        elif tag == "table":
            self._counted = not self._details
            if self._counted:
                self.tables.append({"head": [], "rows": 0})
        elif not self._counted:
            return
        elif tag in ("thead", "tbody"):
            self._section = tag
        elif tag == "th" and self._section == "thead":
            self.tables[-1]["head"].append("")
            self._in_th = True
        elif tag == "tr" and self._section == "tbody":
            self.tables[-1]["rows"] += 1

    def handle_endtag(self, tag: str) -> None:
        if tag == "details":
            self._details -= 1
        elif tag == "table":
            self._counted = False
        elif tag in ("thead", "tbody"):
            self._section = None
        elif tag == "th":
            self._in_th = False

    def handle_data(self, data: str) -> None:
        if self._in_th:
            self.tables[-1]["head"][-1] += data

    def close(self) -> None:
        super().close()
        for table in self.tables:
            table["head"] = [h.strip() for h in table["head"]]


@dataclass(frozen=True)
class Expected:
    """What a learner must see in a lesson, from the lesson notebook and its quiz file."""

    code_cells: int
    mermaid: int
    tables: list[list[dict[str, Any]]]  # per code cell, its stored HTML tables
    pictures: list[int]  # per code cell, how many PNG outputs (pictures of the run) it stores
    verdicts: list[list[str]]  # per code cell, the verdicts of its check results
    first_exercise: int | None  # the index (among code cells) of the first solution cell
    quiz: dict[str, Any] | None
    monitors: int

    @classmethod
    def of(cls, name: str) -> Expected:
        lesson_path = ROOT / "notebooks" / name
        assert lesson_path.exists(), f"{name}: no lesson notebooks/{name} to take expectations from"
        lesson = nbformat.read(lesson_path, as_version=4)
        code = [c for c in lesson.cells if c.cell_type == "code"]
        tables, verdicts = [], []
        for cell in code:
            parser = _Tables()
            found: list[str] = []
            for output in cell.get("outputs", []):
                html = output.get("data", {}).get("text/html")
                if html:
                    html = html if isinstance(html, str) else "".join(html)
                    parser.feed(html)
                    found.extend(_VERDICT.findall(html))
            parser.close()
            tables.append(parser.tables)
            verdicts.append(found)
        exercises = [i for i, c in enumerate(code) if "solution" in c.metadata.get("tags", [])]
        quiz_file = ROOT / "notebooks" / "quizzes" / f"{Path(name).stem}.json"
        calls = [m.group(1) for c in code for m in _QUIZ_PATH.finditer(c.source)]
        if quiz_file.exists():
            assert calls == [f"quizzes/{quiz_file.name}"], (
                f"{name}: expected one lk.quiz('quizzes/{quiz_file.name}') call, found {calls}"
            )
        else:
            assert not calls, f"{name} calls lk.quiz{calls} but has no {quiz_file}"
        return cls(
            code_cells=len(code),
            mermaid=sum(
                len(_MERMAID.findall(c.source)) for c in lesson.cells if c.cell_type == "markdown"
            ),
            tables=tables,
            pictures=[
                sum("image/png" in o.get("data", {}) for o in cell.get("outputs", []))
                for cell in code
            ],
            verdicts=verdicts,
            first_exercise=exercises[0] if exercises else None,
            quiz=json.loads(quiz_file.read_text()) if quiz_file.exists() else None,
            monitors=sum("lk.monitor(" in c.source for c in code),
        )


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


def _check_tables(page: Page, expected: Expected, name: str) -> None:
    """Each code cell shows the HTML tables of the lesson's stored output for that cell."""
    shown: list[list[dict[str, Any]]] = page.evaluate(_TABLES)
    assert len(shown) == expected.code_cells, f"{name}: {len(shown)} code cells in the page"
    problems = []
    for i, (want, got) in enumerate(zip(expected.tables, shown, strict=True)):
        where = f"code cell {i + 1}"
        if len(got) != len(want):
            problems.append(f"{where}: {len(got)} table(s) shown, the lesson has {len(want)}")
            continue
        before_exercise = expected.first_exercise is None or i < expected.first_exercise
        for t, (w, g) in enumerate(zip(want, got, strict=True)):
            if not g["shown"]:
                problems.append(f"{where}, table {t + 1}: not visible")
            if g["head"] != w["head"]:
                problems.append(f"{where}, table {t + 1}: header {g['head']}, lesson {w['head']}")
            if before_exercise and g["rows"] != w["rows"]:
                problems.append(f"{where}, table {t + 1}: {g['rows']} rows, lesson {w['rows']}")
    assert not problems, f"{name}: the tables differ from the lesson's:\n" + "\n".join(problems)


def _check_pictures(dom_code: Locator, expected: Expected, name: str) -> None:
    """Each code cell shows the pictures its stored output has, each one drawn: JupyterLab
    renders an ``image/png`` output as an <img>, which must decode and show at a readable size.
    Each picture is saved as a screenshot."""
    stem = Path(name).stem
    shown = 0
    for i, want in enumerate(expected.pictures):
        images = dom_code.nth(i).locator(".jp-OutputArea-output[data-mime-type='image/png'] img")
        expect(images).to_have_count(want, timeout=30_000)
        for k in range(want):
            image = images.nth(k)
            image.scroll_into_view_if_needed()
            expect(image).to_be_visible()
            drawn = image.evaluate("img => img.complete && img.naturalWidth")
            box = image.bounding_box()
            assert drawn and drawn > 300 and box and box["width"] > 300 and box["height"] > 150, (
                f"{name}: code cell {i + 1}, picture {k + 1} did not draw "
                f"(naturalWidth {drawn}, box {box})"
            )
            shown += 1
            _save(image, f"{stem}-picture-{shown}.png")


def _check_verdicts(page: Page, expected: Expected, name: str) -> None:
    """Each check result shows its verdict in colour: the lesson's own verdict up to the first
    exercise, and after it some verdict (a learner's unfinished answer fails)."""
    shown: list[list[dict[str, str]]] = page.evaluate(_VERDICTS)
    problems = []
    for i, (want, got) in enumerate(zip(expected.verdicts, shown, strict=True)):
        before_exercise = expected.first_exercise is None or i < expected.first_exercise
        texts = [g["text"] for g in got]
        if len(texts) != len(want) or (before_exercise and texts != want):
            problems.append(f"code cell {i + 1}: verdicts {texts}, lesson {want}")
        colourless = [g["text"] for g in got if g["background"] in ("", "rgba(0, 0, 0, 0)")]
        if colourless:
            problems.append(f"code cell {i + 1}: verdict without its colour: {colourless}")
    assert not problems, f"{name}: the check results differ:\n" + "\n".join(problems)


def _answer(option: Locator, check: Locator, box: Locator, verdict: str) -> None:
    """Pick an option, press Check, and wait for the verdict. ipywidgets holds a widget's new
    value back while a message is in flight but sends a button click at once, so a click made
    in the same instant can reach the kernel first (then the late value clears the feedback).
    A learner never clicks that fast; Check is pressed again until the kernel has the choice."""
    option.click()
    expect(option.locator("input")).to_be_checked()
    for _ in range(5):
        check.click()
        try:
            expect(box).to_contain_text(verdict, timeout=2_000)
            return
        except AssertionError:
            continue
    expect(box).to_contain_text(verdict)


def _check_quiz(output: Locator, quiz: dict[str, Any], name: str) -> None:
    questions = output.locator(".widget-radio-box")
    expect(questions).to_have_count(len(quiz["questions"]))
    for question in quiz["questions"]:
        expect(output.get_by_text(question["prompt"], exact=False).first).to_be_visible()
    checks = output.locator("button", has_text=re.compile(r"^Check$"))
    for q, question in enumerate(quiz["questions"]):
        options = questions.nth(q).locator("label")
        box = questions.nth(q).locator("xpath=ancestor::div[contains(@class, 'widget-vbox')][1]")
        # Options are shown in the learner's own order: each is found by its text.
        wrong = next(o for o in question["options"] if not o["correct"])
        right = next(o for o in question["options"] if o["correct"])
        by_text = [
            options.filter(has_text=re.compile(f"^{re.escape(o['text'])}$")) for o in (wrong, right)
        ]
        _answer(by_text[0], checks.nth(q), box, "Not yet.")
        expect(box).to_contain_text(wrong["feedback"][-40:])
        if q == 0:
            _save(output, f"{Path(name).stem}-quiz.png")
        _answer(by_text[1], checks.nth(q), box, "Correct.")
        expect(box).to_contain_text(right["feedback"][-40:])
        assert "Not yet" not in box.inner_text(), f"{name}: Q{q + 1} kept the wrong feedback"


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
    expected = Expected.of(name)
    assert len(code) == expected.code_cells, f"{name}: the learner copy is stale (make notebooks)"
    page = browser.new_page()
    stem = Path(name).stem
    try:
        _open(page, jupyter, name, len(nb.cells))
        page.evaluate(_WATCH_MONITOR)
        run_all(page, name)
        _wait_finished(page, name, len(code))
        panel = page.locator(".jp-NotebookPanel:not(.lm-mod-hidden)")
        _no_errors(panel, name)
        dom_code = panel.locator(".jp-Notebook .jp-CodeCell")
        assert dom_code.count() == len(code)
        _check_mermaid(panel, name, expected.mermaid)
        _check_tables(page, expected, name)
        _check_pictures(dom_code, expected, name)
        _check_verdicts(page, expected, name)
        for i, cell in enumerate(code):
            last = cell.source.strip().splitlines()[-1] if cell.source.strip() else ""
            if last.endswith("execution_table()"):
                _save(dom_code.nth(i).locator(".jp-OutputArea"), f"{stem}-execution-table.png")
                break
        quizzes = panel.locator(".jp-CodeCell:has(.widget-radio-box)")
        if expected.quiz is None:
            expect(quizzes).to_have_count(0)
        else:
            expect(quizzes).to_have_count(1)
            _check_quiz(quizzes.locator(".jp-OutputArea"), expected.quiz, name)
        monitors = panel.locator(".jp-CodeCell:has(.labkit-monitor-counter)")
        expect(monitors).to_have_count(expected.monitors)
        for m in range(expected.monitors):
            output = monitors.nth(m).locator(".jp-OutputArea")
            _check_monitor(page, output, name)
            _save(output, f"{stem}-live-monitor.png")
        _no_errors(panel, name)  # answering the quizzes raised nothing either
        if stem.startswith("01-"):  # the lesson the README shows: every kind must be there
            kinds = (sum(map(len, expected.tables)), expected.quiz, expected.monitors)
            assert all(kinds), f"{name}: expected tables, a quiz and a monitor: {kinds}"
    finally:
        _save(page, f"{stem}.png")
        page.close()
        jupyter.shutdown_kernels()

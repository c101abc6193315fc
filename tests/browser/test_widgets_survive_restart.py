"""A quiz and a live monitor survive a server restart: shown again, never "model not found".

A learner runs lesson 01 in JupyterLab (Chromium), answers two quiz questions (one right, one
not yet), saves, and the server stops (a laptop closed, `make lab` stopped). JupyterLab starts
again on the same workspace and the learner reopens the lesson:

* before any cell runs, the quiz and the monitor are drawn again from the widget state saved in
  the notebook (``saveState`` of ``@jupyter-widgets/jupyterlab-manager``, which ``make lab``
  turns on; here the test's own JupyterLab settings turn it on): the quiz with the answers and
  their feedback, the monitor stopped with its records. Without saveState, JupyterLab finds no
  model for those outputs and shows "Error displaying widget: model not found";
* the answers were recorded in the workspace's results file; running the quiz cell again (a
  new kernel) rebuilds the quiz from them: the same answers, their feedback and the score.

* a kernel restart with the lesson open leaves the widgets on the page.

Measured once with saveState off instead (the JupyterLab default): after the restart, the quiz
and the monitor both showed "Error displaying widget: model not found". Screenshots of the quiz
and the monitor go to the suite's screenshot folder.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import nbformat
import pytest
from _browser import (
    NOTEBOOKS,
    SCREENSHOTS,
    Jupyter,
    _configure_lab,
    _private_dirs,
    _stop,
    _wait_until_up,
    run_all,
)
from test_learner_notebooks import _answer, _open, _wait_finished

from labkit.__main__ import _free_loopback_port, jupyter_command, jupyter_environment
from labkit.teach._workspace import sync

try:
    from playwright.sync_api import BrowserContext, Locator, Page, expect
except ImportError as missing:  # a failure, not a skip (see test_learner_notebooks.py)
    raise ImportError(
        f"Playwright is not installed ({missing}). Fix: `make test-browser`."
    ) from None

LESSON = "01-stream-processing-flow.ipynb"
QUIZ = json.loads(
    (NOTEBOOKS.parent / "quizzes" / "01-stream-processing-flow.json").read_text(encoding="utf-8")
)
WIDGETS = "@jupyter-widgets/jupyterlab-manager"
NOT_FOUND = "Error displaying widget"


class Server:
    """JupyterLab on a private workspace, as the browser suite's fixture starts it, but one that
    can be stopped and started again on the same folders."""

    def __init__(self, base: Path) -> None:
        self.dirs = _private_dirs(base)
        sync(self.dirs["notebooks"], source=NOTEBOOKS)  # the learner's workspace
        _configure_lab(self.dirs["config"])
        settings = self.dirs["config"] / "lab" / "user-settings" / WIDGETS
        settings.mkdir(parents=True, exist_ok=True)
        (settings / "plugin.jupyterlab-settings").write_text(json.dumps({"saveState": True}))
        self.proc: subprocess.Popen[bytes] | None = None
        self.lab: Jupyter | None = None

    def start(self) -> Jupyter:
        d = self.dirs
        base = {
            **os.environ,
            "HOME": str(d["home"]),
            "JUPYTER_CONFIG_DIR": str(d["config"]),
            "JUPYTER_DATA_DIR": str(d["data"]),
            "JUPYTER_RUNTIME_DIR": str(d["runtime"]),
            "IPYTHONDIR": str(d["ipython"]),
            "XDG_CACHE_HOME": str(d["home"] / ".cache"),
            "XDG_CONFIG_HOME": str(d["home"] / ".config"),
            "PYTHONUNBUFFERED": "1",
        }
        port = _free_loopback_port(18988)
        token = os.urandom(24).hex()
        command = jupyter_command(port, d["notebooks"], as_root=os.geteuid() == 0)
        command += ["--ServerApp.open_browser=False", "--LabApp.news_url=None"]
        log = d["runtime"] / f"jupyterlab-{port}.log"
        with log.open("wb") as out:
            self.proc = subprocess.Popen(
                command,
                env=jupyter_environment(token, base),
                cwd=d["notebooks"],
                stdout=out,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
            )
        self.lab = Jupyter(f"http://127.0.0.1:{port}", token, d["notebooks"], log)
        _wait_until_up(self.proc, self.lab)
        return self.lab

    def stop(self) -> None:
        """Stop every kernel (each runs a DynamoDB Local), then the server."""
        if self.proc is None:
            return
        try:
            if self.proc.poll() is None and self.lab is not None:
                self.lab.shutdown_kernels()
        except OSError:
            pass
        _stop(self.proc)
        self.proc = None


@pytest.fixture
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    running = Server(tmp_path_factory.mktemp("restart"))
    try:
        yield running
    finally:
        running.stop()


def _shot(locator: Locator | Page, name: str) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    locator.screenshot(path=str(SCREENSHOTS / name))


def _questions(quiz: Locator) -> Locator:
    return quiz.locator(".widget-radio-box")


def _box(quiz: Locator, q: int) -> Locator:
    return (
        _questions(quiz).nth(q).locator("xpath=ancestor::div[contains(@class, 'widget-vbox')][1]")
    )


def _option(quiz: Locator, q: int, text: str) -> Locator:
    return _questions(quiz).nth(q).locator("label", has_text=re.compile(f"^{re.escape(text)}$"))


def _save(page: Page, served: Path) -> None:
    """Ctrl+S, then wait until the file on disk holds the widget state (saveState)."""
    page.locator(".jp-NotebookPanel:not(.lm-mod-hidden) .jp-Notebook").first.click(
        position={"x": 5, "y": 5}
    )
    page.keyboard.press("Control+s")
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        nb = json.loads((served / LESSON).read_text())
        if nb["metadata"].get("widgets") and _quiz_model(nb):
            return
        time.sleep(0.5)
    pytest.fail("the notebook was not saved with its widget state in 30 s")


def _quiz_model(nb: dict) -> str | None:
    """The model id of the quiz cell's widget output in a saved notebook."""
    for cell in nb["cells"]:
        if cell["cell_type"] == "code" and "lk.quiz(" in "".join(cell["source"]):
            for output in cell.get("outputs", []):
                view = output.get("data", {}).get("application/vnd.jupyter.widget-view+json")
                if view:
                    return view["model_id"]
    return None


def test_quiz_and_monitor_survive_a_server_restart(server: Server, browser: BrowserContext) -> None:
    served = server.dirs["notebooks"]
    results = served / ".labkit" / "results.jsonl"
    cells = len(nbformat.read(served / LESSON, as_version=4).cells)
    code = [c for c in nbformat.read(served / LESSON, as_version=4).cells if c.cell_type == "code"]
    q1, q2 = QUIZ["questions"][:2]
    right1 = next(o for o in q1["options"] if o["correct"])
    wrong2 = next(o for o in q2["options"] if not o["correct"])

    # 1. The learner runs the lesson, answers Q1 right and Q2 not yet, and saves.
    jupyter = server.start()
    page = browser.new_page()
    try:
        _open(page, jupyter, LESSON, cells)
        run_all(page, LESSON)
        _wait_finished(page, LESSON, len(code))
        panel = page.locator(".jp-NotebookPanel:not(.lm-mod-hidden)")
        quiz = panel.locator(".jp-CodeCell:has(.widget-radio-box) .jp-OutputArea")
        _answer(
            _option(quiz, 0, right1["text"]),
            quiz.get_by_role("button", name="Check").nth(0),
            _box(quiz, 0),
            "Correct.",
        )
        _answer(
            _option(quiz, 1, wrong2["text"]),
            quiz.get_by_role("button", name="Check").nth(1),
            _box(quiz, 1),
            "Not yet.",
        )
        expect(quiz).to_contain_text("Score: 1 of 3 right; 1 at the first try.")
        _save(page, served)
    finally:
        page.close()
    saved = json.loads((served / LESSON).read_text())
    state = saved["metadata"]["widgets"]["application/vnd.jupyter.widget-state+json"]["state"]
    assert _quiz_model(saved) in state, "the quiz's widget state was not saved in the notebook"
    answers = [json.loads(line) for line in results.read_text().splitlines()]
    assert [(a["kind"], a["item"], a["passed"]) for a in answers if a["kind"] == "quiz"] == [
        ("quiz", f"01-stream-processing-flow#{q1['id']}", True),
        ("quiz", f"01-stream-processing-flow#{q2['id']}", False),
    ]

    # 2. The server stops and starts again; the learner reopens the lesson.
    server.stop()
    jupyter = server.start()
    page = browser.new_page()
    try:
        _open(page, jupyter, LESSON, cells)
        panel = page.locator(".jp-NotebookPanel:not(.lm-mod-hidden)")
        quiz = panel.locator(".jp-CodeCell:has(.widget-radio-box) .jp-OutputArea")
        expect(_questions(quiz)).to_have_count(len(QUIZ["questions"]), timeout=30_000)
        time.sleep(3)  # any late "model not found" would have appeared by now
        assert panel.get_by_text(NOT_FOUND).count() == 0, "a widget was not found after restart"
        expect(_option(quiz, 0, right1["text"]).locator("input")).to_be_checked()
        expect(_box(quiz, 0)).to_contain_text("Correct.")
        expect(_box(quiz, 1)).to_contain_text("Not yet.")
        monitor = panel.locator(".labkit-monitor-counter")
        expect(monitor).to_have_count(1)
        expect(monitor).to_have_attribute("data-state", "stopped")
        assert int(monitor.get_attribute("data-records") or 0) >= 20
        quiz.scroll_into_view_if_needed()
        _shot(quiz, "restart-quiz-from-saved-state.png")
        _shot(
            panel.locator(".jp-CodeCell:has(.labkit-monitor-counter) .jp-OutputArea"),
            "restart-monitor-from-saved-state.png",
        )

        # 3. Running the quiz cell again (a new kernel) rebuilds it from the results file.
        dom_code = panel.locator(".jp-Notebook .jp-CodeCell")
        quiz_cell = next(i for i, c in enumerate(code) if "lk.quiz(" in c.source)
        for i in (0, quiz_cell):  # `import labkit as lk` (and the lab), then the quiz
            dom_code.nth(i).locator(".jp-InputArea-prompt").click()
            page.keyboard.press("Control+Enter")
            expect(dom_code.nth(i).locator(".jp-InputArea-prompt")).to_have_text(
                re.compile(r"\[\d+\]:"), timeout=120_000
            )
        quiz = dom_code.nth(quiz_cell).locator(".jp-OutputArea")
        expect(quiz).to_contain_text("Score: 1 of 3 right; 1 at the first try.", timeout=30_000)
        expect(_option(quiz, 0, right1["text"]).locator("input")).to_be_checked()
        expect(_option(quiz, 1, wrong2["text"]).locator("input")).to_be_checked()
        expect(_box(quiz, 0)).to_contain_text(right1["feedback"][-40:])
        expect(_box(quiz, 1)).to_contain_text("Not yet.")
        assert panel.get_by_text(NOT_FOUND).count() == 0
        _shot(quiz, "restart-quiz-run-again.png")

        # 4. A kernel restart with the lesson open: the widgets stay on the page.
        (session,) = jupyter.api("GET", "/api/sessions")  # type: ignore[misc]
        jupyter.api("POST", f"/api/kernels/{session['kernel']['id']}/restart")
        expect(panel.locator(".jp-Notebook-ExecutionIndicator[data-status='idle']")).to_be_attached(
            timeout=90_000
        )
        time.sleep(3)
        expect(_questions(quiz)).to_have_count(len(QUIZ["questions"]))
        expect(_box(quiz, 1)).to_contain_text("Not yet.")
        assert panel.get_by_text(NOT_FOUND).count() == 0, "a widget was lost at a kernel restart"
    finally:
        _shot(page, "restart-page.png")
        page.close()

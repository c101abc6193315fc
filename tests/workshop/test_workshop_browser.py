"""A class of two on one server, in Chromium: ``make test-workshop``.

Two learners log in through the hub's login page, land on their workspace's contents page, and
run lesson 01 (Run → Run All Cells) at the same time. Then: each learner's results are in their
own workspace under their own name, each kernel ran its own DynamoDB Local (its own port, the
workshop's Java heap, inside that learner's memory cgroup), a learner may not open the
instructor's page, the instructor's page shows both learners with what their results files say,
and Ctrl-C stops every process the workshop started.

The results assertion needs ``lk.check`` to record into the learner's results file
(labkit/teach/_results.py ``record``), which the quiz-widget work wires in.

Missing Playwright or Chromium is a failure, not a skip (``make test-workshop`` installs both).
"""

from __future__ import annotations

import csv
import io
import re
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import psutil
from _browser import run_all
from conftest import Workshop, save

from labkit.teach._results import read
from labkit.workshop._cgroup import MemoryCgroups
from labkit.workshop._progress import progress

try:
    from playwright.sync_api import Browser, Page, expect
except ImportError as missing:
    raise ImportError(
        f"Playwright is not installed ({missing}). Fix: run `make test-workshop`."
    ) from missing

LESSON = "01-stream-processing-flow.ipynb"
RUN_TIMEOUT_S = 300
_PROGRESS = """
() => {
  const panel = document.querySelector('.jp-NotebookPanel:not(.lm-mod-hidden)');
  if (!panel) return null;
  const prompts = [...panel.querySelectorAll('.jp-CodeCell .jp-InputArea .jp-InputPrompt')]
    .map(p => p.textContent.trim());
  const errors = [...panel.querySelectorAll(
    '.jp-OutputArea-output[data-mime-type="application/vnd.jupyter.stderr"]')]
    .map(e => e.textContent.slice(-1500));
  return {prompts, errors};
}
"""


def _login(browser: Browser, workshop: Workshop, name: str, password: str) -> Page:
    context = browser.new_context(viewport={"width": 1280, "height": 900})  # its own cookies
    page = context.new_page()
    page.goto(f"{workshop.settings.url}/hub/login")
    page.fill("#username_input", name)
    page.fill("#password_input", password)
    page.click("#login_submit")
    return page


def _open_lesson(page: Page, workshop: Workshop, learner: str) -> None:
    # The hub sent the learner to their server's default URL: the workspace's contents page.
    page.wait_for_url(re.compile(rf"/user/{learner}/lab/tree/README\.md"), timeout=180_000)
    expect(page.locator(".jp-LabShell")).to_be_visible(timeout=120_000)
    tab = page.locator("#jp-main-dock-panel .lm-TabBar-tab.lm-mod-current")
    expect(tab).to_contain_text("README.md", timeout=60_000)
    lesson = page.locator("#jp-main-dock-panel .jp-RenderedMarkdown a", has_text="01 ·")
    expect(lesson).to_be_visible(timeout=60_000)
    save(page, f"{learner}-contents.png")
    page.goto(f"{workshop.settings.url}/user/{learner}/lab/workspaces/w1/tree/{LESSON}")
    panel = page.locator(".jp-NotebookPanel:not(.lm-mod-hidden)")
    expect(panel).to_be_visible(timeout=120_000)
    expect(panel.locator(".jp-Notebook-ExecutionIndicator[data-status='idle']")).to_be_attached(
        timeout=120_000
    )
    dialogs = page.locator(".jp-Dialog")
    assert dialogs.count() == 0, f"{learner}: a dialog opened: {dialogs.first.inner_text()!r}"


def _finished(page: Page) -> dict[str, Any] | None:
    state = page.evaluate(_PROGRESS) or {}
    prompts = state.get("prompts", [])
    busy = any("*" in p for p in prompts)
    ran = prompts and all(re.fullmatch(r"\[\d+\]:", p) for p in prompts)
    idle = page.locator(
        ".jp-NotebookPanel:not(.lm-mod-hidden) .jp-Notebook-ExecutionIndicator[data-status='idle']"
    ).count()
    return state if not busy and (ran or state.get("errors")) and idle else None


def _java_by_learner(workshop: Workshop) -> dict[str, list[tuple[psutil.Process, list[str]]]]:
    """Every DynamoDB Local (Java) the hub's tree runs, with its command line as seen then, by
    the learner whose server started it."""
    hub_pid = int((workshop.settings.hub_dir / "jupyterhub.pid").read_text())
    found: dict[str, list[tuple[psutil.Process, list[str]]]] = {}
    for proc in psutil.Process(hub_pid).children(recursive=True):
        try:
            # DynamoDB Local only: labkit also runs short-lived `java -version` probes, which may
            # be gone by the time they are looked at.
            args = proc.cmdline()
            if "java" not in proc.name() or "-port" not in args:
                continue
            for parent in proc.parents():
                if any("jupyterhub-singleuser" in part for part in parent.cmdline()):
                    user = parent.environ()["JUPYTERHUB_USER"]
                    found.setdefault(user, []).append((proc, args))
                    break
        except psutil.NoSuchProcess:
            continue  # ended between the listing and the look
    return found


def _port(args: list[str]) -> int:
    return int(args[args.index("-port") + 1])


def test_two_learners_log_in_and_each_runs_lesson_01_on_their_own(
    workshop: Workshop, browser: Browser
) -> None:
    settings = workshop.settings
    learners = settings.learners
    assert learners == ["learner01", "learner02"]
    pages = {name: _login(browser, workshop, name, settings.user_password) for name in learners}
    for name, page in pages.items():
        _open_lesson(page, workshop, name)
    for name, page in pages.items():  # both run at once: one hub, two kernels, two Javas
        run_all(page, name)
    deadline = time.monotonic() + RUN_TIMEOUT_S
    done: dict[str, dict[str, Any]] = {}
    java: dict[str, list[tuple[psutil.Process, list[str]]]] = {}
    while len(done) < len(pages) and time.monotonic() < deadline:
        java = {**java, **_java_by_learner(workshop)}  # seen while the lessons run
        for name, page in pages.items():
            if name not in done and (state := _finished(page)) is not None:
                done[name] = state
        time.sleep(0.5)
    assert set(done) == set(pages), f"Run All did not finish in {RUN_TIMEOUT_S} s: {done}"
    for name, page in pages.items():
        save(page, f"{name}-{Path(LESSON).stem}.png")
        assert not done[name]["errors"], f"{name} saw errors:\n" + "\n".join(done[name]["errors"])

    # Each learner's results: in their own workspace, under their own name (lesson 01's
    # exercise check ran, on the learner's unfinished stub).
    for name in learners:
        attempts = read(settings.results(name))
        assert attempts, f"{name}: no results in {settings.results(name)}"
        assert {a.learner for a in attempts} == {name}
        assert "01-keep-real-orders" in {a.item for a in attempts if a.kind == "check"}
        # the lesson's %%writefile wrote into this learner's workspace, nobody else's
        assert list((settings.workspace(name) / "functions").glob("*.py")), name

    # Each learner's kernel ran its own DynamoDB Local, with the workshop's heap cap, in their
    # memory cgroup.
    java = {**java, **_java_by_learner(workshop)}
    assert set(java) == set(learners), f"DynamoDB Local per learner: {java}"
    ports = {name: {_port(args) for _, args in procs} for name, procs in java.items()}
    assert not (ports["learner01"] & ports["learner02"]), ports
    for procs in java.values():
        for _, args in procs:
            assert f"-Xmx{settings.java_heap}" in args, args
    if settings.cgroups:
        groups = MemoryCgroups(Path(settings.cgroups), settings.cgroup_version)
        for name, procs in java.items():
            alive = [p.pid for p, _ in procs if p.is_running()]
            assert set(alive) <= set(groups.pids(name)), (name, alive, groups.pids(name))
            assert groups.limit(name) == settings.memory_limit
            assert groups.usage(name) > 100 * 2**20  # server, kernel and Java are charged here
            # At the cap, DynamoDB Local and the kernel go before the server (_spawner.py).
            for pid in alive:
                assert Path(f"/proc/{pid}/oom_score_adj").read_text().strip() == "500", pid

    # A learner may not open the instructor's page: the hub refuses at the OAuth step.
    page = pages["learner01"]
    answer = page.goto(f"{settings.url}/services/progress/")
    assert answer is not None and answer.status == 403, answer and answer.status
    for page in pages.values():
        page.context.close()


def test_the_instructor_sees_both_learners_and_ctrl_c_stops_everything(
    workshop: Workshop, browser: Browser
) -> None:
    settings = workshop.settings
    page = _login(browser, workshop, settings.admin, settings.admin_password)
    page.wait_for_url(re.compile(r"/hub/"), timeout=60_000)
    page.goto(f"{settings.url}/services/progress/")
    table = page.locator("table#progress")
    expect(table).to_be_visible(timeout=60_000)
    save(page, "instructor-progress.png")
    rows = {row.learner: row for row in progress(settings)}
    for name in settings.learners:
        cells = table.locator("tbody tr", has=page.locator(f"th:text-is('{name}')")).locator("td")
        lesson01 = cells.first
        passed = rows[name].passed.get("01", 0)
        expect(lesson01).to_have_text(re.compile(rf"^{passed}/\d+$"))
        assert lesson01.get_attribute("class") != "none", f"{name}: lesson 01 shown as untried"
    grades = page.request.get(f"{settings.url}/services/progress/grades.csv")
    assert grades.status == 200
    table_rows = list(csv.reader(io.StringIO(grades.text())))
    assert [r[0] for r in table_rows[1:]] == settings.learners
    page.context.close()

    # `make grades` prints the same CSV.
    printed = subprocess.run(
        [sys.executable, "-m", "labkit.workshop", "grades", "--classroom", settings.classroom],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert list(csv.reader(io.StringIO(printed))) == table_rows

    # Ctrl-C: the hub, the proxy, the services, every learner's server, kernel and DynamoDB
    # Local are gone, and so are the memory cgroups.
    hub_pid = int((settings.hub_dir / "jupyterhub.pid").read_text())
    tree = [workshop.proc.pid, hub_pid, *(p.pid for p in psutil.Process(hub_pid).children(True))]
    assert len(tree) >= 6  # start, hub, proxy, culler, progress, 2 servers (+ kernels, Javas)
    said = workshop.stop()
    assert "the workshop is stopped" in said, said
    left = [
        pid for pid in tree if psutil.pid_exists(pid) and psutil.Process(pid).status() != "zombie"
    ]
    assert left == [], f"still running after Ctrl-C: {left}"
    if settings.cgroups:
        assert not Path(settings.cgroups).exists()
    assert not (settings.hub_dir / "workshop.json").exists()

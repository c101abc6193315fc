"""The learner's private workspace (`make lab`, `make reset`), and JupyterLab's token kept off the
command line.

What must hold: `make lab` copies the learner notebooks once into a git-ignored folder and opens
JupyterLab there; nothing a learner does writes a tracked file, so the generation check (and
`make test`) still passes after any amount of learning; a newer lesson arrives without
overwriting the learner's answers; one lesson resets with one command, keeping a backup.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import stat
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import nbformat
import pytest

from labkit._paths import workspace_dir
from labkit.teach._notebooks import NOTEBOOKS, generate, lessons
from labkit.teach._workspace import LEARNER, fingerprint, reset, sync, upstream

ROOT = Path(__file__).resolve().parents[1]


def _git_status() -> str:
    """Every change git sees in the project (tracked files, and untracked files not ignored)."""
    return subprocess.run(
        ["git", "status", "--porcelain=v1", "--untracked-files=all"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout


def _two_lessons(folder: Path) -> Path:
    """A stand-in for notebooks/learner/: two real learner copies, which a test may change."""
    folder.mkdir(parents=True)
    for path in lessons(LEARNER)[:2]:
        shutil.copy2(path, folder / path.name)
    shutil.copy2(LEARNER / "README.md", folder / "README.md")
    return folder


def _edit(path: Path, cell: int, source: str) -> None:
    nb = nbformat.read(path, as_version=4)
    code = [c for c in nb.cells if c.cell_type == "code"]
    code[cell].source = source
    nbformat.write(nb, path)


def _add_markdown(path: Path, text: str) -> None:
    nb = nbformat.read(path, as_version=4)
    nb.cells.insert(1, nbformat.v4.new_markdown_cell(text))
    nbformat.write(nb, path)


def test_the_default_workspace_is_ignored_by_git():
    where = workspace_dir()
    assert where == ROOT / "workspace" or "LABKIT_WORKSPACE" in os.environ
    probe = subprocess.run(
        ["git", "check-ignore", "-q", "workspace/05-transform-and-enrich.ipynb"], cwd=ROOT
    )
    assert probe.returncode == 0, "workspace/ must be git-ignored (.gitignore)"


def test_first_copy_brings_every_lesson_and_the_code_folder(tmp_path):
    workspace = tmp_path / "workspace"
    report = sync(workspace)
    names = upstream()
    assert [p.name for p in lessons()] == [n for n in names if n.endswith(".ipynb")]
    assert report.copied == names
    for name in names:
        assert (workspace / name).read_bytes() == (LEARNER / name).read_bytes(), name
    assert (workspace / "functions" / "README.md").is_file()  # %%writefile functions/... works
    assert f"copied {len(lessons())} lessons, README.md, functions/README.md" in str(report)
    assert str(workspace) in str(report)
    again = sync(workspace)  # a second `make lab`: nothing to do, nothing said but where
    assert (again.copied, again.updated, again.offered) == ([], [], [])
    assert len(again.lines()) == 1


def test_a_lesson_the_learner_deleted_comes_back(tmp_path):
    workspace = tmp_path / "workspace"
    sync(workspace)
    (workspace / "03-reading-the-stream.ipynb").unlink()
    assert sync(workspace).copied == ["03-reading-the-stream.ipynb"]


def test_running_a_lesson_is_not_changing_it(tmp_path):
    """Outputs, execution counts and kernel metadata are not the learner's answers."""
    path = tmp_path / "lesson.ipynb"
    shutil.copy2(lessons(LEARNER)[1], path)
    before = fingerprint(path)
    nb = nbformat.read(path, as_version=4)
    for n, cell in enumerate(c for c in nb.cells if c.cell_type == "code"):
        cell.execution_count = n + 1
        cell.outputs = [nbformat.v4.new_output("stream", name="stdout", text="ran\n")]
    nb.metadata["language_info"] = {"name": "python", "version": "3.99"}
    nbformat.write(nb, path)
    assert fingerprint(path) == before
    _edit(path, 0, "import labkit as lk  # my note")
    assert fingerprint(path) != before


def test_a_newer_lesson_arrives_without_overwriting_answers(tmp_path):
    source = _two_lessons(tmp_path / "upstream")
    workspace = tmp_path / "workspace"
    first, second = (p.name for p in lessons(source))
    sync(workspace, source)
    # the learner answers in the first lesson and only runs the second
    _edit(workspace / first, -2, "# my answer\nanswer = 42")
    answered = (workspace / first).read_bytes()
    nb = nbformat.read(workspace / second, as_version=4)
    next(c for c in nb.cells if c.cell_type == "code").outputs = [
        nbformat.v4.new_output("stream", name="stdout", text="ran\n")
    ]
    nbformat.write(nb, workspace / second)
    # upstream, both lessons change and a lesson is added
    _add_markdown(source / first, "A new paragraph, upstream.")
    _add_markdown(source / second, "Another new paragraph, upstream.")
    third = lessons(LEARNER)[2].name
    shutil.copy2(LEARNER / third, source / third)

    report = sync(workspace, source)

    assert report.copied == [third]
    assert report.updated == [second]  # untouched by the learner: replaced
    assert (workspace / second).read_bytes() == (source / second).read_bytes()
    assert report.offered == [first]  # answered: left alone, the new version beside it
    assert (workspace / first).read_bytes() == answered
    beside = workspace / first.replace(".ipynb", ".new.ipynb")
    assert beside.read_bytes() == (source / first).read_bytes()
    message = str(report)
    assert beside.name in message and f"make reset LESSON={first[:2]}" in message
    assert "backups/" in message

    # the next `make lab` says it again and writes nothing
    again = sync(workspace, source)
    assert (again.pending, again.offered, again.updated) == ([first], [], [])
    assert (workspace / first).read_bytes() == answered
    # the learner keeps their own: delete the .new file; it is not offered again ...
    beside.unlink()
    assert sync(workspace, source).lines() == again.lines()[:1]
    assert not beside.exists()
    # ... until a still newer version arrives
    _add_markdown(source / first, "And a third paragraph.")
    assert sync(workspace, source).offered == [first]
    assert (workspace / first).read_bytes() == answered
    # a learner working inside the .new file: it is never overwritten either
    _edit(beside, 0, "import labkit as lk  # working here")
    worked = beside.read_bytes()
    _add_markdown(source / first, "A fourth.")
    blocked = sync(workspace, source)
    assert blocked.blocked == [first] and beside.read_bytes() == worked
    assert (workspace / first).read_bytes() == answered


def test_a_lost_state_file_never_costs_an_answer(tmp_path):
    source = _two_lessons(tmp_path / "upstream")
    workspace = tmp_path / "workspace"
    first = lessons(source)[0].name
    sync(workspace, source)
    _edit(workspace / first, -2, "# my answer")
    answered = (workspace / first).read_bytes()
    (workspace / ".labkit" / "state.json").write_text("{not json")
    _add_markdown(source / first, "Upstream changed.")
    report = sync(workspace, source)
    assert report.offered == [first] and (workspace / first).read_bytes() == answered
    assert json.loads((workspace / ".labkit" / "state.json").read_text())["version"] == 1


def test_reset_one_lesson_keeps_a_backup(tmp_path):
    source = _two_lessons(tmp_path / "upstream")
    workspace = tmp_path / "workspace"
    first = lessons(source)[0].name
    sync(workspace, source)
    _edit(workspace / first, -2, "# my answer")
    answered = (workspace / first).read_bytes()
    _add_markdown(source / first, "Upstream changed.")
    sync(workspace, source)  # offers first.new.ipynb

    done = reset(first[:2], workspace, source)

    assert (workspace / first).read_bytes() == (source / first).read_bytes()
    assert done.backup is not None and done.backup.parent == workspace / "backups"
    assert done.backup.read_bytes() == answered
    assert not (workspace / first.replace(".ipynb", ".new.ipynb")).exists()
    assert str(done.backup) in str(done)
    # now an ordinary untouched copy: the next upstream change simply arrives
    _add_markdown(source / first, "Upstream changed again.")
    assert sync(workspace, source).updated == [first]
    # a second reset right away keeps both backups
    _edit(workspace / first, -2, "# answer two")
    assert reset(first, workspace, source).backup != done.backup
    assert len(list((workspace / "backups").iterdir())) == 2


def test_reset_is_one_command_and_names_the_lessons_when_wrong(tmp_path):
    workspace = tmp_path / "ws"
    sync(workspace)
    lesson = workspace / "05-transform-and-enrich.ipynb"
    _edit(lesson, -2, "# mine")
    run = [sys.executable, "-m", "labkit", "reset"]
    ok = subprocess.run(
        [*run, "05", "--workspace", str(workspace)], capture_output=True, text=True, timeout=60
    )
    assert ok.returncode == 0, ok.stderr
    assert "05-transform-and-enrich.ipynb is the newest version again" in ok.stdout
    assert lesson.read_bytes() == (LEARNER / lesson.name).read_bytes()
    assert len(list((workspace / "backups").glob("05-transform-and-enrich.*.ipynb"))) == 1
    bad = subprocess.run(
        [*run, "99", "--workspace", str(workspace)], capture_output=True, text=True, timeout=60
    )
    assert bad.returncode == 1 and "Traceback" not in bad.stderr
    assert "no lesson '99'" in bad.stderr and "make reset LESSON=05" in bad.stderr
    # `make reset` without LESSON= runs `python -m labkit reset ""`
    empty = subprocess.run(
        [*run, "", "--workspace", str(workspace)], capture_output=True, text=True, timeout=60
    )
    assert empty.returncode == 1 and "make reset LESSON=05" in empty.stderr


@pytest.mark.dynamodb_local
def test_a_learning_session_changes_no_tracked_file(tmp_path, monkeypatch):
    """A learner runs lessons in the workspace, answers an exercise, writes a function module and
    saves: git sees no change in the project, and the generation check still passes."""
    from nbclient import NotebookClient

    before = _git_status()
    workspace = tmp_path / "workspace"
    sync(workspace)
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]))
    solution = next(  # the learner's answer: the lesson's own solution cell
        c
        for c in nbformat.read(NOTEBOOKS / "01-stream-processing-flow.ipynb", as_version=4).cells
        if "solution" in c.metadata.get("tags", [])
    )
    for name in ("00-setup-check.ipynb", "01-stream-processing-flow.ipynb"):
        path = workspace / name
        nb = nbformat.read(path, as_version=4)
        for cell in nb.cells:
            if "exercise" in cell.metadata.get("tags", []):
                cell.source = solution.source
        nb.cells.append(
            nbformat.v4.new_code_cell(
                "%%writefile functions/my_scratch.py\ndef handler(event, context):\n    return None"
            )
        )
        NotebookClient(nb, timeout=120, resources={"metadata": {"path": str(workspace)}}).execute()
        nbformat.write(nb, path)  # as JupyterLab saves it
    ran = nbformat.read(workspace / "01-stream-processing-flow.ipynb", as_version=4)
    assert any(c.outputs for c in ran.cells if c.cell_type == "code")
    assert (workspace / "functions" / "my_scratch.py").is_file()

    assert _git_status() == before, "learning wrote into the project"
    assert generate(check=True) == [], "the generation check fails after learning"
    # and a later `make lab` keeps the answers (upstream did not change: nothing is written)
    saved = (workspace / "01-stream-processing-flow.ipynb").read_bytes()
    report = sync(workspace)
    assert (report.copied, report.updated, report.offered) == ([], [], [])
    assert (workspace / "01-stream-processing-flow.ipynb").read_bytes() == saved


def _private_jupyter_env(base: Path) -> dict[str, str]:
    dirs = {n: base / n for n in ("home", "config", "data", "runtime", "ipython")}
    for folder in dirs.values():
        folder.mkdir(parents=True)
    (dirs["config"] / "jupyter_server_config.json").write_text(
        json.dumps({"ServerApp": {"open_browser": False}, "LabApp": {"news_url": None}})
    )
    env = {k: v for k, v in os.environ.items() if k != "JUPYTER_TOKEN"}
    return {
        **env,
        "HOME": str(dirs["home"]),
        "JUPYTER_CONFIG_DIR": str(dirs["config"]),
        "JUPYTER_DATA_DIR": str(dirs["data"]),
        "JUPYTER_RUNTIME_DIR": str(dirs["runtime"]),
        "IPYTHONDIR": str(dirs["ipython"]),
        "PYTHONUNBUFFERED": "1",
    }


def _status(url: str, token: str | None) -> int:
    headers = {"Authorization": f"token {token}"} if token else {}
    request = urllib.request.Request(url, headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=5) as response:
            return response.status
    except urllib.error.HTTPError as refused:
        return refused.code
    except (urllib.error.URLError, ConnectionError, TimeoutError):
        return 0  # not listening yet


def test_the_jupyterlab_token_is_not_on_the_command_line(tmp_path):
    """`python -m labkit lab` for real, on loopback: the token works, is required, and is in no
    process's command line (which every local user can read), only in the server's environment
    (readable by its owner only)."""
    from labkit.__main__ import _free_loopback_port

    workspace = tmp_path / "ws"
    port = _free_loopback_port(18988)
    log = tmp_path / "lab.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "labkit", "lab", "--port", str(port)],
            env={**_private_jupyter_env(tmp_path / "jupyter"), "LABKIT_WORKSPACE": str(workspace)},
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
    try:
        base = f"http://127.0.0.1:{port}"
        token = None
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline and proc.poll() is None:
            for line in log.read_text().splitlines():
                if line.startswith(f"labkit: JupyterLab on {base}/lab/tree/README.md?token="):
                    token = line.rsplit("=", 1)[1]
            if token and _status(f"{base}/api/status", token) == 200:
                break
            time.sleep(0.3)
        else:
            pytest.fail(f"JupyterLab did not come up:\n{log.read_text()[-3000:]}")
        assert token and len(token) >= 32
        # the server serves the workspace, which sync filled
        assert _status(f"{base}/api/contents/00-setup-check.ipynb", token) == 200
        assert (workspace / "00-setup-check.ipynb").is_file()
        assert _status(f"{base}/api/status", None) == 403  # a token is still required
        assert _status(f"{base}/api/status", "not-the-token") == 403
        proc_dir = Path(f"/proc/{proc.pid}")  # `python -m labkit lab` exec'd into JupyterLab
        cmdline = (proc_dir / "cmdline").read_bytes()
        assert b"lab" in cmdline and f"--ServerApp.port={port}".encode() in cmdline
        assert token.encode() not in cmdline, "the token is on the command line"
        assert stat.S_IMODE((proc_dir / "environ").stat().st_mode) & 0o077 == 0
        assert f"JUPYTER_TOKEN={token}".encode() in (proc_dir / "environ").read_bytes()
        assert token not in log.read_text().replace(f"?token={token}", "")  # printed once
    finally:
        if proc.poll() is None:
            os.kill(proc.pid, signal.SIGTERM)
            try:
                proc.wait(20)
            except subprocess.TimeoutExpired:
                os.kill(proc.pid, signal.SIGKILL)
                proc.wait(10)
    assert proc.returncode is not None

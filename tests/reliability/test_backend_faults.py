"""DynamoDB Local dies or freezes under the lab; its guard or its parent dies under it (issue 13).

* A DynamoDB Local killed with SIGKILL, or frozen with SIGSTOP (in the middle of calls), is
  reported within 15 s by every client that talks to it, the lab's and the learner's default
  boto3 clients alike, as ``lk.BackendStoppedError`` saying that it stopped, that its in-memory
  tables are gone and what to do; ``repr(lab)`` says "stopped"; a background trigger's poller
  ends with the error recorded; ``lk.start()`` then starts a fresh DynamoDB Local.
* DynamoDB Local ends within 5 s of its guard's death (SIGKILL), and of its parent's while a
  process the parent forked still holds the guard's pipe open.
* A killed server leaves no file in the temp folder: no copy of sqlite4java's native library,
  no ``hsperfdata`` file, no log.
* A server whose process runs but which answers nothing is declared hung; one that answers
  other requests is not declared stopped because one call was slow.

Every process is real and every signal is sent for real. The only timings asserted are the
issue's bounds (15 s to report, 5 s to exit). Whatever a failed check leaves behind is ended by
pid afterwards.
"""

from __future__ import annotations

import contextlib
import getpass
import json
import os
import signal
import socket
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest

import labkit
from labkit import _lab
from labkit.backend._server import _answers

pytestmark = pytest.mark.dynamodb_local

ROOT = Path(__file__).resolve().parents[2]
REPORTED_WITHIN_S = 15.0
GONE_WITHIN_S = 5.0
START_WITHIN_S = 90.0


# -- processes, seen through /proc ----------------------------------------------------------
def state(pid: int) -> str | None:
    """The process (or thread) state letter (R, S, T, Z, ...), or None if there is none."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return stat.rsplit(")", 1)[1].split()[0]


def exited(pid: int) -> bool:
    """Gone, or a zombie with no thread left (an orphan is reaped by the machine's init in its
    own time). A process whose main thread is a zombie may still have threads ending, and its
    sockets open: Java's listener outlives its main thread by a few milliseconds."""
    try:
        tasks = list(Path(f"/proc/{pid}/task").iterdir())
    except OSError:
        return True
    return all(state(int(task.name)) in (None, "Z") for task in tasks)


def wait_until(condition: Callable[[], bool], timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.02)
    return True


def end(*pids: int | None) -> None:
    """Clean-up after a failed check: each pid is one this test started (directly or not)."""
    for pid in pids:
        if pid is not None and not exited(pid):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
                os.kill(pid, signal.SIGCONT)


def hsperfdata(pid: int) -> Path:
    """Where HotSpot keeps a JVM's performance counters (always under /tmp on Linux)."""
    return Path("/tmp") / f"hsperfdata_{getpass.getuser()}" / str(pid)


def files_in_temp(pid: int) -> set[str]:
    """The files under /tmp that process ``pid`` has mapped (a native library) or open."""
    paths = set()
    for line in Path(f"/proc/{pid}/maps").read_text().splitlines():
        fields = line.split(maxsplit=5)
        if len(fields) == 6:
            paths.add(fields[5].removesuffix(" (deleted)"))
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        with contextlib.suppress(OSError):
            paths.add(os.readlink(fd))
    # The project itself (its .cache/ holds DynamoDB Local's jars) may be checked out under /tmp:
    # those files are the installation, not something a run leaves behind.
    project = str(Path(__file__).resolve().parents[2]) + os.sep
    return {p for p in paths if p.startswith("/tmp/") and not p.startswith(project)}


def labkit_threads() -> list[str]:
    return sorted(t.name for t in threading.enumerate() if t.name.startswith("labkit"))


# -- a lab of the test's own, made as a lesson makes it -------------------------------------
@pytest.fixture
def started(monkeypatch: pytest.MonkeyPatch, lab: labkit.Lab) -> Iterator[list[labkit.Lab]]:
    """``lk.start()`` on a DynamoDB Local of the test's own; the list holds every lab the test
    started (the first, and the fresh one ``lk.start()`` gives after a fault). All are closed
    and their processes ended afterwards; the session's lab is put back."""
    monkeypatch.setattr(_lab, "_current", None)
    for var in ("LABKIT_ENDPOINT_URL", "LABKIT_PORT", "LABKIT_USE_AWS"):
        monkeypatch.delenv(var, raising=False)
    labs = [_lab.start()]
    assert labs[0].server is not None
    try:
        yield labs
    finally:
        for each in labs:
            server = each.server
            pids = (server.java_pid, server._guard.pid if server._guard else None)
            each.close()
            end(*pids)


def write_in_a_loop(write: Callable[[int], Any], errors: list[tuple[float, BaseException]]):
    """A thread that writes until a write raises, then records when and what."""

    def loop() -> None:
        n = 0
        try:
            while True:
                write(n)
                n += 1
        except BaseException as error:
            errors.append((time.monotonic(), error))

    thread = threading.Thread(target=loop, daemon=True)
    thread.start()
    return thread


def assert_stopped_error(error: BaseException, *words: str) -> None:
    """The error a learner must see: labkit's, saying what stopped, what is lost, what to do."""
    assert isinstance(error, labkit.BackendStoppedError), f"a bare {type(error).__name__}: {error}"
    for word in ("DynamoDB Local stopped", "in memory", "gone", *words):
        assert word.lower() in error.what.lower(), f"{word!r} is not said in: {error.what}"
    for word in ("lk.start()", "from the top"):
        assert word in error.fix, f"the fix does not say {word!r}: {error.fix}"


def assert_fresh_lab_replaces(dead: labkit.Lab, labs: list[labkit.Lab]) -> None:
    """``lk.start()`` after the fault: a new DynamoDB Local, not the dead lab."""
    fresh = _lab.start()
    labs.append(fresh)
    assert fresh is not dead and dead.closed
    assert fresh.server is not None and fresh.server is not dead.server
    assert fresh.dynamodb.list_tables()["TableNames"] == []  # in memory: the tables are gone
    assert boto3.client("dynamodb").list_tables()["TableNames"] == []  # defaults follow it
    assert repr(fresh).startswith("<Lab running")


# -- a killed DynamoDB Local ----------------------------------------------------------------
def test_a_killed_dynamodb_local_is_reported_and_start_gives_a_fresh_one(started):
    lab = started[0]
    server = lab.server
    orders = lab.create_table("orders")
    orders.put_item(Item={"pk": "a"})
    trigger = lab.trigger("orders", lambda event, context: None).start()
    early_client = boto3.client("dynamodb")  # made before, as at a function's module level
    assert early_client.list_tables()["TableNames"] == ["orders"]
    # What Java keeps in /tmp while it runs: its log (stdout, stderr) only, so no copy of
    # sqlite4java's native library (mapped from DynamoDBLocal_lib/) and no hsperfdata file.
    java_pid, log = server.java_pid, server.log_path
    assert files_in_temp(java_pid) == {str(log)}
    assert not hsperfdata(java_pid).exists()

    os.kill(java_pid, signal.SIGKILL)
    killed_at = time.monotonic()

    with pytest.raises(labkit.LabError) as caught:
        lab.items("orders")
    assert time.monotonic() - killed_at < REPORTED_WITHIN_S
    assert_stopped_error(caught.value, "SIGKILL")
    for call in (
        early_client.list_tables,
        lambda: boto3.resource("dynamodb").Table("orders").get_item(Key={"pk": "a"}),
        lambda: orders.put_item(Item={"pk": "b"}),
        lambda: lab.create_table("orders_again"),
    ):
        with pytest.raises(labkit.LabError) as caught:
            call()
        assert_stopped_error(caught.value, "SIGKILL")
    assert repr(lab).startswith("<Lab stopped (its Java process was killed by SIGKILL)")
    assert wait_until(lambda: not trigger.running, REPORTED_WITHIN_S), "the poller spins on"
    assert trigger.poller_errors[-1].startswith("BackendStoppedError: DynamoDB Local stopped")
    assert f"labkit-trigger-{trigger.table_name}" not in labkit_threads()

    assert_fresh_lab_replaces(lab, started)
    assert exited(java_pid)
    assert not log.exists() and not hsperfdata(java_pid).exists()


# -- a frozen DynamoDB Local ----------------------------------------------------------------
def test_a_frozen_dynamodb_local_is_reported_within_15_s_even_mid_call(started):
    """SIGSTOP while two threads write as fast as they can (the lab's table, and a learner's
    default client), so calls are in flight when it freezes: each gets the error within 15 s
    (botocore's defaults made it 120 s, then a bare ReadTimeoutError)."""
    lab = started[0]
    server = lab.server
    java_pid = server.java_pid
    orders = lab.create_table("orders")
    default = boto3.client("dynamodb")
    errors: list[tuple[float, BaseException]] = []
    writers = [
        write_in_a_loop(lambda n: orders.put_item(Item={"pk": f"lab-{n}"}), errors),
        write_in_a_loop(
            lambda n: default.put_item(TableName="orders", Item={"pk": {"S": f"sdk-{n}"}}),
            errors,
        ),
    ]
    time.sleep(0.3)  # both are writing
    try:
        os.kill(java_pid, signal.SIGSTOP)
        frozen_at = time.monotonic()
        for writer in writers:
            writer.join(REPORTED_WITHIN_S + 1)
        assert len(errors) == 2, f"a writer still waits {REPORTED_WITHIN_S} s after the freeze"
        for at, error in errors:
            assert at - frozen_at < REPORTED_WITHIN_S
            assert_stopped_error(error, "SIGSTOP")
        with pytest.raises(labkit.LabError) as caught:
            lab.items("orders")  # a call after the freeze is told at once (asserted as above)
        assert_stopped_error(caught.value, "SIGSTOP")
        assert repr(lab).startswith("<Lab stopped")
        # labkit ended the frozen server: no Java is left suspended, holding its port
        assert wait_until(lambda: exited(java_pid), GONE_WITHIN_S), "the frozen Java remains"
        assert_fresh_lab_replaces(lab, started)
    finally:
        end(java_pid)


# -- the guard or the parent dies -----------------------------------------------------------
def test_dynamodb_local_ends_within_5_s_when_its_guard_is_killed():
    """Before issue 13, Java outlived a SIGKILLed guard, orphaned and still serving, and
    ``lab.close()`` did not stop it."""
    lab = _lab._launch(None)
    server = lab.server
    assert server is not None and server._guard is not None
    java_pid, guard_pid, log = server.java_pid, server._guard.pid, server.log_path
    try:
        os.kill(guard_pid, signal.SIGKILL)
        assert wait_until(lambda: exited(java_pid), GONE_WITHIN_S), (
            f"Java (pid {java_pid}) outlived its SIGKILLed guard by {GONE_WITHIN_S} s"
        )
        assert not _answers(server.port)
        with pytest.raises(labkit.LabError) as caught:
            lab.dynamodb.list_tables()
        assert_stopped_error(caught.value, "guard", "SIGKILL")
        assert lab.state == "stopped"
        lab.close()
        assert log is not None and not log.exists()
    finally:
        lab.close()
        end(java_pid, guard_pid)


FORKING_PARENT = textwrap.dedent("""
    import os, time
    import labkit
    lab = labkit.start()
    holder = os.fork()  # inherits the write end of the guard's pipe, and keeps it open
    if holder == 0:
        time.sleep(600)
        os._exit(0)
    print(lab.server.java_pid, lab.server._guard.pid, holder, flush=True)
    time.sleep(600)
""")


def test_dynamodb_local_ends_within_5_s_when_its_parent_dies_while_a_fork_holds_its_pipe():
    """The guard learns of its parent's death from the end of its stdin pipe; a process the
    parent forked (a multiprocessing worker, say) keeps that pipe open, so the guard also
    watches its parent's pid."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("LABKIT_")}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    parent = subprocess.Popen(
        [sys.executable, "-c", FORKING_PARENT],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    java_pid = guard_pid = holder_pid = None
    try:
        assert parent.stdout is not None
        line = parent.stdout.readline()  # the child prints once DynamoDB Local answers
        java_pid, guard_pid, holder_pid = map(int, line.split())
        assert not exited(java_pid) and not exited(holder_pid)

        parent.kill()  # SIGKILL: no atexit, no finally; the fork lives on
        parent.wait()

        assert wait_until(lambda: exited(java_pid), GONE_WITHIN_S), (
            f"Java (pid {java_pid}) outlived its SIGKILLed parent by {GONE_WITHIN_S} s"
        )
        assert wait_until(lambda: exited(guard_pid), GONE_WITHIN_S)
        assert not exited(holder_pid), "the fork was to hold the pipe open all along"
    finally:
        if parent.poll() is None:
            parent.kill()
            parent.wait()
        if parent.stdout is not None:
            parent.stdout.close()
        end(java_pid, guard_pid, holder_pid)


# -- nothing left in the temp folder --------------------------------------------------------
HARD_DEATHS = textwrap.dedent("""
    import json, os, signal, time
    import labkit
    seen = {}
    first = labkit.start()
    os.kill(first.server.java_pid, signal.SIGKILL)
    try:
        first.dynamodb.list_tables()
    except labkit.BackendStoppedError as error:
        seen["java killed"] = error.reason
    second = labkit.start()
    os.kill(second.server._guard.pid, signal.SIGKILL)
    deadline = time.monotonic() + 5
    while second.state == "running" and time.monotonic() < deadline:
        time.sleep(0.01)
    try:
        second.dynamodb.list_tables()
    except labkit.BackendStoppedError as error:
        seen["guard killed"] = error.reason
    seen["java"] = [first.server.java_pid, second.server.java_pid]
    second.close()
    print(json.dumps(seen), flush=True)
""")


def test_hard_deaths_leave_no_file_in_the_temp_folder(tmp_path):
    """A child Python whose temp folder (TMPDIR for Python, java.io.tmpdir for Java) is private:
    its DynamoDB Local is killed with SIGKILL, then the fresh one's guard is. Afterwards the
    folder is empty (DynamoDB Local used to copy sqlite4java's native library there, and only a
    normal JVM exit removed the copy) and HotSpot left no hsperfdata file in /tmp."""
    private = tmp_path / "tmp"
    private.mkdir()
    env = {k: v for k, v in os.environ.items() if not k.startswith("LABKIT_")}
    env.update(
        PYTHONPATH=os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")])),
        TMPDIR=str(private),
        JAVA_TOOL_OPTIONS=f"-Djava.io.tmpdir={private}",
    )
    child = subprocess.run(
        [sys.executable, "-c", HARD_DEATHS],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=2 * START_WITHIN_S,
    )
    assert child.returncode == 0, child.stderr[-3000:]
    seen = json.loads(child.stdout.splitlines()[-1])
    assert "SIGKILL" in seen["java killed"] and "guard" in seen["guard killed"]
    for pid in seen["java"]:
        assert wait_until(lambda pid=pid: exited(pid), GONE_WITHIN_S)
        assert not hsperfdata(pid).exists(), f"{hsperfdata(pid)} was left behind"
    assert sorted(p.name for p in private.iterdir()) == [], "files were left in the temp folder"


# -- a server that runs but does not answer -------------------------------------------------
class RunningServer:
    """What ``ServerWatch`` asks of a server, for one whose processes look alive."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.endpoint_url = f"http://127.0.0.1:{port}"
        self.lost_because: str | None = None

    def failure(self) -> str | None:
        return self.lost_because

    def lost(self, why: str) -> None:
        self.lost_because = why


def test_a_running_server_that_answers_nothing_is_declared_hung_and_one_that_answers_is_not(lab):
    """A read timeout from a server whose Java runs: labkit asks it a plain HTTP request. No
    answer (a port that accepts and never reads) means hung: BackendStoppedError, and the
    server is recorded lost. An answer (the session's DynamoDB Local) means only that call was
    slow: a BackendError that keeps the lab, not "stopped"."""
    from botocore.exceptions import ReadTimeoutError

    from labkit.backend._health import ServerWatch

    timeout = ReadTimeoutError(endpoint_url="http://127.0.0.1/")
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as hole:
        hole.bind(("127.0.0.1", 0))
        hole.listen(4)  # the kernel completes the handshake; nobody reads or answers
        hung = RunningServer(hole.getsockname()[1])
        began = time.monotonic()
        error = ServerWatch(hung).translate(timeout, "PutItem")  # type: ignore[arg-type]
    assert time.monotonic() - began < REPORTED_WITHIN_S
    assert isinstance(error, labkit.BackendStoppedError)
    assert_stopped_error(error, "hung")
    assert hung.lost_because is not None and "hung" in hung.lost_because

    if lab.server is None:
        pytest.skip("the session uses LABKIT_ENDPOINT_URL: no DynamoDB Local of ours to ask")
    alive = RunningServer(lab.server.port)
    error = ServerWatch(alive).translate(timeout, "PutItem")  # type: ignore[arg-type]
    assert type(error) is labkit.BackendError
    assert "PutItem" in error.what and "still runs" in error.what
    assert alive.lost_because is None

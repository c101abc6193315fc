"""DynamoDB Local never outlives the Python process that started it.

These tests start their own servers (not the session's), and check with the kernel (/proc) that
the Java process and its guard are gone afterwards. Waiting is bounded polling: a process that is
still there at the deadline fails the test, and is then killed so that nothing is left behind.
"""

from __future__ import annotations

import contextlib
import os
import selectors
import signal
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import pytest

from labkit import _lab
from labkit.backend._server import _answers

pytestmark = pytest.mark.dynamodb_local

ROOT = Path(__file__).resolve().parents[1]
GONE_WITHIN_S = 10.0
START_WITHIN_S = 90.0


def exists(pid: int) -> bool:
    return Path(f"/proc/{pid}").exists()


def alive(pid: int) -> bool:
    """True while ``pid`` is a process that has not exited (a zombie has exited)."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except (FileNotFoundError, ProcessLookupError):
        return False
    state = next(line for line in status.splitlines() if line.startswith("State:"))
    return "Z" not in state.split()[1]


def wait_gone(pid: int, timeout: float = GONE_WITHIN_S, zombie_ok: bool = False) -> bool:
    """Poll until ``pid`` has no /proc entry (or, with ``zombie_ok``, is at least a zombie).

    Java is the guard's child and the guard reaps it, so Java must vanish completely. A guard
    orphaned by a SIGKILLed parent is reaped by whatever init the machine runs, which in some
    containers never reaps: there, having exited is all the guard can do.
    """
    deadline = time.monotonic() + timeout
    while alive(pid) if zombie_ok else exists(pid):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True


def kill_if_alive(pid: int | None) -> None:
    """Clean-up after a failed check: the pid is one this test started (directly or not)."""
    if pid is not None and alive(pid):
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)


def read_line(stream: object, timeout: float) -> str:
    """One line from the child's stdout, or "" if none came within ``timeout`` seconds."""
    with selectors.DefaultSelector() as selector:
        selector.register(stream, selectors.EVENT_READ)  # type: ignore[arg-type]
        if not selector.select(timeout):
            return ""
    return stream.readline().decode().strip()  # type: ignore[attr-defined]


def start_child(code: str) -> subprocess.Popen[bytes]:
    """A Python child running ``code`` with this checkout's labkit and no lab endpoint of the
    test session's, its stdout a pipe (it prints what it started)."""
    env = {k: v for k, v in os.environ.items() if k not in ("LABKIT_ENDPOINT_URL", "LABKIT_PORT")}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    return subprocess.Popen(
        [sys.executable, "-c", code],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
    )


CHILD = textwrap.dedent("""
    import time
    import labkit
    lab = labkit.start()
    print(lab.server.java_pid, lab.server._guard.pid, lab.server.port, lab.server.log_path,
          flush=True)
    time.sleep(600)
""")


def test_dynamodb_local_stops_when_its_python_process_is_sigkilled():
    child = start_child(CHILD)
    java_pid = guard_pid = None
    log_path = None
    try:
        line = read_line(child.stdout, START_WITHIN_S)
        assert line, "the child did not start DynamoDB Local"
        java, guard, port, log = line.split(maxsplit=3)
        java_pid, guard_pid, log_path = int(java), int(guard), Path(log)
        assert alive(java_pid) and alive(guard_pid)
        assert _answers(int(port))

        child.send_signal(signal.SIGKILL)  # no atexit, no finally: only the guard can help
        child.wait()

        assert wait_gone(java_pid), f"Java (pid {java_pid}) outlived its SIGKILLed parent"
        assert wait_gone(guard_pid, zombie_ok=True), (
            f"the guard (pid {guard_pid}) outlived its parent"
        )
        assert not _answers(int(port))
        deadline = time.monotonic() + GONE_WITHIN_S  # the guard removes the log it wrote
        while log_path.exists() and time.monotonic() < deadline:
            time.sleep(0.05)
        assert not log_path.exists(), f"{log_path} outlived the SIGKILLed parent"
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()
        assert child.stdout is not None
        child.stdout.close()
        kill_if_alive(java_pid)
        kill_if_alive(guard_pid)
        if log_path is not None:  # only if the check above failed
            log_path.unlink(missing_ok=True)


def test_close_stops_java_and_the_guard_and_leaves_no_thread():
    threads_before = set(threading.enumerate())
    lab = _lab._launch(None)  # a second server, beside the session's
    server = lab.server
    assert server is not None and server.java_pid is not None and server._guard is not None
    java_pid, guard_pid = server.java_pid, server._guard.pid
    log_path = server.log_path
    try:
        assert alive(java_pid) and alive(guard_pid) and server.running
        assert _answers(server.port)
        assert lab.dynamodb.list_tables()["TableNames"] == []  # in memory: a fresh server

        lab.close()

        assert lab.closed and not server.running
        assert wait_gone(java_pid), f"Java (pid {java_pid}) still runs after close()"
        assert wait_gone(guard_pid), f"the guard (pid {guard_pid}) still runs after close()"
        assert not _answers(server.port)
        assert log_path is not None and not log_path.exists()
        assert set(threading.enumerate()) == threads_before
        lab.close()  # a second close is harmless
        assert lab.closed
    finally:
        lab.close()
        kill_if_alive(java_pid)
        kill_if_alive(guard_pid)

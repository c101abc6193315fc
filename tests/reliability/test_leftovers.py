"""Nothing is left behind: no DynamoDB Local, no guard, no thread, no log file.

* A Jupyter kernel that is SIGKILLed (the learner's "Restart kernel" when the kernel hangs, or
  the OOM killer) takes its DynamoDB Local and guard with it within 5 s; so does a normal
  kernel shutdown. The kernels are real ones, started with ``jupyter_client`` from this
  virtual environment's ``python3`` kernel spec.
* ``lab.close()`` leaves no ``labkit-*`` thread: neither a trigger's background poller
  (``trigger.start()``) nor the lane pool of ``parallelization_factor``.
* No DynamoDB Local process for the port of a closed lab remains. Processes are found by their
  command line in /proc (DynamoDBLocal.jar and ``-port <port>``), never by counting every Java
  on the machine: other test sessions may run their own at the same time.
* A start that fails (Java exits at once) leaves neither a process nor its log file, and the
  guard ends cleanly.

Waiting is bounded polling. Whatever a failed check leaves behind is killed by pid afterwards.
"""

from __future__ import annotations

import contextlib
import itertools
import os
import queue
import signal
import subprocess
import sys
import textwrap
import threading
import time
import zipfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from labkit import _lab
from labkit.backend._server import _answers

pytestmark = pytest.mark.dynamodb_local

ROOT = Path(__file__).resolve().parents[2]
GONE_WITHIN_S = 5.0
KERNEL_START_S = 60.0
CELL_WITHIN_S = 120.0  # the first lk.start() may have to find Java and start DynamoDB Local

jupyter_client = pytest.importorskip("jupyter_client")


# -- processes, seen through /proc ----------------------------------------------------------
def state(pid: int) -> str | None:
    """The process state letter (R, S, Z, ...), or None if there is no such process."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except (FileNotFoundError, ProcessLookupError):
        return None
    line = next(line for line in status.splitlines() if line.startswith("State:"))
    return line.split()[1]


def vanished(pid: int) -> bool:
    return state(pid) is None


def exited(pid: int) -> bool:
    """Gone, or a zombie: it has exited and only waits for a parent to reap it. A guard whose
    parent was SIGKILLed is reparented to the machine's init, which in some containers never
    reaps, so for the guard having exited is all that can be asked."""
    return state(pid) in (None, "Z")


def wait_until(condition: Callable[[], bool], timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True


def kill_if_alive(*pids: int | None) -> None:
    """Clean-up after a failed check: each pid is one this test started (directly or not)."""
    for pid in pids:
        if pid is not None and not exited(pid):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)


def command_lines() -> Iterator[tuple[int, list[str]]]:
    for entry in Path("/proc").glob("[0-9]*/cmdline"):
        try:
            raw = entry.read_bytes()
        except OSError:
            continue
        if raw:  # a zombie has an empty command line
            yield int(entry.parent.name), raw.decode(errors="replace").split("\0")


def dynamodb_local_on(port: int) -> list[int]:
    """Pids of processes running DynamoDB Local (Java or its guard) for ``port``."""
    return [
        pid
        for pid, args in command_lines()
        if any("DynamoDBLocal" in a for a in args)
        and any(a == "-port" and b == str(port) for a, b in itertools.pairwise(args))
    ]


def processes_mentioning(text: str) -> list[int]:
    return [pid for pid, args in command_lines() if any(text in a for a in args)]


def labkit_threads() -> list[str]:
    return sorted(t.name for t in threading.enumerate() if t.name.startswith("labkit"))


# -- a real Jupyter kernel ------------------------------------------------------------------
KERNEL_CELL = (
    "import labkit as lk; lab = lk.start(); t = lab.create_table('leftovers'); "
    "tr = lab.trigger('leftovers', lambda e, c: None); tr.start(); "
    "t.put_item(Item={'pk': 'a'}); "
    "print(lab.server.java_pid, lab.server._guard.pid, lab.server.port, lab.server.log_path)"
)


def kernel_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("LABKIT_")}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    return env


@contextlib.contextmanager
def running_kernel() -> Iterator[tuple[Any, Any, int]]:
    """A python3 kernel of this virtual environment: (manager, client, kernel pid)."""
    manager = jupyter_client.KernelManager(kernel_name="python3")
    manager.start_kernel(cwd=str(ROOT), env=kernel_env())
    client = manager.client()
    client.start_channels()
    try:
        client.wait_for_ready(timeout=KERNEL_START_S)
        pid = manager.provisioner.process.pid
        argv0 = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")[0].decode()
        assert argv0 == sys.executable, f"the kernel runs {argv0}, not this venv's Python"
        yield manager, client, pid
    finally:
        client.stop_channels()
        if manager.has_kernel:
            manager.shutdown_kernel(now=True)


def execute(client: Any, code: str, timeout: float = CELL_WITHIN_S) -> str:
    """Run one cell; return what it printed. An exception in the cell fails the test."""
    msg_id = client.execute(code)
    printed: list[str] = []
    deadline = time.monotonic() + timeout
    while True:
        try:
            msg = client.get_iopub_msg(timeout=max(0.1, deadline - time.monotonic()))
        except queue.Empty:
            pytest.fail(f"the cell did not finish within {timeout:.0f} s")
        if msg["parent_header"].get("msg_id") != msg_id:
            continue
        kind, content = msg["msg_type"], msg["content"]
        if kind == "stream":
            printed.append(content["text"])
        elif kind == "error":
            pytest.fail(f"the cell raised {content['ename']}: {content['evalue']}")
        elif kind == "status" and content["execution_state"] == "idle":
            return "".join(printed)


def start_lab_in(client: Any) -> tuple[int, int, int, Path]:
    java, guard, port, log = execute(client, KERNEL_CELL).split(maxsplit=3)
    java_pid, guard_pid = int(java), int(guard)
    assert not exited(java_pid) and not exited(guard_pid)
    assert dynamodb_local_on(int(port)), "the kernel's DynamoDB Local is not where it says"
    return java_pid, guard_pid, int(port), Path(log.strip())


def test_a_sigkilled_kernel_takes_its_dynamodb_local_and_guard_within_5_s():
    java_pid = guard_pid = None
    try:
        with running_kernel() as (manager, client, kernel_pid):
            java_pid, guard_pid, port, log = start_lab_in(client)

            os.kill(kernel_pid, signal.SIGKILL)  # no atexit, no finally: only the guard helps
            killed_at = time.monotonic()
            manager.provisioner.process.wait()

            assert wait_until(lambda: vanished(java_pid), GONE_WITHIN_S), (
                f"Java (pid {java_pid}) outlived its SIGKILLed kernel by {GONE_WITHIN_S} s"
            )
            assert wait_until(lambda: exited(guard_pid), GONE_WITHIN_S), (
                f"the guard (pid {guard_pid}) outlived its SIGKILLed kernel by {GONE_WITHIN_S} s"
            )
            assert time.monotonic() - killed_at < GONE_WITHIN_S
            assert dynamodb_local_on(port) == []
            assert not _answers(port)
            assert wait_until(lambda: not log.exists(), GONE_WITHIN_S), f"{log} was left behind"
    finally:
        kill_if_alive(java_pid, guard_pid)


def test_a_kernel_shut_down_normally_takes_its_dynamodb_local_and_guard():
    java_pid = guard_pid = None
    try:
        with running_kernel() as (manager, client, _):
            java_pid, guard_pid, port, log = start_lab_in(client)

            manager.shutdown_kernel()  # a polite shutdown_request: atexit closes the lab

            assert wait_until(lambda: vanished(java_pid), GONE_WITHIN_S), (
                f"Java (pid {java_pid}) still runs after the kernel shut down"
            )
            assert wait_until(lambda: exited(guard_pid), GONE_WITHIN_S), (
                f"the guard (pid {guard_pid}) still runs after the kernel shut down"
            )
            assert dynamodb_local_on(port) == []
            assert not _answers(port)
            assert wait_until(lambda: not log.exists(), GONE_WITHIN_S), f"{log} was left behind"
    finally:
        kill_if_alive(java_pid, guard_pid)


# -- threads and processes of a lab in this process -----------------------------------------
def put(table: Any, *pks: str) -> None:
    for pk in pks:
        table.put_item(Item={"pk": pk})


def test_close_leaves_no_labkit_thread_and_no_dynamodb_local_for_its_port():
    """A lab of its own (not the session's), with a background poller, a parallel trigger run
    to idle, and a parallel trigger polling in the background: ``close()`` ends them all."""
    threads_before = set(threading.enumerate())
    lab = _lab._launch(None)
    assert lab.server is not None
    port, java_pid = lab.server.port, lab.server.java_pid
    guard_pid = lab.server._guard.pid if lab.server._guard is not None else None
    delivered: list[str] = []
    lock = threading.Lock()

    def slow(event: dict[str, Any], context: Any) -> None:
        with lock:
            delivered.extend(r["dynamodb"]["Keys"]["pk"]["S"] for r in event["Records"])
        time.sleep(0.05)  # the poller is often mid-batch when close() comes

    try:
        keys = [f"k{i}" for i in range(12)]
        put(lab.create_table("background"), *keys)
        put(lab.create_table("parallel"), *keys)
        put(lab.create_table("both"), *keys)
        lab.trigger("background", slow).start()
        parallel = lab.trigger("parallel", slow, batch_size=1, parallelization_factor=4)
        lab.trigger("both", slow, batch_size=1, parallelization_factor=4).start()
        deadline = time.monotonic() + 10
        while len(delivered) < 3 * len(keys) and time.monotonic() < deadline:
            parallel.run_until_idle()
            time.sleep(0.05)
        running = labkit_threads()
        assert "labkit-trigger-background" in running and "labkit-trigger-both" in running
        assert any(name.startswith("labkit-lane") for name in running), running

        lab.close()

        assert labkit_threads() == [], f"labkit threads outlived close(): {labkit_threads()}"
        assert set(threading.enumerate()) == threads_before
        assert wait_until(lambda: dynamodb_local_on(port) == [], GONE_WITHIN_S), (
            f"DynamoDB Local for the closed lab's port {port} still runs: "
            f"pids {dynamodb_local_on(port)}"
        )
        assert not _answers(port)
    finally:
        lab.close()
        kill_if_alive(java_pid, guard_pid)


def test_reset_stops_the_threads_of_the_triggers_it_closes(lab, table_name):
    """``lab.reset()`` closes the lab's triggers: their pollers and lane pools end with them."""
    threads_before = set(threading.enumerate())
    other = _lab._external(lab.endpoint_url)  # a second lab on the session's server
    try:
        name = table_name("orders")
        put(other.create_table(name), "a", "b", "c", "d")
        other.trigger(name, lambda e, c: None, function_name="polling").start()
        parallel = other.trigger(
            name, lambda e, c: None, batch_size=1, parallelization_factor=4, function_name="lanes"
        )
        parallel.run_until_idle()
        assert labkit_threads()

        other.reset()

        left = sorted(t.name for t in set(threading.enumerate()) - threads_before)
        assert left == [], f"threads outlived reset(): {left}"
    finally:
        other.close()


# -- a start that fails ---------------------------------------------------------------------
FAILED_START = textwrap.dedent("""
    import labkit
    from labkit import _lab
    try:
        _lab._launch(None)
    except labkit.BackendStartError as error:
        print("BackendStartError", flush=True)
    else:
        print("started?!", flush=True)
""")


def test_a_failed_start_leaves_no_process_no_log_and_a_clean_guard(tmp_path):
    """DynamoDB Local that exits at once (a jar with no classes, named by LABKIT_DYNAMODB_LOCAL):
    the start fails, and then nothing of it remains, not even its log file in the temp folder,
    and the guard ends without a Python crash report on the learner's terminal."""
    folder = tmp_path / "ddb"
    (folder / "DynamoDBLocal_lib").mkdir(parents=True)
    with zipfile.ZipFile(folder / "DynamoDBLocal.jar", "w") as zf:
        zf.writestr("META-INF/maven/com.amazonaws/DynamoDBLocal/pom.properties", "version=3.3.1\n")
    private_tmp = tmp_path / "tmp"
    private_tmp.mkdir()
    env = {k: v for k, v in os.environ.items() if not k.startswith("LABKIT_")}
    env.update(
        LABKIT_DYNAMODB_LOCAL=str(folder),
        TMPDIR=str(private_tmp),
        PYTHONPATH=os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")])),
    )
    try:
        child = subprocess.run(
            [sys.executable, "-c", FAILED_START],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert child.stdout.strip() == "BackendStartError", child.stdout + child.stderr
        problems = []
        if not wait_until(lambda: processes_mentioning(str(folder)) == [], GONE_WITHIN_S):
            problems.append(f"processes of it remain: {processes_mentioning(str(folder))}")
        if "Fatal Python error" in child.stderr:
            crash = child.stderr[child.stderr.index("Fatal Python error") :].splitlines()[0]
            problems.append(f"the guard crashed at exit ({crash})")
        if left := sorted(p.name for p in private_tmp.iterdir()):
            problems.append(f"it left files in the temp folder: {left}")
        assert not problems, "after the failed start: " + "; ".join(problems)
    finally:
        kill_if_alive(*processes_mentioning(str(folder)))

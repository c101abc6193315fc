"""Keeps DynamoDB Local from outliving the Python process that started it, or this guard.

Run as a script (``python -I labkit/backend/_guard.py LOGFILE PARENT_PID -- java ...``), never
imported by labkit. It starts the command, prints the child's pid on stdout, then waits. It stops
the child (SIGTERM, with a SIGCONT so that a suspended Java receives it, then SIGKILL after 3 s) as
soon as either:

* its stdin reaches end of file: the parent closed it (``LocalServer.stop()``), exited or was
  killed, even with SIGKILL, since the kernel closes a dead process's pipes; or
* its parent is no longer PARENT_PID (looked at every 0.2 s): the parent died while a process it
  forked (a ``multiprocessing`` worker, say) still holds that pipe open.

If the guard itself dies, however it dies, the child goes with it: on Linux the child is started
with ``prctl(PR_SET_PDEATHSIG, SIGKILL)`` (man 2 prctl: the signal comes when the thread that
forked the child ends; here that is the guard's main thread, which lasts as long as the guard).
Elsewhere a killed guard leaves DynamoDB Local running until its parent's ``lab.close()``.

It exits with the child's status, or 128 + N when signal N ended the child (as a shell says it).
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable

PR_SET_PDEATHSIG = 1  # <linux/prctl.h>
PARENT_CHECK_S = 0.2


def dies_with_this_process() -> Callable[[], None] | None:
    """A ``preexec_fn`` that has the kernel SIGKILL the child when this process ends (Linux)."""
    if not sys.platform.startswith("linux"):
        return None
    try:
        prctl = ctypes.CDLL(None, use_errno=True).prctl
    except (OSError, AttributeError):
        return None
    me = os.getpid()

    def preexec() -> None:
        prctl(PR_SET_PDEATHSIG, int(signal.SIGKILL), 0, 0, 0)
        if os.getppid() != me:  # the guard died before the request took effect
            os.kill(os.getpid(), signal.SIGKILL)

    return preexec


def main(argv: list[str]) -> int:
    if len(argv) < 4 or argv[2] != "--" or not argv[1].isdigit():
        print("usage: _guard.py LOGFILE PARENT_PID -- COMMAND...", file=sys.stderr)
        return 2
    log_path, parent, _, *cmd = argv
    with open(log_path, "ab", buffering=0) as log:
        child = subprocess.Popen(
            cmd,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=log,
            preexec_fn=dies_with_this_process(),  # before any thread: preexec_fn is safe
        )
    print(child.pid, flush=True)
    lock = threading.Lock()

    def stop(*_: object) -> None:
        with lock:
            if child.poll() is None:
                child.terminate()
                with contextlib.suppress(ProcessLookupError):
                    os.kill(child.pid, signal.SIGCONT)  # a suspended Java handles SIGTERM now
                try:
                    child.wait(3)
                except subprocess.TimeoutExpired:
                    child.kill()

    def stop_and_exit(*_: object) -> None:
        stop()
        os._exit(0)

    signal.signal(signal.SIGTERM, stop_and_exit)
    signal.signal(signal.SIGHUP, stop_and_exit)
    parent_gone = threading.Event()

    def watch_pipe() -> None:
        try:  # os.read, not sys.stdin: a buffered stdin in a daemon thread breaks at exit
            while os.read(0, 1):
                pass
        except OSError:
            pass
        parent_gone.set()
        stop()

    def watch_parent() -> None:
        while os.getppid() == int(parent):
            time.sleep(PARENT_CHECK_S)
        parent_gone.set()
        stop()

    threading.Thread(target=watch_pipe, daemon=True).start()
    threading.Thread(target=watch_parent, daemon=True).start()
    code = child.wait()
    # The parent tells why Java ended from this guard's exit status, so it exits at once; only
    # a parent that died at the same moment gets a short grace to be seen gone.
    if parent_gone.wait(0.1):
        # The parent is gone or done with the server: nobody will read the log any more.
        # (When Java exits on its own, the log stays for the parent to report from.)
        with contextlib.suppress(OSError):
            os.unlink(log_path)
    return 128 - code if code < 0 else code


if __name__ == "__main__":
    code = main(sys.argv[1:])
    sys.stdout.flush()
    os._exit(code)  # no interpreter shutdown while the watcher threads block

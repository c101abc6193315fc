"""Keeps DynamoDB Local from outliving the Python process that started it.

Run as a script (``python -I labkit/_guard.py LOGFILE -- java ...``), never imported by labkit.
It starts the command, prints the child's pid on stdout, then waits. When its stdin reaches end of
file (the parent closed it, exited, or was killed, even with SIGKILL, since the kernel closes a dead
process's pipes) it stops the child: SIGTERM, then SIGKILL after 3 s. It exits with the child.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import threading


def main(argv: list[str]) -> int:
    log_path, sep, *cmd = argv
    if sep != "--" or not cmd:
        print("usage: _guard.py LOGFILE -- COMMAND...", file=sys.stderr)
        return 2
    with open(log_path, "ab", buffering=0) as log:
        child = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=log, stderr=log)
    print(child.pid, flush=True)

    def stop(*_: object) -> None:
        if child.poll() is None:
            child.terminate()
            try:
                child.wait(3)
            except subprocess.TimeoutExpired:
                child.kill()

    def stop_and_exit(*_: object) -> None:
        stop()
        os._exit(0)

    signal.signal(signal.SIGTERM, stop_and_exit)
    signal.signal(signal.SIGHUP, stop_and_exit)

    def watch_parent() -> None:
        try:  # os.read, not sys.stdin: a buffered stdin in a daemon thread breaks at exit
            while os.read(0, 1):
                pass
        except OSError:
            pass
        parent_gone.set()
        stop()

    parent_gone = threading.Event()
    threading.Thread(target=watch_parent, daemon=True).start()
    code = child.wait()
    if parent_gone.wait(0.5):
        # The parent is gone or done with the server: nobody will read the log any more.
        # (When Java exits on its own, the log stays for the parent to report from.)
        with contextlib.suppress(OSError):
            os.unlink(log_path)
    return code


if __name__ == "__main__":
    code = main(sys.argv[1:])
    sys.stdout.flush()
    os._exit(code)  # no interpreter shutdown while the watcher thread blocks on stdin

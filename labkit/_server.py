"""Running DynamoDB Local as a child process on a loopback port.

The server is started in memory with ``-sharedDb`` (every access key and region sees the same
tables, so a learner's terminal sees the notebook's tables) and ``-disableTelemetry`` (with no
internet, telemetry alone cost about 0.6 s of start-up). It runs behind ``_guard.py`` so that it
stops when the Python process that started it ends, however it ends.
"""

from __future__ import annotations

import contextlib
import errno
import os
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from ._errors import BackendStartError, PortInUseError
from ._install import DynamoDBLocalJar
from ._java import JavaRuntime

__all__ = ["LocalServer", "free_port", "port_is_free"]

_GUARD = Path(__file__).with_name("_guard.py")
# Faster JVM start for a short-lived, small server (measured: ~0.15 s less to first answer).
_JVM_FLAGS = ("-XX:TieredStopAtLevel=1", "-XX:+UseSerialGC", "-Xss1m")


def free_port() -> int:
    """A TCP port that is free on every interface right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("", 0))
        return int(sock.getsockname()[1])


def port_is_free(port: int) -> bool:
    """DynamoDB Local binds every interface, so the port must be free on all of them."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        try:
            sock.bind(("", port))
        except OSError as exc:
            if exc.errno in (errno.EADDRINUSE, errno.EACCES):
                return False
            raise
    return True


def _answers(port: int) -> bool:
    with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=0.2):
        return True
    return False


@dataclass
class LocalServer:
    """One DynamoDB Local process (behind its guard) on ``127.0.0.1:<port>``."""

    jar: DynamoDBLocalJar
    java: JavaRuntime
    port: int
    java_pid: int | None = None
    log_path: Path | None = None
    started_in_s: float | None = None
    _guard: subprocess.Popen[bytes] | None = field(default=None, repr=False)

    @property
    def endpoint_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def command(self) -> list[str]:
        return [
            str(self.java.path),
            *_JVM_FLAGS,
            f"-Djava.library.path={self.jar.lib}",
            "-jar",
            str(self.jar.jar),
            "-inMemory",
            "-sharedDb",
            "-disableTelemetry",
            "-port",
            str(self.port),
        ]

    def start(self, timeout: float = 60.0) -> None:
        """Start the server and wait until it accepts connections."""
        if not port_is_free(self.port):
            raise PortInUseError(
                f"Port {self.port} is already in use, so DynamoDB Local cannot listen on it.",
                "leave the port unset (labkit then picks a free one), choose another with "
                f"LABKIT_PORT, or stop the program using it (`ss -ltnp | grep :{self.port}`).",
            )
        fd, log = tempfile.mkstemp(prefix="labkit-dynamodb-local-", suffix=".log")
        os.close(fd)  # the guard appends to it by name
        self.log_path = Path(log)
        began = time.perf_counter()
        self._guard = subprocess.Popen(
            [sys.executable, "-I", str(_GUARD), log, "--", *self.command()],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            cwd=self.jar.folder,
            start_new_session=True,  # a Ctrl-C in the terminal is for Python, not for Java
        )
        assert self._guard.stdout is not None
        line = self._guard.stdout.readline().strip()
        self.java_pid = int(line) if line.isdigit() else None
        deadline = began + timeout
        while time.perf_counter() < deadline:
            if self._guard.poll() is not None:
                self._failed("exited during start-up")
            if _answers(self.port):
                self.started_in_s = time.perf_counter() - began
                return
            time.sleep(0.02)
        self.stop()
        self._failed(f"did not accept connections within {timeout:.0f} s")

    def log_tail(self, lines: int = 15) -> str:
        if self.log_path is None or not self.log_path.exists():
            return ""
        return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])

    def _failed(self, how: str) -> None:
        tail = self.log_tail()
        if "Address already in use" in tail or "BindException" in tail:
            raise PortInUseError(
                f"DynamoDB Local could not listen on port {self.port}: another program took it.",
                "run again (labkit picks a free port), or set LABKIT_PORT to a free port.",
            )
        raise BackendStartError(
            f"DynamoDB Local {how}. Its last output:\n{tail or '(nothing)'}",
            "run `python -m labkit doctor` to check Java and the jar; if the jar is damaged, "
            "delete .cache/dynamodb-local and run `python -m labkit install`.",
        )

    @property
    def running(self) -> bool:
        return self._guard is not None and self._guard.poll() is None

    def stop(self, timeout: float = 10.0) -> None:
        """Stop the server and its guard; safe to call more than once."""
        guard, self._guard = self._guard, None
        if guard is None:
            return
        with contextlib.suppress(OSError):
            if guard.stdin is not None:
                guard.stdin.close()  # the guard stops Java on end of file
        try:
            guard.wait(timeout)
        except subprocess.TimeoutExpired:
            guard.kill()
            guard.wait()
        if guard.stdout is not None:
            guard.stdout.close()
        if self.log_path is not None:
            with contextlib.suppress(OSError):
                self.log_path.unlink()

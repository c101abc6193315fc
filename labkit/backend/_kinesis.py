"""A local Kinesis Data Streams server: moto's server mode, on a loopback port, behind the guard.

Started only when a lesson first asks for Kinesis (``lab.kinesis``, ``lab.kinesis_stream``), never
by ``lk.start()``, and stopped by ``lab.close()`` and, however the Python process ends, by
``_guard.py`` (the same guard as DynamoDB Local's: end of file on its stdin, a changed parent,
``PR_SET_PDEATHSIG`` for the server itself).

Why moto (README "Dependencies, and why each"): it is a pip package in pure Python (no Node, no
Java, nothing downloaded at run time), its server takes a listening address (``-H 127.0.0.1``),
and its Kinesis keeps the semantics a consumer meets: shards chosen by the MD5 of the partition
key over hash-key ranges, per-shard sequence numbers, the four iterator types, GetRecords'
``Limit`` (1 to 10,000) and ``NextShardIterator``, retention of 24 to 8,760 hours. The npm
``kinesis-local`` (a Scala.js build of kinesis-mock, a single ``main.js``) is closer in its limits
but has no listening-address option (it listens on every interface, and opens a TLS port too) and
needs Node; the npm ``kinesalite`` needs Node and was last released in 2022.

The server writes nothing but its log in the temp folder, which ``stop()`` removes (moto keeps
its streams in memory). Its account is ``000000000000``, the one DynamoDB Local's ARNs carry
(``MOTO_ACCOUNT_ID``).
"""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from .._errors import BackendStartError, SetupError
from ._server import _GUARD, LOOPBACK, _answers, free_port, stop_guarded

__all__ = ["KINESIS_REQUIREMENT", "KinesisServer", "check_kinesis_installed"]

# What `pip install -e .` brings (pyproject.toml), and what `python -m labkit install` adds if
# it is missing: moto's Kinesis and the two packages its server mode imports.
KINESIS_REQUIREMENT = ("moto>=5.1", "flask>=3", "flask-cors>=4")
ACCOUNT = "000000000000"


def check_kinesis_installed() -> None:
    """Raise SetupError unless moto's server mode can run in this Python."""
    missing = [m for m in ("moto", "flask", "flask_cors") if importlib.util.find_spec(m) is None]
    if missing:
        raise SetupError(
            f"The local Kinesis server (moto's server mode) cannot start: {', '.join(missing)} "
            "is not installed in this Python.",
            "run `make setup` or `python -m labkit install` (it pip-installs "
            f"{' '.join(KINESIS_REQUIREMENT)}).",
        )


@dataclass
class KinesisServer:
    """One local Kinesis process (behind its guard), answering on ``127.0.0.1:<port>``."""

    port: int = 0
    pid: int | None = None
    log_path: Path | None = None
    started_in_s: float | None = None
    _guard: subprocess.Popen[bytes] | None = field(default=None, repr=False)

    @property
    def endpoint_url(self) -> str:
        return f"http://{LOOPBACK}:{self.port}"

    def command(self) -> list[str]:
        # -I: the project's folder and PYTHON* variables do not change what moto imports.
        return [sys.executable, "-I", "-m", "moto.server", "-H", LOOPBACK, "-p", str(self.port)]

    def start(self, timeout: float = 60.0) -> None:
        """Start the server on 127.0.0.1 and wait until it accepts connections."""
        check_kinesis_installed()
        began = time.perf_counter()
        self.port = self.port or free_port()
        fd, log = tempfile.mkstemp(prefix="labkit-kinesis-", suffix=".log")
        os.close(fd)
        self.log_path = Path(log)
        env = {**os.environ, "MOTO_ACCOUNT_ID": ACCOUNT}
        self._guard = subprocess.Popen(
            [sys.executable, "-I", str(_GUARD), log, str(os.getpid()), "--", *self.command()],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            env=env,
            start_new_session=True,  # a Ctrl-C in the terminal is for Python, not the server
        )
        assert self._guard.stdout is not None
        line = self._guard.stdout.readline().strip()
        self.pid = int(line) if line.isdigit() else None
        deadline = began + timeout
        while time.perf_counter() < deadline:
            if self._guard.poll() is not None:
                self._failed("exited during start-up")
            if _answers(self.port):
                self.started_in_s = time.perf_counter() - began
                return
            time.sleep(0.02)
        self._failed(f"did not accept connections within {timeout:.0f} s")

    def _failed(self, how: str) -> None:
        tail = ""
        if self.log_path is not None and self.log_path.exists():
            tail = "\n".join(self.log_path.read_text(errors="replace").splitlines()[-10:])
        self.stop()
        raise BackendStartError(
            f"The local Kinesis server (moto) {how}. Its last output:\n{tail or '(nothing)'}",
            "run `python -m labkit install` to check moto is installed, then try again.",
        )

    @property
    def running(self) -> bool:
        return self._guard is not None and self._guard.poll() is None

    def failure(self) -> str | None:
        """Why this server cannot answer any more, or None while it runs."""
        if self._guard is None:
            return "it was stopped (lab.close())" if self.pid is not None else "not started"
        code = self._guard.poll()
        return f"its process ended (status {code})" if code is not None else None

    def stop(self, timeout: float = 10.0) -> None:
        """Stop the server and its guard; safe to call more than once."""
        guard, self._guard = self._guard, None
        stop_guarded(guard, self.log_path, timeout)

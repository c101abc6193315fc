"""Each learner's JupyterLab: their own workspace, their own memory cgroup, the lab's settings.

A :class:`LabkitSpawner` is JupyterHub's ``SimpleLocalProcessSpawner`` (every learner's server
runs as the hub's own user, with its own home folder; no system accounts) plus, before each
start:

* the learner's workspace is brought up to date with :func:`labkit.teach._workspace.sync`, as
  ``make lab`` does (new lessons copied in, the learner's edits kept);
* the server's working folder and root is that workspace, ``LABKIT_WORKSPACE`` names it (so
  ``lk.check`` and quizzes record results in ``<workspace>/.labkit/results.jsonl``) and JupyterLab
  opens on its contents page (``/lab/tree/README.md``);
* the server is put in the learner's memory cgroup (``_cgroup.py``) between fork and exec, so the
  cap covers it and everything it starts: kernels and their DynamoDB Local (whose Java heap
  ``LABKIT_JAVA_HEAP`` caps);
* at the cap, the cgroup's OOM killer chooses among that learner's processes by size, adjusted
  by ``oom_score_adj``: each kernel raises its own to +500 (a kernel spec in the learner's home;
  raising needs no privilege), and its DynamoDB Local inherits it, so a kernel or a DynamoDB
  Local is ended before the server that holds every open lesson (seen here: with a 280 MiB cap
  and no adjustment, the server, the largest process, went and took every lesson with it);
* when the server stops, or dies (noticed by the hub's poll), whatever is left in the cgroup is
  ended and the cgroup removed.

Each kernel starts its own DynamoDB Local (``lk.start()`` in the lesson's first cell: a free
loopback port per kernel, stopped with the kernel by ``backend/_guard.py``), so learners never
share tables.

SimpleLocalProcessSpawner gives no isolation between learners' files (they all run as one
system user): a learner who knows where to look can read another's workspace. Acceptable for a
workshop on a machine that holds nothing else; for graded work, one system user per learner
(``LocalProcessSpawner`` with ``useradd``) or containers (docs/workshop-kubernetes.md).
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
from pathlib import Path
from typing import Any

from jupyterhub.spawner import SimpleLocalProcessSpawner
from traitlets import default

from .._paths import cache_dir
from ..teach._jupyterlab import jupyterlab_start
from ._cgroup import MemoryCgroups
from ._settings import Settings, load

__all__ = ["KERNEL_OOM_SCORE_ADJ", "LabkitSpawner", "learner_environment", "passed_through"]

# The contents page of the learner's workspace, where `make lab` opens too.
CONTENTS = jupyterlab_start().default_url
# Each kernel (and the DynamoDB Local it starts) is the OOM killer's first choice in the learner's
# cgroup, before the server (0); -1000..1000, and a process may raise its own with no privilege.
KERNEL_OOM_SCORE_ADJ = 500
# Passed through from the hub's environment: what finds Python, labkit and a locale.
_KEEP = ("PATH", "PYTHONPATH", "LANG", "LC_ALL", "JAVA_HOME", "LABKIT_DYNAMODB_LOCAL", "TZ")


def passed_through() -> dict[str, str]:
    """What a learner's server or a hub service inherits from the hub's environment (JupyterHub
    passes nothing by default, so that the proxy's token never reaches a learner)."""
    env = {key: os.environ[key] for key in _KEEP if key in os.environ}
    venv_bin = str(Path(sys.executable).parent)
    env["PATH"] = os.pathsep.join([venv_bin, env.get("PATH", "/usr/bin:/bin")])
    return env


def learner_environment(settings: Settings, learner: str) -> dict[str, str]:
    """The labkit variables of one learner's server (and so of their kernels)."""
    env = passed_through()
    env.update(
        LABKIT_WORKSPACE=str(settings.workspace(learner)),
        LABKIT_LEARNER=learner,
        LABKIT_CACHE=str(cache_dir()),  # DynamoDB Local's jar and class-data archive, shared
        PYTHONUNBUFFERED="1",
        # The learner's home before the environment's share/jupyter: their kernel spec (below)
        # wins. (JupyterLab's settings live in its app folder, which this does not change.)
        JUPYTER_PREFER_ENV_PATH="0",
    )
    if settings.java_heap:
        env["LABKIT_JAVA_HEAP"] = settings.java_heap
    return env


def _kernel_spec(home: Path) -> Path:
    """The learner's ``python3`` kernel spec (their home's, found before the environment's):
    the environment's own, started through ``sh`` to raise the kernel's ``oom_score_adj``, so
    that it and its DynamoDB Local go before the server at the cap."""
    shared = Path(sys.prefix) / "share" / "jupyter" / "kernels" / "python3" / "kernel.json"
    try:
        spec = json.loads(shared.read_text())
    except (OSError, ValueError):
        spec = {"display_name": "Python 3 (ipykernel)", "language": "python", "metadata": {}}
    spec["argv"] = [
        "/bin/sh",
        "-c",
        f"echo {KERNEL_OOM_SCORE_ADJ} > /proc/self/oom_score_adj 2>/dev/null; "
        'exec "$0" -m ipykernel_launcher -f "$1"',
        sys.executable,
        "{connection_file}",
    ]
    folder = home / ".local" / "share" / "jupyter" / "kernels" / "python3"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "kernel.json").write_text(json.dumps(spec, indent=1))
    return folder / "kernel.json"


class LabkitSpawner(SimpleLocalProcessSpawner):  # type: ignore[misc]
    """See the module docstring."""

    @property
    def settings(self) -> Settings:
        return load()

    @default("home_dir")
    def _home(self) -> str:
        return str(self.settings.home(self.user.name))

    @default("default_url")
    def _default_url(self) -> str:
        return CONTENTS

    def _cgroups(self) -> MemoryCgroups | None:
        s = self.settings
        if not s.cgroups or not s.memory_limit:
            return None
        return MemoryCgroups(Path(s.cgroups), s.cgroup_version)

    async def start(self) -> Any:
        s = self.settings
        name = self.user.name
        workspace = s.workspace(name)
        from ..teach._workspace import sync

        report = await asyncio.to_thread(sync, workspace)
        for line in report.lines():
            self.log.info("labkit %s: %s", name, line)
        self.notebook_dir = str(workspace)
        if (groups := self._cgroups()) is not None:
            groups.create(name, s.memory_limit)
            _kernel_spec(Path(self.home_dir))
        return await super().start()

    def make_preexec_fn(self, name: str) -> Any:
        home = self.home_dir
        workspace = str(self.settings.workspace(name))
        groups = self._cgroups()
        procs = str(groups.path(name) / "cgroup.procs") if groups is not None else None

        def preexec() -> None:  # runs in the child, between fork and exec
            os.makedirs(home, 0o700, exist_ok=True)
            os.chdir(workspace)
            if procs is not None:
                with open(procs, "w") as out:
                    out.write(str(os.getpid()))

        return preexec

    def user_env(self, env: dict[str, str]) -> dict[str, str]:
        env = super().user_env(env)
        env.update(learner_environment(self.settings, self.user.name))
        return env

    async def poll(self) -> int | None:
        started = bool(self.pid)
        status = await super().poll()
        if started and status is not None:
            # The server died by itself (the cap's OOM killer, a crash): end what it left (its
            # kernels, their DynamoDB Local) now, not at the next start.
            await self._empty_cgroup()
        return status

    async def _empty_cgroup(self) -> None:
        if (groups := self._cgroups()) is not None and groups.path(self.user.name).exists():
            left = await asyncio.to_thread(groups.remove, self.user.name)
            if left:
                self.log.warning(
                    "labkit %s: ended %d leftover process(es)", self.user.name, len(left)
                )

    async def stop(self, now: bool = False) -> None:
        await super().stop(now=now)
        await self._empty_cgroup()

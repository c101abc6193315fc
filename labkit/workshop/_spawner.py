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
* when the server stops, whatever is left in the cgroup is ended and the cgroup removed.

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
import os
import sys
from pathlib import Path
from typing import Any

from jupyterhub.spawner import SimpleLocalProcessSpawner
from traitlets import default

from .._paths import cache_dir
from ._cgroup import MemoryCgroups
from ._settings import Settings, load

__all__ = ["LabkitSpawner", "learner_environment", "passed_through"]

CONTENTS = "/lab/tree/README.md"
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
    )
    if settings.java_heap:
        env["LABKIT_JAVA_HEAP"] = settings.java_heap
    return env


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

    async def stop(self, now: bool = False) -> None:
        await super().stop(now=now)
        if (groups := self._cgroups()) is not None:
            left = await asyncio.to_thread(groups.remove, self.user.name)
            if left:
                self.log.warning(
                    "labkit %s: ended %d leftover process(es)", self.user.name, len(left)
                )

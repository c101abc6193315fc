"""The workshop's settings and folders: what ``make workshop`` decides once and every part reads.

``python -m labkit.workshop start`` writes ``<classroom>/.hub/settings.json``; the shipped
``jupyterhub_config.py``, the spawner and the progress service read it (its path is in
``$LABKIT_WORKSHOP_SETTINGS``). The classroom folder (``$LABKIT_CLASSROOM``, else
``<repo>/classroom``, git-ignored) holds one home per learner, whose ``workspace/`` is that
learner's workspace (``LABKIT_WORKSPACE``), and ``.hub/`` with the hub's database, logs, pids and
the logins (mode 0600).
"""

from __future__ import annotations

import json
import os
import secrets
import sys
from dataclasses import asdict, dataclass, field
from pathlib import Path

from .._paths import cache_dir, project_root

__all__ = [
    "ADMIN",
    "SETTINGS_ENV",
    "Settings",
    "classroom_dir",
    "learner_names",
    "load",
    "proxy_dir",
]

ADMIN = "instructor"
SETTINGS_ENV = "LABKIT_WORKSHOP_SETTINGS"
# configurable-http-proxy, JupyterHub's default proxy (npm); the major version JupyterHub 5-6 use.
PROXY_PACKAGE = "configurable-http-proxy@5"


def classroom_dir() -> Path:
    """``$LABKIT_CLASSROOM``, else ``<repo>/classroom`` in a checkout, else ``./classroom``."""
    if env := os.environ.get("LABKIT_CLASSROOM", "").strip():
        return Path(env).expanduser().resolve()
    root = project_root()
    return ((root if root is not None else Path.cwd()) / "classroom").resolve()


def proxy_dir() -> Path:
    """Where ``npm install`` puts configurable-http-proxy: the project's download cache."""
    return cache_dir() / "workshop-proxy"


def learner_names(count: int) -> list[str]:
    """learner01 .. learnerNN (two digits at least, so they sort in order)."""
    width = max(2, len(str(count)))
    return [f"learner{i:0{width}d}" for i in range(1, count + 1)]


@dataclass
class Settings:
    classroom: str
    learners: list[str]
    port: int  # the hub's public address: 127.0.0.1:<port>
    hub_api_port: int
    proxy_api_port: int
    progress_port: int
    user_password: str
    admin_password: str
    memory_limit: int  # bytes per learner; 0: no cap
    java_heap: str  # LABKIT_JAVA_HEAP in every learner's server
    cull_timeout: int  # seconds idle before a learner's server is stopped
    cgroups: str | None = None  # the folder of the learners' memory cgroups, None: uncapped
    cgroup_version: int = 1
    uncapped_because: str | None = None
    python: str = field(default_factory=lambda: sys.executable)
    admin: str = ADMIN

    @property
    def hub_dir(self) -> Path:
        return Path(self.classroom) / ".hub"

    @property
    def file(self) -> Path:
        return self.hub_dir / "settings.json"

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def home(self, learner: str) -> Path:
        return Path(self.classroom) / learner

    def workspace(self, learner: str) -> Path:
        return self.home(learner) / "workspace"

    def results(self, learner: str) -> Path:
        from ..teach._results import RESULTS

        return self.workspace(learner) / RESULTS

    def save(self) -> Path:
        self.hub_dir.mkdir(parents=True, exist_ok=True)
        os.chmod(self.hub_dir, 0o700)  # passwords, the hub's cookie secret and database
        tmp = self.file.with_suffix(".tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as out:
            json.dump(asdict(self), out, indent=1)
        tmp.replace(self.file)
        return self.file


def load(path: str | os.PathLike[str] | None = None) -> Settings:
    """The settings of the running workshop (``$LABKIT_WORKSHOP_SETTINGS``)."""
    where = Path(path or os.environ[SETTINGS_ENV])
    return Settings(**json.loads(where.read_text()))


def passwords(hub_dir: Path) -> tuple[str, str]:
    """The learners' shared password and the instructor's, made once and kept in .hub/ so a
    restarted workshop keeps its logins; ``$LABKIT_WORKSHOP_PASSWORD`` sets the learners'."""
    keep = hub_dir / "passwords.json"
    try:
        saved = json.loads(keep.read_text())
        user, admin = saved["user_password"], saved["admin_password"]
    except (OSError, ValueError, KeyError):
        # JupyterHub's SharedPasswordAuthenticator wants >= 8 and >= 32 characters.
        user, admin = secrets.token_urlsafe(9), secrets.token_urlsafe(30)
    if env := os.environ.get("LABKIT_WORKSHOP_PASSWORD", "").strip():
        user = env
    hub_dir.mkdir(parents=True, exist_ok=True)
    os.chmod(hub_dir, 0o700)
    fd = os.open(keep, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as out:
        json.dump({"user_password": user, "admin_password": admin}, out)
    return user, admin

"""Starting and stopping the workshop's JupyterHub: one process tree, stopped by pid.

``start`` (``make workshop``) installs the proxy if needed, writes the settings, runs
``jupyterhub -f labkit/workshop/jupyterhub_config.py`` as its child in a session of its own,
prints the logins, and waits. Ctrl-C (or ``make workshop-stop``, which sends this process a
SIGTERM) stops the hub, which stops every learner's server, its services and its proxy; then
anything of the tree still alive (a learner's kernel, a DynamoDB Local) is ended by pid, and the
learners' memory cgroups are emptied and removed. ``<classroom>/.hub/workshop.json`` records the
pids while it runs; nothing else is left behind but the classroom folder itself (the learners'
workspaces and results, which are the point).
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

from .._errors import LabError, SetupError
from ._cgroup import MemoryCgroups, memory_cgroups, parse_size
from ._settings import (
    PROXY_PACKAGE,
    SETTINGS_ENV,
    Settings,
    classroom_dir,
    learner_names,
    passwords,
    proxy_dir,
)

__all__ = ["configure", "ensure_proxy", "logins", "proxy_command", "running", "start", "stop"]

CONFIG = Path(__file__).with_name("jupyterhub_config.py")
_PIDS = "workshop.json"


def proxy_command() -> list[str]:
    """configurable-http-proxy as installed by :func:`ensure_proxy` (the project's cache)."""
    return [str(proxy_dir() / "node_modules" / ".bin" / "configurable-http-proxy")]


def ensure_proxy() -> Path:
    """``npm install`` JupyterHub's proxy into the project's cache (first run only)."""
    binary = Path(proxy_command()[0])
    if binary.exists():
        return binary
    npm = shutil.which("npm")
    if npm is None:
        raise SetupError(
            "JupyterHub's proxy (configurable-http-proxy, an npm package) needs Node.js and npm, "
            "and npm is not on PATH.",
            "install them (Debian/Ubuntu: apt-get install nodejs npm), then run the command again.",
        )
    folder = proxy_dir()
    folder.mkdir(parents=True, exist_ok=True)
    print(f"labkit: installing {PROXY_PACKAGE} into {folder} (first run only) ...", flush=True)
    done = subprocess.run(
        [
            npm,
            "install",
            "--prefix",
            str(folder),
            "--no-audit",
            "--no-fund",
            "--loglevel=error",
            PROXY_PACKAGE,
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0 or not binary.exists():
        raise SetupError(
            f"npm could not install {PROXY_PACKAGE}: {done.stderr.strip()[-500:]}",
            "check that npm can reach its registry (npm ping), then run the command again.",
        )
    return binary


def _free_port(first: int | None = None) -> int:
    for port in range(first, first + 100) if first else [0]:
        with socket.socket() as sock:
            try:
                sock.bind(("127.0.0.1", port))
            except OSError:
                continue
            return int(sock.getsockname()[1])
    raise LabError(
        f"No free port from {first} to {first + 99} on 127.0.0.1.",  # type: ignore[operator]
        "stop what uses them, or choose another with make workshop PORT=<port>.",
    )


def _alive(pid: int | None) -> bool:
    if not pid:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    with contextlib.suppress(OSError):  # a zombie is not alive
        if Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] == "Z":
            return False
    return True


def running(classroom: Path | None = None) -> dict[str, int] | None:
    """The pids of a running workshop (supervisor, hub), or None."""
    where = (classroom or classroom_dir()) / ".hub" / _PIDS
    try:
        pids = json.loads(where.read_text())
    except (OSError, ValueError):
        return None
    return pids if _alive(pids.get("supervisor")) or _alive(pids.get("hub")) else None


def _check_installed() -> None:
    missing = []
    for module in ("jupyterhub", "jupyterhub_idle_culler"):
        try:
            __import__(module)
        except ImportError:
            missing.append(module.replace("_", "-"))
    if missing:
        raise SetupError(
            f"The workshop needs {', '.join(missing)}, which are not installed in {sys.prefix}.",
            "run it with `make workshop` (it installs the [workshop] extra), or "
            "`pip install -e '.[workshop]'`.",
        )


def configure(
    users: int,
    *,
    port: int | None = None,
    memory: str = "1g",
    java_heap: str = "256m",
    cull_timeout: int = 3600,
    classroom: Path | None = None,
) -> Settings:
    """Decide the workshop's settings and write them to ``<classroom>/.hub/settings.json``."""
    if users < 1:
        raise LabError(f"USERS={users}: a workshop needs at least one learner.", "USERS=10, say.")
    try:
        limit = 0 if memory in ("", "0", "none") else parse_size(memory)
    except ValueError as exc:
        raise LabError(f"MEMORY={memory!r}: {exc}.", "write MEMORY=1g, or MEMORY=none.") from exc
    room = (classroom or classroom_dir()).resolve()
    hub_dir = room / ".hub"
    user_password, admin_password = passwords(hub_dir)
    groups: MemoryCgroups | str = memory_cgroups() if limit else "no cap asked for (MEMORY=none)"
    settings = Settings(
        classroom=str(room),
        learners=learner_names(users),
        port=port or _free_port(8000),
        hub_api_port=_free_port(),
        proxy_api_port=_free_port(),
        progress_port=_free_port(),
        user_password=user_password,
        admin_password=admin_password,
        memory_limit=limit if isinstance(groups, MemoryCgroups) else 0,
        java_heap=java_heap,
        cull_timeout=cull_timeout,
        cgroups=str(groups.folder) if isinstance(groups, MemoryCgroups) else None,
        cgroup_version=groups.version if isinstance(groups, MemoryCgroups) else 1,
        uncapped_because=None if isinstance(groups, MemoryCgroups) else groups,
    )
    settings.save()
    return settings


def logins(settings: Settings) -> str:
    first, last = settings.learners[0], settings.learners[-1]
    who = first if first == last else f"{first} .. {last}"
    lines = [
        f"JupyterHub on {settings.url}/ (this machine only: 127.0.0.1).",
        f"Learners: {who} ({len(settings.learners)}), each with the password "
        f"{settings.user_password}",
        f"Instructor: {settings.admin} with the password {settings.admin_password}",
        f"  progress of everyone: {settings.url}/services/progress/ "
        f"(grades: {settings.url}/services/progress/grades.csv, or `make grades`)",
        f"  the admin panel (start/stop learners' servers): {settings.url}/hub/admin",
        f"Learners' workspaces: {settings.classroom}/<learner>/workspace",
    ]
    if settings.memory_limit:
        lines.append(
            f"Memory cap per learner: {settings.memory_limit // 2**20} MiB (server, kernels and "
            f"DynamoDB Local, cgroup {settings.cgroups}/<learner>); Java heap {settings.java_heap}."
        )
    else:
        lines.append(f"No memory cap per learner: {settings.uncapped_because}.")
    lines.append(
        f"Idle servers stopped after {settings.cull_timeout // 60} min (jupyterhub-idle-culler). "
        f"The logins are kept in {settings.hub_dir}/passwords.json (mode 0600)."
    )
    return "\n".join(f"labkit: {line}" for line in lines)


def _wait_for_hub(settings: Settings, hub: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if hub.poll() is not None:
            tail = log.read_text(errors="replace")[-2000:]
            raise LabError(
                f"JupyterHub exited with status {hub.returncode} while starting:\n{tail}",
                f"read {log}; a port in use: choose another with make workshop PORT=<port>.",
            )
        with (
            contextlib.suppress(urllib.error.URLError, OSError),
            urllib.request.urlopen(f"{settings.url}/hub/api/", timeout=2) as answer,
        ):
            if answer.status == 200:
                return
        time.sleep(0.25)
    raise LabError(f"JupyterHub did not answer on {settings.url} in 120 s.", f"read {log}.")


def _tree(pid: int) -> list[int]:
    """``pid``'s descendants now (children before grandchildren)."""
    import psutil

    with contextlib.suppress(psutil.Error):
        return [p.pid for p in psutil.Process(pid).children(recursive=True)]
    return []


def _end(pids: list[int], grace: float = 10.0) -> list[int]:
    """SIGTERM, then SIGKILL after ``grace``: the pids that were still alive."""
    alive = [p for p in pids if _alive(p)]
    for sig in (signal.SIGTERM, signal.SIGKILL):
        for pid in alive:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, sig)
        deadline = time.monotonic() + grace
        while any(_alive(p) for p in alive) and time.monotonic() < deadline:
            time.sleep(0.05)
        if not any(_alive(p) for p in alive):
            break
    return alive


def _shutdown(settings: Settings, hub: subprocess.Popen[bytes] | None, hub_pid: int) -> int:
    """Stop the hub and everything it started; the number of processes that had to be killed."""
    tree = _tree(hub_pid)
    if hub is not None and hub.poll() is None:
        hub.send_signal(signal.SIGTERM)  # the hub stops its servers, services and proxy
        try:
            hub.wait(timeout=90)
        except subprocess.TimeoutExpired:
            hub.kill()
            hub.wait()
    elif _alive(hub_pid):
        _end([hub_pid], grace=90)
    leftovers = _end(tree, grace=5)
    if settings.cgroups:
        leftovers += MemoryCgroups(Path(settings.cgroups), settings.cgroup_version).remove_all()
    for name in (_PIDS, "jupyterhub.pid", "proxy.pid"):
        with contextlib.suppress(FileNotFoundError):
            (settings.hub_dir / name).unlink()
    return len(set(leftovers))


def start(settings: Settings) -> int:
    """Run the hub in the foreground until Ctrl-C, SIGTERM or the hub's own exit."""
    _check_installed()
    if pids := running(Path(settings.classroom)):
        raise LabError(
            f"A workshop is already running from {settings.classroom} (pids {pids}).",
            "stop it first: make workshop-stop.",
        )
    ensure_proxy()
    log = settings.hub_dir / "hub.log"
    env = {**os.environ, SETTINGS_ENV: str(settings.file)}
    with log.open("ab") as out:
        hub = subprocess.Popen(
            [sys.executable, "-m", "jupyterhub", "-f", str(CONFIG)],
            cwd=settings.hub_dir,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,  # Ctrl-C reaches this process only, which stops the hub
        )
    (settings.hub_dir / _PIDS).write_text(json.dumps({"supervisor": os.getpid(), "hub": hub.pid}))
    stopping = False

    def on_signal(signum: int, frame: object) -> None:
        nonlocal stopping
        stopping = True
        raise KeyboardInterrupt

    previous = {s: signal.signal(s, on_signal) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        _wait_for_hub(settings, hub, log)
        print(logins(settings), flush=True)
        print(
            f"labkit: the hub's log is {log}. Press Ctrl-C once here (or run `make "
            "workshop-stop`) to stop the hub, every learner's server and DynamoDB Local.",
            flush=True,
        )
        hub.wait()
        print(f"labkit: JupyterHub exited with status {hub.returncode}; see {log}.", flush=True)
    except KeyboardInterrupt:
        pass
    finally:
        # A second Ctrl-C while stopping must not leave half the tree running.
        for s in previous:
            signal.signal(s, signal.SIG_IGN)
        print("labkit: stopping the workshop ...", flush=True)
        killed = _shutdown(settings, hub, hub.pid)
        extra = f" ({killed} leftover process(es) ended by pid)" if killed else ""
        print(f"labkit: the workshop is stopped{extra}.", flush=True)
        for s, handler in previous.items():
            signal.signal(s, handler)
    return 0 if stopping or hub.returncode == 0 else 1


def stop(classroom: Path | None = None) -> int:
    """``make workshop-stop``: ask the running workshop to stop, and wait until it has."""
    room = classroom or classroom_dir()
    pids = running(room)
    if pids is None:
        print(f"labkit: no workshop is running from {room}.")
        return 0
    supervisor, hub = pids.get("supervisor"), pids.get("hub")
    if _alive(supervisor):
        os.kill(supervisor, signal.SIGTERM)  # type: ignore[arg-type]
        deadline = time.monotonic() + 150
        while _alive(supervisor) and time.monotonic() < deadline:
            time.sleep(0.2)
        if not _alive(supervisor):
            print("labkit: the workshop is stopped.")
            return 0
    # No supervisor (killed): stop the hub and its tree from here.
    from ._settings import load

    settings = load(room / ".hub" / "settings.json")
    killed = _shutdown(settings, None, int(hub or 0))
    print(f"labkit: the workshop is stopped ({killed} leftover process(es) ended by pid).")
    return 0

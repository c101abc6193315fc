"""`make lab` stops with one Ctrl-C, as it says, and leaves nothing running.

`python -m labkit lab` is started for real on a free loopback port, in a pseudo-terminal (a
learner runs it in one, and jupyter_server installs its Ctrl-C handler only when its stdin is a
terminal: ``ServerApp.init_signal``). A kernel is started and made to start its DynamoDB Local.
Then ONE SIGINT, sent to the server process alone (a terminal sends it to the whole foreground
process group; kernels run in their own sessions, so they never get it and the server must stop
them itself). Everything must be gone: the server, the kernel, the guard and Java.

Without ``--ServerApp.answer_yes`` the first SIGINT only prints "Shut down this Jupyter server
(y/[n])?" and resumes after 5 s with no answer (jupyter_server's ``ServerApp._confirm_exit``).
"""

from __future__ import annotations

import json
import os
import pty
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from test_workspace import _private_jupyter_env as private_jupyter_env

from labkit.__main__ import _free_loopback_port

pytestmark = pytest.mark.dynamodb_local


def _private_jupyter_env(base: Path, workspace: Path) -> dict[str, str]:
    return {**private_jupyter_env(base), "LABKIT_WORKSPACE": str(workspace)}


def _descendants(pid: int) -> set[int]:
    """Every process whose chain of parents leads to ``pid`` (from /proc)."""
    parents: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        parents[int(entry.name)] = int(stat.rsplit(")", 1)[1].split()[1])
    found: set[int] = set()
    frontier = {pid}
    while frontier:
        children = {c for c, p in parents.items() if p in frontier} - found
        found |= children
        frontier = children
    return found


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"  # a zombie has exited; only its exit status is left


def _api(base: str, token: str, method: str, path: str) -> object:
    request = urllib.request.Request(
        f"{base}{path}", method=method, headers={"Authorization": f"token {token}"}
    )
    with urllib.request.urlopen(request, timeout=30) as response:
        body = response.read()
    return json.loads(body) if body else None


def _read(fd: int, into: bytearray) -> None:
    import select

    while select.select([fd], [], [], 0)[0]:
        try:
            chunk = os.read(fd, 65536)
        except OSError:  # the terminal's other end closed
            return
        if not chunk:
            return
        into.extend(chunk)


def test_one_ctrl_c_stops_jupyterlab_its_kernels_and_their_dynamodb_local(tmp_path):
    from jupyter_client import BlockingKernelClient

    workspace = tmp_path / "ws"
    env = _private_jupyter_env(tmp_path / "jupyter", workspace)
    port = _free_loopback_port(19088)
    main, terminal = pty.openpty()
    proc = subprocess.Popen(
        [sys.executable, "-m", "labkit", "lab", "--port", str(port)],
        env=env,
        stdin=terminal,
        stdout=terminal,
        stderr=terminal,
        start_new_session=True,
    )
    os.close(terminal)
    out = bytearray()
    pids: set[int] = set()
    try:
        base, token = f"http://127.0.0.1:{port}", None
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and proc.poll() is None:
            _read(main, out)
            for line in out.decode(errors="replace").splitlines():
                if line.startswith(f"labkit: JupyterLab on {base}/lab/tree/README.md?token="):
                    token = line.strip().rsplit("=", 1)[1]
            if token:
                try:
                    _api(base, token, "GET", "/api/status")
                    break
                except (urllib.error.URLError, ConnectionError, TimeoutError):
                    pass
            time.sleep(0.3)
        else:
            pytest.fail(f"JupyterLab did not come up:\n{out.decode(errors='replace')[-3000:]}")
        text = out.decode(errors="replace")
        assert "press Ctrl-C once here" in text and "no question asked" in text, text

        kernel = _api(base, token, "POST", "/api/kernels")
        assert isinstance(kernel, dict)
        client = BlockingKernelClient()
        client.load_connection_file(
            Path(env["JUPYTER_RUNTIME_DIR"]) / f"kernel-{kernel['id']}.json"
        )
        client.start_channels()
        try:
            client.wait_for_ready(timeout=60)
            reply = client.execute_interactive(
                "import labkit as lk\nlab = lk.start()\nlab.create_table('orders')", timeout=120
            )
            assert reply["content"]["status"] == "ok", reply["content"]
        finally:
            client.stop_channels()
        pids = _descendants(proc.pid)
        java = [p for p in pids if b"java" in Path(f"/proc/{p}/cmdline").read_bytes()]
        assert java, f"no DynamoDB Local under the server: {pids}"

        os.kill(proc.pid, signal.SIGINT)  # once
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline and (proc.poll() is None or any(_alive(p) for p in pids)):
            _read(main, out)
            time.sleep(0.2)
        _read(main, out)
        text = out.decode(errors="replace")
        assert proc.poll() is not None, f"one Ctrl-C did not stop JupyterLab:\n{text[-3000:]}"
        assert "(y/[n])" not in text, "JupyterLab asked a question instead of stopping"
        left = sorted(p for p in pids if _alive(p))
        assert not left, f"still running after JupyterLab stopped: {left}"
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(10)
        for pid in pids:
            if _alive(pid):
                os.kill(pid, signal.SIGKILL)
        os.close(main)

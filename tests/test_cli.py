"""The command line: `python -m labkit doctor | install | lab`."""

from __future__ import annotations

import re
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from labkit.__main__ import _free_loopback_port, jupyter_command, jupyter_environment
from labkit.backend._server import _answers

ROOT = Path(__file__).resolve().parents[1]


def test_jupyter_listens_on_loopback_with_the_token_in_its_environment():
    cmd = jupyter_command(8888, Path("workspace"), as_root=False)
    assert "--ServerApp.ip=127.0.0.1" in cmd
    assert "--ServerApp.port=8888" in cmd
    assert "--ServerApp.port_retries=0" in cmd  # the printed address must be the real one
    assert "--notebook-dir=workspace" in cmd
    assert "--allow-root" not in cmd
    # the command line is readable by every local user; the token goes where jupyter_server
    # reads it by default (tests/test_workspace.py starts the server and reads /proc)
    assert not any("token" in arg.lower() for arg in cmd)
    env = jupyter_environment("abc123", {"PATH": "/bin"})
    assert env == {"PATH": "/bin", "JUPYTER_TOKEN": "abc123"}


def test_root_gets_allow_root_and_nobody_else_does():
    as_root = jupyter_command(8888, Path("workspace"), as_root=True)
    assert as_root[-1] == "--allow-root"
    assert as_root[:-1] == jupyter_command(8888, Path("workspace"), as_root=False)


def test_free_loopback_port_skips_a_taken_one():
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        port = taken.getsockname()[1]
        taken.listen()
        assert _free_loopback_port(port) != port


def _run(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "labkit", *args],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env=env,
        timeout=120,
        check=False,
    )


def test_doctor_fails_with_a_fix_when_the_jar_folder_is_wrong(tmp_path):
    import os

    env = {**os.environ, "LABKIT_DYNAMODB_LOCAL": str(tmp_path)}
    env.pop("LABKIT_ENDPOINT_URL", None)
    result = _run("doctor", env=env)
    assert result.returncode == 1
    assert "FAIL  DynamoDB Local" in result.stdout
    assert f"{tmp_path}" in result.stdout and "fix:" in result.stdout
    assert "Traceback" not in result.stdout + result.stderr


def _dynamodb_local_on_port(port: int) -> list[int]:
    """Pids of DynamoDB Local processes started with ``-port <port>`` (any owner)."""
    pids = []
    for proc in Path("/proc").iterdir():
        try:
            args = (proc / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if (
            proc.name.isdigit()
            and b"DynamoDBLocal.jar" in b" ".join(args)
            and str(port).encode() in args
        ):
            pids.append(int(proc.name))
    return pids


@pytest.mark.dynamodb_local
def test_doctor_passes_and_leaves_no_server_behind():
    import os

    env = {k: v for k, v in os.environ.items() if not k.startswith("LABKIT_")}
    result = _run("doctor", env=env)
    assert result.returncode == 0, result.stdout + result.stderr
    for name in (
        "Python",
        "Java",
        "DynamoDB Local",
        "Endpoint",
        "Local Kinesis",
        "jupyterlab",
        "ipywidgets",
    ):
        assert any(
            line.startswith("ok") and f" {name} " in line for line in result.stdout.splitlines()
        ), (name, result.stdout)
    match = re.search(r"http://127\.0\.0\.1:(\d+) answers", result.stdout)
    assert match, result.stdout
    port = int(match.group(1))
    assert not _answers(port), "doctor's DynamoDB Local still answers after doctor exited"
    assert _dynamodb_local_on_port(port) == [], "doctor left its DynamoDB Local running"


def test_an_unknown_command_is_a_usage_error():
    result = _run("frobnicate")
    assert result.returncode == 2
    assert "invalid choice" in result.stderr


def test_doctor_says_when_the_local_kinesis_cannot_start(monkeypatch: pytest.MonkeyPatch) -> None:
    """Without moto's server mode the doctor's Kinesis row fails with the install fix."""
    import importlib.util

    from labkit.teach import _doctor

    real = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util, "find_spec", lambda name, *a: None if name == "flask_cors" else real(name)
    )
    row = next(c for c in _doctor.doctor(endpoint=False).checks if c.name == "Local Kinesis")
    assert not row.ok and "flask_cors" in row.found and "install" in row.fix

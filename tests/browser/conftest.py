"""Fixtures of the browser suite: a private JupyterLab and Chromium, always stopped at the end.

See _browser.py for what is private and why.
"""

from __future__ import annotations

import os
import signal
import subprocess
import urllib.error
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from _browser import (
    CHROMIUM_ARGS,
    NOTEBOOKS,
    ROOT,
    Jupyter,
    _configure_lab,
    _private_dirs,
    _stop,
    _wait_until_up,
    chromium,
)

from labkit.__main__ import _free_loopback_port, jupyter_command, jupyter_environment
from labkit.teach._workspace import sync

if TYPE_CHECKING:
    from playwright.sync_api import BrowserContext


@pytest.fixture(scope="session", autouse=True)
def _teardown_on_sigterm() -> Iterator[None]:
    """A SIGTERM (a CI timeout, `kill`) still runs the fixtures' teardown: no server left."""

    def interrupt(signum: int, frame: object) -> None:
        raise KeyboardInterrupt(f"signal {signum}")

    previous = signal.signal(signal.SIGTERM, interrupt)
    yield
    signal.signal(signal.SIGTERM, previous)


def _git_status() -> str | None:
    try:
        return subprocess.run(
            ["git", "status", "--porcelain=v1", "--untracked-files=all"],
            cwd=ROOT,
            capture_output=True,
            text=True,
            check=True,
        ).stdout
    except (OSError, subprocess.CalledProcessError):
        return None  # not a git checkout


@pytest.fixture(scope="session", autouse=True)
def _project_files_untouched() -> Iterator[None]:
    """Running every lesson in JupyterLab writes only into its workspace: git sees no change in
    the project (`make screenshots` excepted: it refreshes docs/screenshots/ on purpose)."""
    before = _git_status()
    yield
    if before is not None and os.environ.get("LABKIT_README_SCREENSHOTS") != "1":
        assert _git_status() == before, "the browser session changed files of the project"


@pytest.fixture(scope="session")
def private(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    return _private_dirs(tmp_path_factory.mktemp("browser"))


@pytest.fixture(scope="session")
def jupyter(private: dict[str, Path]) -> Iterator[Jupyter]:
    served = private["notebooks"]
    sync(served, source=NOTEBOOKS)  # a learner's workspace, made as `make lab` makes it
    _configure_lab(private["config"])
    port = _free_loopback_port(18888)
    token = os.urandom(24).hex()
    base = {
        **os.environ,
        "HOME": str(private["home"]),
        "JUPYTER_CONFIG_DIR": str(private["config"]),
        "JUPYTER_DATA_DIR": str(private["data"]),
        "JUPYTER_RUNTIME_DIR": str(private["runtime"]),
        "IPYTHONDIR": str(private["ipython"]),
        "XDG_CACHE_HOME": str(private["home"] / ".cache"),
        "XDG_CONFIG_HOME": str(private["home"] / ".config"),
        "PYTHONUNBUFFERED": "1",
    }
    env = jupyter_environment(token, base)  # as `make lab`: the token is not on the command line
    command = jupyter_command(port, served, as_root=os.geteuid() == 0)
    command += ["--ServerApp.open_browser=False", "--LabApp.news_url=None"]
    log = private["runtime"] / "jupyterlab.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(
            command,
            env=env,
            cwd=served,
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
    lab = Jupyter(f"http://127.0.0.1:{port}", token, served, log)
    try:
        _wait_until_up(proc, lab)
        yield lab
    finally:
        try:
            if proc.poll() is None:
                lab.shutdown_kernels()
        except (urllib.error.URLError, OSError):
            pass
        _stop(proc)


@pytest.fixture(scope="session")
def browser(private: dict[str, Path]) -> Iterator[BrowserContext]:
    env = {
        **os.environ,
        "HOME": str(private["home"]),
        "XDG_CACHE_HOME": str(private["home"] / ".cache"),
        "XDG_CONFIG_HOME": str(private["home"] / ".config"),
    }
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        context = playwright.chromium.launch_persistent_context(
            str(private["chromium"]),  # a fresh --user-data-dir
            executable_path=chromium(),
            headless=True,
            args=[a for a in CHROMIUM_ARGS if a != "--headless"],  # headless=True adds it
            env=env,
            viewport={"width": 1280, "height": 900},
            device_scale_factor=1,
        )
        try:
            yield context
        finally:
            context.close()

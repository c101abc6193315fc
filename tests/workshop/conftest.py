"""Fixtures of ``make test-workshop``: a real workshop (``python -m labkit.workshop start``) for
two learners in a temporary classroom, and headless Chromium; both always stopped at the end.

The hub is started by the same command ``make workshop`` runs, and stopped as a teacher stops it
(SIGINT, i.e. Ctrl-C); the test that stops it checks that nothing it started is left running.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "tests" / "browser"))

from _browser import CHROMIUM_ARGS, chromium  # noqa: E402

from labkit.workshop._settings import Settings, load  # noqa: E402

SCREENSHOTS = Path(os.environ.get("LABKIT_SCREENSHOTS", ROOT / ".cache" / "browser-screenshots"))


@dataclass
class Workshop:
    """A running workshop: its settings, the `start` process and what it printed."""

    settings: Settings
    proc: subprocess.Popen[str]
    output: list[str]

    def stop(self, timeout: float = 150) -> str:
        """Ctrl-C, as the teacher does; the rest of what `start` printed."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
        rest, _ = self.proc.communicate(timeout=timeout)
        self.output.append(rest)
        return "".join(self.output)


@pytest.fixture(scope="session", autouse=True)
def _teardown_on_sigterm() -> Iterator[None]:
    def interrupt(signum: int, frame: object) -> None:
        raise KeyboardInterrupt(f"signal {signum}")

    previous = signal.signal(signal.SIGTERM, interrupt)
    yield
    signal.signal(signal.SIGTERM, previous)


@pytest.fixture(scope="session")
def workshop(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Workshop]:
    room = tmp_path_factory.mktemp("classroom")
    command = [sys.executable, "-m", "labkit.workshop", "start", "--users", "2"]
    command += ["--classroom", str(room), "--port", str(_free_port())]
    proc = subprocess.Popen(
        command,
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
        text=True,
        start_new_session=True,  # our Ctrl-C goes to it only when we send it
    )
    output: list[str] = []
    try:
        assert proc.stdout is not None
        deadline = time.monotonic() + 180
        while time.monotonic() < deadline:
            line = proc.stdout.readline()
            if not line and proc.poll() is not None:
                pytest.fail(f"the workshop did not start:\n{''.join(output)}", pytrace=False)
            output.append(line)
            if "Press Ctrl-C" in line:
                break
        else:
            pytest.fail(f"the workshop did not start in 180 s:\n{''.join(output)}")
        running = Workshop(load(room / ".hub" / "settings.json"), proc, output)
        yield running
    finally:
        if proc.poll() is None:
            Workshop(None, proc, output).stop()  # type: ignore[arg-type]


def _free_port() -> int:
    import socket

    for port in range(18000, 18100):
        with socket.socket() as sock:
            try:
                sock.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    raise RuntimeError("no free port from 18000")


@pytest.fixture(scope="session")
def browser(tmp_path_factory: pytest.TempPathFactory) -> Iterator[object]:
    home = tmp_path_factory.mktemp("chromium-home")
    env = {**os.environ, "HOME": str(home), "XDG_CONFIG_HOME": str(home / ".config")}
    env["XDG_CACHE_HOME"] = str(home / ".cache")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(
            executable_path=chromium(),
            headless=True,
            args=[a for a in CHROMIUM_ARGS if a != "--headless"],
            env=env,
        )
        try:
            yield launched
        finally:
            launched.close()


def save(page: object, name: str) -> Path:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"workshop-{re.sub(r'[^a-z0-9.-]+', '-', name)}"
    page.screenshot(path=str(path), full_page=False)  # type: ignore[attr-defined]
    return path

"""The browser suite's machinery: a private JupyterLab and Debian's Chromium driven by Playwright.

Everything runs as a learner's `make lab` does, with nothing written outside temporary folders:

* JupyterLab on a free 127.0.0.1 port with a fresh token in its environment (``python -m labkit
  lab``'s command and environment), serving a temporary learner's workspace made as ``make lab``
  makes one (``labkit.teach._workspace.sync``); JupyterLab saves what it runs there, and the
  suite checks at the end that git sees no change in the project;
* HOME, Jupyter's config, data and runtime folders, IPython's folder and Chromium's profile all in
  temporary folders; in that private config, JupyterLab's announcements plugin is disabled (its
  toast would cover the page) and notebooks are not windowed (every cell is rendered, so that each
  one can be checked);
* Chromium is the system's (``executable_path``): Playwright never downloads a browser here.

Both processes are stopped at the end of the session, whatever happened.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from playwright.sync_api import Page

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))


# The notebooks a learner opens (`make lab`); LABKIT_BROWSER_NOTEBOOKS points elsewhere (a fresh
# learner copy made with labkit.teach._notebooks.learner_copy, say).
NOTEBOOKS = Path(os.environ.get("LABKIT_BROWSER_NOTEBOOKS", ROOT / "notebooks" / "learner"))
# One screenshot per lesson, and the lesson 01 pictures, every run (git-ignored).
SCREENSHOTS = Path(os.environ.get("LABKIT_SCREENSHOTS", ROOT / ".cache" / "browser-screenshots"))
# `make screenshots` sets this to refresh the README's pictures.
README_SCREENSHOTS = ROOT / "docs" / "screenshots"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
ANNOUNCEMENTS = "@jupyterlab/apputils-extension:announcements"


def chromium() -> str:
    for name in ("chromium", "chromium-browser"):
        if found := shutil.which(name):
            return found
    pytest.fail(
        "Debian's chromium is not installed. Fix: run `make test-browser` (it installs it with "
        "apt-get), or `apt-get install -y chromium fonts-noto-color-emoji`.",
        pytrace=False,
    )


@dataclass
class Jupyter:
    """A running JupyterLab: where it listens, its token, and the folder it serves."""

    url: str
    token: str
    root: Path
    log: Path

    def api(self, method: str, path: str) -> object:
        request = urllib.request.Request(
            f"{self.url}{path}", method=method, headers={"Authorization": f"token {self.token}"}
        )
        with urllib.request.urlopen(request, timeout=30) as response:
            body = response.read()
        return json.loads(body) if body else None

    def shutdown_kernels(self) -> None:
        """Stop every kernel (each one runs its own DynamoDB Local)."""
        for session in self.api("GET", "/api/sessions") or []:  # type: ignore[union-attr]
            self.api("DELETE", f"/api/sessions/{session['id']}")


def _private_dirs(base: Path) -> dict[str, Path]:
    names = ["home", "config", "data", "runtime", "ipython", "chromium", "notebooks"]
    dirs = {name: base / name for name in names}
    for folder in dirs.values():
        folder.mkdir(parents=True, exist_ok=True)
    return dirs


def _configure_lab(config: Path) -> None:
    """The private Jupyter config: no announcements toast, every cell rendered."""
    labconfig = config / "labconfig"
    labconfig.mkdir(parents=True, exist_ok=True)
    (labconfig / "page_config.json").write_text(
        json.dumps({"disabledExtensions": {ANNOUNCEMENTS: True}})
    )
    settings = config / "lab" / "user-settings" / "@jupyterlab" / "notebook-extension"
    settings.mkdir(parents=True, exist_ok=True)
    (settings / "tracker.jupyterlab-settings").write_text(json.dumps({"windowingMode": "none"}))


def _wait_until_up(proc: subprocess.Popen[bytes], jupyter: Jupyter, timeout: float = 90) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            pytest.fail(
                f"JupyterLab exited with {proc.returncode}:\n{jupyter.log.read_text()[-3000:]}",
                pytrace=False,
            )
        try:
            jupyter.api("GET", "/api/status")
            return
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            time.sleep(0.3)
    pytest.fail(f"JupyterLab did not answer in {timeout:.0f} s:\n{jupyter.log.read_text()[-3000:]}")


def _stop(proc: subprocess.Popen[bytes]) -> None:
    """Stop a process started in its own session, and everything in its process group."""
    if proc.poll() is None:
        try:
            os.killpg(proc.pid, signal.SIGTERM)
        except ProcessLookupError:
            return
        try:
            proc.wait(20)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(10)


# The input prompts of the open notebook's code cells: "[ ]:", "[*]:" or "[n]:".
_PROMPTS = """
() => {
  const panel = document.querySelector('.jp-NotebookPanel:not(.lm-mod-hidden)');
  if (!panel) return [];
  return [...panel.querySelectorAll('.jp-CodeCell .jp-InputArea .jp-InputPrompt')]
    .map(p => p.textContent.trim());
}
"""


def run_all(page: Page, name: str) -> None:
    """Run → Run All Cells (JupyterLab has no default shortcut for it), and see it start."""
    for _ in range(2):  # a click that lands while the page is still settling is tried again
        page.locator(".lm-MenuBar-itemLabel", has_text=re.compile(r"^Run$")).click()
        page.locator(".lm-Menu-itemLabel", has_text=re.compile(r"^Run All Cells$")).click()
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            prompts: Any = page.evaluate(_PROMPTS) or []
            if any(p not in ("[ ]:", "") for p in prompts):
                return
            time.sleep(0.3)
        page.keyboard.press("Escape")
    pytest.fail(f"{name}: Run → Run All Cells did not start any cell", pytrace=False)

"""What a learner sees first: `python -m labkit lab`, the address it prints, opened in Chromium.

Unlike the rest of the suite (whose JupyterLab has the announcements plugin disabled in its
private config), this JupyterLab is started by ``python -m labkit lab`` itself with nothing
switched off by the test, so what the page shows comes from what labkit ships: the contents page
(the workspace's README.md) open in the main area, rendered by Markdown Preview, with each
lesson's time; no Launcher; no notification asking about Jupyter news. The settings behind it
are also read back from JupyterLab's settings API, the one the page reads them from.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from _browser import SCREENSHOTS, Jupyter, _stop, _wait_until_up

from labkit.__main__ import _free_loopback_port
from labkit.teach._jupyterlab import jupyterlab_start

try:
    from playwright.sync_api import BrowserContext, expect
except ImportError as missing:  # a failure, not a skip
    raise ImportError(
        f"Playwright is not installed ({missing}). Fix: run `make test-browser`."
    ) from missing

_ADDRESS = re.compile(r"labkit: JupyterLab on (http://127\.0\.0\.1:\d+)(/\S*)\?token=([0-9a-f]+)")


@pytest.fixture(scope="module")
def learners_lab(private: dict[str, Path]) -> Iterator[tuple[Jupyter, str]]:
    """`python -m labkit lab` on a free port, in private folders; (server, printed address)."""
    base = private["home"].parent / "opening"
    dirs = {n: base / n for n in ("home", "config", "data", "runtime", "ipython", "ws")}
    for folder in dirs.values():
        folder.mkdir(parents=True, exist_ok=True)
    env = {k: v for k, v in os.environ.items() if k != "JUPYTER_TOKEN"}
    env |= {
        "HOME": str(dirs["home"]),
        "JUPYTER_CONFIG_DIR": str(dirs["config"]),
        "JUPYTER_DATA_DIR": str(dirs["data"]),
        "JUPYTER_RUNTIME_DIR": str(dirs["runtime"]),
        "IPYTHONDIR": str(dirs["ipython"]),
        "XDG_CACHE_HOME": str(dirs["home"] / ".cache"),
        "XDG_CONFIG_HOME": str(dirs["home"] / ".config"),
        "PYTHONUNBUFFERED": "1",
        "BROWSER": "true",  # jupyter_server opens a browser by default: this one does nothing
    }
    port = _free_loopback_port(18988)
    log = dirs["runtime"] / "labkit-lab.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "labkit",
                "lab",
                "--port",
                str(port),
                "--workspace",
                str(dirs["ws"]),
            ],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
    try:
        deadline = time.monotonic() + 60
        while not (found := _ADDRESS.search(log.read_text())) and proc.poll() is None:
            if time.monotonic() > deadline:
                break
            time.sleep(0.2)
        assert found, f"`python -m labkit lab` printed no address:\n{log.read_text()[-3000:]}"
        url, path, token = found.groups()
        lab = Jupyter(url, token, dirs["ws"], log)
        _wait_until_up(proc, lab)
        yield lab, f"{url}{path}?token={token}"
    finally:
        try:
            if proc.poll() is None:
                lab.shutdown_kernels()
        except (NameError, urllib.error.URLError, OSError):
            pass
        _stop(proc)


def test_the_printed_address_opens_the_contents_page_rendered_and_nothing_else(
    learners_lab: tuple[Jupyter, str], browser: BrowserContext
):
    lab, address = learners_lab
    assert address.startswith(f"{lab.url}{jupyterlab_start().default_url}?token=")
    # the settings the page gets: JupyterLab merges the overrides into each plugin's schema
    # defaults (the "settings" part of the answer holds only what the user changed: nothing)
    for plugin, values in jupyterlab_start().settings.items():
        answer = lab.api("GET", f"/lab/api/settings/{plugin}")
        defaults = {k: v.get("default") for k, v in answer["schema"]["properties"].items()}  # type: ignore[index]
        assert {k: defaults[k] for k in values} == values, plugin
        assert answer["settings"] == {}, plugin  # type: ignore[index]

    page = browser.new_page()
    try:
        page.goto(address)
        main = page.locator("#jp-main-dock-panel")
        rendered = main.locator(".jp-RenderedMarkdown h1")
        expect(rendered).to_have_text(re.compile("DynamoDB Streams Lab: contents"), timeout=90_000)
        # a late Launcher or toast would come once the layout is restored: give it time
        page.wait_for_timeout(3000)
        tabs = page.locator("#jp-main-dock-panel .lm-TabBar-tab")
        titles = [t.strip() for t in tabs.all_inner_texts()]
        assert titles == ["README.md"], f"tabs open in the main area: {titles}"
        assert page.locator(".jp-Launcher").count() == 0, "the Launcher is open"
        assert main.locator(".jp-FileEditor").count() == 0, "README.md opened as text"
        text = main.inner_text()
        assert "do not edit" not in text.lower() and "generated by" not in text.lower()
        for line in (lab.root / "README.md").read_text().splitlines():
            if line.startswith("- [12 "):
                minutes = re.search(r"about (\d+) min", line)
                assert minutes and f"about {minutes.group(1)} min" in text
        assert re.search(r"\d+ lessons, about [\d.]+ hours in all", text), text[:400]
        assert page.locator(".Toastify__toast").count() == 0, (
            "a notification is shown: "
            + " | ".join(page.locator(".Toastify__toast").all_inner_texts())
        )
        assert "Jupyter news" not in page.inner_text("body")
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(SCREENSHOTS / "opening-contents-page.png"))
        # a lesson's link opens the lesson
        main.get_by_role("link", name=re.compile(r"^01 · ")).click()
        expect(page.locator(".jp-NotebookPanel:not(.lm-mod-hidden)")).to_have_count(
            1, timeout=60_000
        )
        titles = [t.strip() for t in tabs.all_inner_texts()]
        assert "01-stream-processing-flow.ipynb" in titles, titles
    finally:
        page.close()

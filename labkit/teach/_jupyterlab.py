"""How JupyterLab opens for a learner: on the contents page, rendered, with nothing in the way.

One place says it, :func:`jupyterlab_start`, for every way the lab is served: ``make lab``
(``python -m labkit lab``), the browser suite, and a JupyterHub that spawns one JupyterLab per
learner (``Spawner.default_url`` and the settings below, written into the image's or the venv's
JupyterLab folder with :func:`install_settings`).

* **Where it opens**: ``default_url`` is ``/lab/tree/README.md``, the workspace's contents page
  (``python -m labkit notebooks`` writes it, ``make lab`` copies it in). JupyterLab's tree URL
  opens that file in the main area when the page loads, so the Launcher (which JupyterLab opens
  only when the main area is empty) does not appear.
* **Rendered**: ``@jupyterlab/docmanager-extension:plugin`` ``defaultViewers`` makes Markdown
  files open in *Markdown Preview* (links to the lessons work there); *Open With → Editor*
  still edits one.
* **No news pop-up**: ``@jupyterlab/apputils-extension:notification`` ``fetchNews: "false"``
  (the default, ``"none"``, asks the learner with a toast over the page whether to fetch news
  from the internet) and ``checkForUpdates: false`` (no request to a website at start).
* **Widgets survive a restart**: ``@jupyter-widgets/jupyterlab-manager:plugin``
  ``saveState: true`` saves each widget's state into the notebook when it is saved, so a quiz or
  a monitor re-renders from the file after a server restart instead of "model not found".

Why an ``overrides.d`` file and not ``overrides.json``: JupyterLab (jupyterlab_server's
``_get_overrides``) reads default-setting overrides from ``<app settings>/overrides.d/*.json``
("many, namespaced by package") and then ``<app settings>/overrides.json`` ("singleton, owned by
the user"), later ones winning. labkit owns ``overrides.d/labkit.json`` whole, so writing it is
idempotent with nothing to merge, and whatever an administrator put in ``overrides.json``, or a
learner sets in the Settings Editor (user settings), still wins over labkit's defaults. The app
settings folder is ``<JupyterLab's app dir>/settings``: ``$JUPYTERLAB_DIR``, else
``<sys.prefix>/share/jupyter/lab`` (``jupyterlab.commands.get_app_dir``), so in the project's
``.venv`` for ``make lab``. Command-line options cannot carry JupyterLab *settings* (only the
server's traits), so ``default_url`` alone goes on the command line (``--LabApp.default_url``).
"""

from __future__ import annotations

import json
import os
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

__all__ = ["START_PAGE", "LabStart", "install_settings", "jupyterlab_start", "settings_file"]

START_PAGE = "README.md"  # the contents page, at the top of the learner's workspace

_SETTINGS: dict[str, dict[str, Any]] = {
    "@jupyterlab/docmanager-extension:plugin": {"defaultViewers": {"markdown": "Markdown Preview"}},
    "@jupyterlab/apputils-extension:notification": {
        "fetchNews": "false",
        "checkForUpdates": False,
    },
    "@jupyter-widgets/jupyterlab-manager:plugin": {"saveState": True},
}


@dataclass(frozen=True)
class LabStart:
    """What a learner's JupyterLab needs to open on the contents page.

    ``settings``: JupyterLab default-setting overrides (plugin id -> settings), as an
    ``overrides.d/*.json`` or ``overrides.json`` file holds them. ``default_url``: the path to
    open, relative to the server's base URL (``c.Spawner.default_url`` on JupyterHub).
    """

    settings: dict[str, dict[str, Any]] = field(default_factory=dict)
    default_url: str = f"/lab/tree/{START_PAGE}"

    def server_options(self) -> list[str]:
        """The command-line options of ``jupyter lab`` that go with the settings."""
        return [f"--LabApp.default_url={self.default_url}"]


def jupyterlab_start() -> LabStart:
    """The settings and start URL of every learner's JupyterLab (``make lab``, JupyterHub).

    Introduced in README.md ("Two commands").
    """
    return LabStart(
        settings=json.loads(json.dumps(_SETTINGS)), default_url=f"/lab/tree/{START_PAGE}"
    )


def settings_file(app_dir: str | Path | None = None) -> Path:
    """Where labkit's overrides go: ``<app dir>/settings/overrides.d/labkit.json``; the app dir
    is found as ``jupyterlab.commands.get_app_dir`` finds it (not imported: it costs 1.5 s)."""
    if app_dir is None:
        env = os.environ.get("JUPYTERLAB_DIR")
        app_dir = Path(env).resolve() if env else Path(sys.prefix, "share", "jupyter", "lab")
    return Path(app_dir) / "settings" / "overrides.d" / "labkit.json"


def install_settings(app_dir: str | Path | None = None) -> Path | None:
    """Write labkit's JupyterLab settings if they are missing or different; return the file
    written, or None when it was already up to date (so every ``make lab`` may call it)."""
    path = settings_file(app_dir)
    text = json.dumps(jupyterlab_start().settings, indent=2, sort_keys=True) + "\n"
    try:
        if path.read_text() == text:
            return None
    except OSError:
        pass
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.part")
    tmp.write_text(text)
    os.replace(tmp, path)  # whole or not at all: JupyterLab may be reading it
    return path

"""Where labkit keeps things: one cache folder for what it downloads, one workspace for the
learner's notebooks; both git-ignored."""

from __future__ import annotations

import os
from pathlib import Path

__all__ = ["cache_dir", "project_root", "workspace_dir"]


def project_root() -> Path | None:
    """The repository folder when labkit runs from a checkout (``pip install -e .``), else None."""
    here = Path(__file__).resolve().parents[1]
    return here if (here / "pyproject.toml").is_file() and (here / "notebooks").is_dir() else None


def cache_dir() -> Path:
    """``$LABKIT_CACHE``, else ``<repo>/.cache`` in a checkout, else ``~/.cache/labkit``."""
    if env := os.environ.get("LABKIT_CACHE"):
        return Path(env).expanduser()
    root = project_root()
    if root is not None:
        return root / ".cache"
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "labkit"


def workspace_dir() -> Path:
    """Where a learner's notebooks live: ``$LABKIT_WORKSPACE``, else ``<repo>/workspace`` in a
    checkout (git-ignored), else ``./workspace``."""
    if env := os.environ.get("LABKIT_WORKSPACE"):
        return Path(env).expanduser()
    root = project_root()
    return (root if root is not None else Path.cwd()) / "workspace"

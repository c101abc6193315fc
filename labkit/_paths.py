"""Where labkit keeps what it downloads: one cache folder, git-ignored."""

from __future__ import annotations

import os
from pathlib import Path

__all__ = ["cache_dir", "project_root"]


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

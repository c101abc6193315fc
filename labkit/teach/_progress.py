"""The progress bar labkit shows for a long call: tqdm's, a widget in a notebook, text on stderr
in a terminal (``tqdm.auto`` chooses; this module never imports ipywidgets or IPython itself).

The engine decides *when* a bar is due (``labkit._seams.Progress``); this is only *what* it is.
"""

from __future__ import annotations

import sys
from typing import Any

__all__ = ["bar"]


def bar(*, desc: str, total: int | None, initial: int, unit: str) -> Any:
    """A tqdm bar on stderr that stays when it closes."""
    from tqdm.auto import tqdm  # chooses the notebook widget or the terminal bar

    return tqdm(
        total=total,
        initial=initial,
        desc=desc,
        unit=unit,
        file=sys.stderr,
        dynamic_ncols=True,
        leave=True,
    )

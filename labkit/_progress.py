"""Progress bars for the few labkit calls that can take more than a couple of seconds.

Installing DynamoDB Local, ``lab.put_items`` with thousands of items and a long
``trigger.run_until_idle()`` show a bar; everything else stays silent. A bar appears only when
the call is really long: after ``DELAY_S`` seconds, and (where a count means something) only
once it has ``min_count`` items or records. So the short calls of a lesson never print one, and
notebook outputs stay the same on every run (nbval compares them, stderr included).

The bar is tqdm's (``tqdm.auto``): a widget in a notebook, text on stderr in a terminal. tqdm
chooses the widget by itself when it runs in a Jupyter kernel; this module never imports
ipywidgets or IPython.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from types import TracebackType
from typing import Any

__all__ = ["DELAY_S", "Progress"]

DELAY_S = 2.0  # a call shorter than this never shows a bar


class Progress:
    """A progress bar that shows itself only for a long operation.

    ``update(n)`` counts work done; ``tick()`` only lets the elapsed time show (for a wait with
    no count, such as a download tool running). Use it as a context manager so the bar closes.
    """

    def __init__(
        self,
        desc: str,
        total: int | None = None,
        *,
        unit: str = "it",
        min_count: int = 0,
        delay: float | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.desc = desc
        self.total = total
        self.unit = unit
        self.min_count = min_count
        self.delay = DELAY_S if delay is None else delay
        self.count = 0
        self._clock = clock
        self._began = clock()
        self._bar: Any = None

    @property
    def shown(self) -> bool:
        """Whether a bar has been shown (tests and callers may ask)."""
        return self._bar is not None

    def _due(self) -> bool:
        big = max(self.count, self.total or 0) >= self.min_count
        return big and self._clock() - self._began >= self.delay

    def _show(self) -> None:
        from tqdm.auto import tqdm  # chooses the notebook widget or the terminal bar

        self._bar = tqdm(
            total=self.total,
            initial=self.count,
            desc=self.desc,
            unit=self.unit,
            file=sys.stderr,
            dynamic_ncols=True,
            leave=True,
        )

    def update(self, n: int = 1) -> None:
        self.count += n
        if self._bar is not None:
            self._bar.update(n)
        elif self._due():
            self._show()

    def tick(self) -> None:
        if self._bar is not None:
            self._bar.refresh()
        elif self._due():
            self._show()

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()

    def __enter__(self) -> Progress:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

"""The places where the engine hands something to the presentation wing, without knowing it.

The engine (``labkit.backend``, ``labkit.esm``, ``labkit._lab``) must run in a plain script or a
test with no pandas, tqdm or Jupyter installed. Three of its answers are nevertheless shown to a
learner: a long call's progress bar, a log as a table, and a trigger's metrics. The engine asks
for them here:

* ``Progress`` counts work and, once a call is really long, asks the registered *bar factory*
  for a bar (``labkit.teach`` registers tqdm's; with none registered, nothing is shown);
* ``table(rows, columns)`` builds what ``trigger.log()`` returns: the registered *table
  factory*'s table (``labkit.teach`` registers ``LabTable``), or the plain list of row dicts;
* ``metrics(data, ...)`` builds what ``trigger.metrics()`` returns: the registered *metrics
  factory*'s frame (``labkit.teach`` registers ``MetricsTable``, which also draws a chart), or
  the plain rows.

``labkit/__init__.py`` registers them by dotted name, so the presentation wing is imported only
when a bar or a table is really wanted. A bar appears only when the call is really long: after
``DELAY_S`` seconds and (where a count means something) only once it has ``min_count`` items. So
the short calls of a lesson never print one, and notebook outputs stay the same on every run.
"""

from __future__ import annotations

import importlib
import time
from collections.abc import Callable
from types import TracebackType
from typing import Any

__all__ = ["DELAY_S", "Progress", "metrics", "register", "table"]

DELAY_S = 2.0  # a call shorter than this never shows a bar

# "module:function" names, imported on first use.
_factories: dict[str, str | None] = {"bar": None, "table": None, "metrics": None}


def register(
    *, bar: str | None = None, table: str | None = None, metrics: str | None = None
) -> None:
    """Name the functions that make a bar, a table and a metrics table
    (``"package.module:function"``)."""
    if bar is not None:
        _factories["bar"] = bar
    if table is not None:
        _factories["table"] = table
    if metrics is not None:
        _factories["metrics"] = metrics


def _factory(kind: str) -> Callable[..., Any] | None:
    name = _factories[kind]
    if name is None:
        return None
    module, _, function = name.partition(":")
    return getattr(importlib.import_module(module), function)  # type: ignore[no-any-return]


def table(rows: list[dict[str, Any]], columns: list[str]) -> Any:
    """``rows`` as the registered table factory's table with exactly ``columns``, in order."""
    make = _factory("table")
    if make is None:
        return [{column: row.get(column) for column in columns} for row in rows]
    return make(rows, columns)


def metrics(data: Any, **options: Any) -> Any:
    """A trigger's metrics (``_metrics.Metrics``) as the registered metrics factory shows them
    (``labkit.teach`` registers a pandas frame with a chart); with none registered, the plain
    rows of ``data.rows``."""
    make = _factory("metrics")
    if make is None:
        names = options.get("names", ())
        return data.rows(*names, period=options.get("period", 60))
    return make(data, **options)


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
        make = _factory("bar")
        if make is not None:
            self._bar = make(desc=self.desc, total=self.total, initial=self.count, unit=self.unit)

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

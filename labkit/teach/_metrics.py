"""What CloudWatch would show for a trigger, as a pandas frame over time and as a chart.

The numbers are the engine's (``labkit/esm/_metrics.py``: the datapoints a trigger's function and
event source mapping would emit, from what the trigger recorded, and their statistics per
period); this room only lays them out:

* ``MetricsTable``: what ``trigger.metrics()`` returns, a ``LabTable`` with one row per period
  (``Time (s)``: its start, in seconds after the trigger's first datapoint) and one column per
  metric with the statistic AWS views it with (``Invocations (Sum)``,
  ``IteratorAge (Maximum, ms)``). Counts show as whole numbers and a metric without a datapoint
  in a period as an empty cell, as CloudWatch has no value there; the frame itself keeps the
  numbers (NaN where empty) for pandas. ``.chart(...)`` draws it.
* ``MetricsChart``: one panel per metric over time, bars for a sum, points joined by a line for
  an average or a maximum, with an alarm's threshold when one is given. Its text (what nbval
  compares) is the same frame's columns.
* ``step_metrics``: ``trace.metrics()``, the same statistics over each step of a tracer.

Introduced in notebooks/13-operating-a-stream-consumer.ipynb.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import pandas as pd

from .._errors import TraceError, TriggerError
from ..esm._metrics import (
    BY_NAME,
    TIME_COLUMN,
    IteratorAgeAlarm,
    Metrics,
    column,
    statistics,
    truncate,
)
from ._display import LabTable
from ._picture import COLOURS, Picture, new_figure

if TYPE_CHECKING:
    from matplotlib.figure import Figure

    from ._tracer import Tracer

__all__ = ["MetricsChart", "MetricsTable", "metrics_table", "step_metrics"]

_MS_COLUMNS = {column(m.name) for m in BY_NAME.values() if m.unit == "Milliseconds"}


def _shown(value: Any) -> Any:
    """A cell as the table shows it: empty for no value, whole numbers without '.0'."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return ""
    if isinstance(value, float):
        return int(value) if value == int(value) else round(value, 2)
    return value


class MetricsTable(LabTable):
    """A trigger's CloudWatch metrics per period: a ``LabTable`` (so a pandas DataFrame) whose
    cells show as CloudWatch would (no value: empty; counts: whole), with ``chart()``.

    Introduced in notebooks/13-operating-a-stream-consumer.ipynb.
    """

    @property
    def _constructor(self) -> type[MetricsTable]:
        return MetricsTable

    def _display(self) -> LabTable:
        return LabTable(pd.DataFrame(self).astype(object).map(_shown))

    def _repr_html_(self) -> str:  # type: ignore[override]
        return self._display()._repr_html_()

    def __repr__(self) -> str:
        return repr(self._display())

    def chart(self, *names: str, alarm: IteratorAgeAlarm | None = None) -> MetricsChart:
        """The frame as a picture: one panel per metric (``names``: all its metrics by default),
        over time; ``alarm`` draws its threshold on the IteratorAge panel.

        Introduced in notebooks/13-operating-a-stream-consumer.ipynb.
        """
        if TIME_COLUMN not in self.columns:
            raise TriggerError(
                f"This table has no {TIME_COLUMN!r} column, so there is no time to draw along.",
                "chart the table trigger.metrics() returns: trigger.metrics().chart().",
            )
        metric_columns = [c for c in self.columns if c != TIME_COLUMN]
        if names:
            by_metric = {c.split(" (")[0]: c for c in metric_columns}
            missing = [n for n in names if n not in by_metric]
            if missing:
                raise TriggerError(
                    f"The table has no column for {', '.join(missing)}.",
                    f"name metrics it holds: {', '.join(by_metric)}.",
                )
            metric_columns = [by_metric[n] for n in names]
        period = self.attrs.get("period", 60)
        title = self.attrs.get("title", "CloudWatch metrics")
        return MetricsChart(
            title=title,
            period=period,
            times=tuple(float(t) for t in self[TIME_COLUMN]),
            series=tuple(
                (c, tuple(None if pd.isna(v) else float(v) for v in self[c]))
                for c in metric_columns
            ),
            threshold_ms=None if alarm is None else float(alarm.threshold_ms),
        )


def metrics_table(
    data: Metrics,
    *,
    names: Sequence[str] = (),
    period: float = 60,
    precision_ms: float | None = None,
) -> MetricsTable:
    """``trigger.metrics(...)``: the engine's statistics per period as a ``MetricsTable``."""
    wanted = data.wanted(names)
    columns = [TIME_COLUMN, *(column(n, s) for n, s in wanted)]
    rows = data.rows(*names, period=period)
    for row in rows:
        for key in _MS_COLUMNS & row.keys():
            row[key] = truncate(row[key], precision_ms)
    table = MetricsTable(pd.DataFrame(rows, columns=columns, dtype=float))
    table[TIME_COLUMN] = table[TIME_COLUMN].map(lambda t: _whole_seconds(round(t, 6)))
    shown = f"{period:g} s" if period != 60 else "1 minute"
    table.attrs.update(
        period=period,
        title=f"{data.table_name} stream -> {data.function_name}: CloudWatch metrics per {shown}",
    )
    return table


def _whole_seconds(value: float) -> float | int:
    return int(value) if value == int(value) else value


# -- the chart ---------------------------------------------------------------------------------
@dataclass(frozen=True, repr=False)
class MetricsChart(Picture):
    """Metrics over time, one panel each, as a CloudWatch dashboard graphs them.

    Introduced in notebooks/13-operating-a-stream-consumer.ipynb.
    """

    title: str
    period: float
    times: tuple[float, ...]
    series: tuple[tuple[str, tuple[float | None, ...]], ...]  # (column, value per period)
    threshold_ms: float | None = None

    def table(self) -> LabTable:
        frame = pd.DataFrame(
            {TIME_COLUMN: [_whole_seconds(t) for t in self.times]}
            | {name: list(values) for name, values in self.series}
        )
        return LabTable(frame.astype(object).map(_shown))

    def figure(self) -> Figure:
        from matplotlib.ticker import FuncFormatter, MaxNLocator, MultipleLocator

        count = max(len(self.series), 1)
        figure = new_figure(7.5, 0.6 + 1.55 * count)
        figure.suptitle(self.title, fontsize=10, x=0.01, ha="left")
        axes = figure.subplots(count, 1, sharex=True, squeeze=False)[:, 0]
        width = self.period * 0.7
        for k, (ax, (name, values)) in enumerate(zip(axes, self.series, strict=False)):
            colour = COLOURS["series"][k % len(COLOURS["series"])]
            xs = [t for t, v in zip(self.times, values, strict=True) if v is not None]
            ys = [v for v in values if v is not None]
            if "(Sum" in name:
                ax.bar(xs, ys, width=width, align="edge", color=colour, alpha=0.85)
                # a datapoint of 0 (an empty poll) is a value too: a dash on the axis
                zeros = [x + width / 2 for x, y in zip(xs, ys, strict=True) if y == 0]
                ax.plot(zeros, [0] * len(zeros), ls="none", marker="_", ms=12, mew=2, color=colour)
            else:
                middle = [x + self.period / 2 for x in xs]
                ax.plot(middle, ys, marker="o", ms=4, lw=1.6, color=colour)
            ax.yaxis.set_major_locator(MaxNLocator(nbins=4, integer=True, steps=[1, 2, 5, 10]))
            top = max([*ys, 1])
            if self.threshold_ms is not None and name.startswith("IteratorAge"):
                top = max(top, self.threshold_ms)
                ax.axhline(self.threshold_ms, color=COLOURS["error"], lw=1.2, ls="--")
                ax.text(
                    self.times[0] if self.times else 0,
                    self.threshold_ms,
                    f" alarm threshold {self.threshold_ms:,.0f} ms",
                    color=COLOURS["error"],
                    fontsize=7,
                    va="bottom",
                )
            ax.set_ylim(0, top * 1.18)
            ax.set_title(name, fontsize=8.5, loc="left")
            ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:,.0f}"))
            ax.tick_params(labelsize=7)
            ax.grid(axis="y", color="#e6e6e6")
            for side in ("top", "right"):
                ax.spines[side].set_visible(False)
        end = (self.times[-1] if self.times else 0) + self.period
        axes[-1].set_xlim(min(self.times, default=0), end)
        if end / self.period <= 12:  # a tick at each period's start
            axes[-1].xaxis.set_major_locator(MultipleLocator(self.period))
        axes[-1].set_xlabel(
            f"seconds after the first datapoint (each period {self.period:g} s)", fontsize=8
        )
        return figure


# -- per step of a tracer ------------------------------------------------------------------
def step_metrics(
    tracer: Tracer, names: Sequence[str] = (), precision_ms: float | None = None
) -> LabTable:
    """``trace.metrics()``: for each step and each traced trigger that did something in it,
    the statistics of the datapoints the step made (the step as one period)."""
    if not tracer.steps:
        raise TraceError(
            "The tracer has no step yet, so no step has metrics.",
            "run a step first: with trace.step('...'): table.put_item(...).",
        )
    data = [t.metric_data() for t in tracer.triggers]
    wanted = data[0].wanted(names) if names else None
    rows: list[dict[str, Any]] = []
    columns: list[str] = ["Step", "Event", "Function"]
    for step in tracer.steps:
        for trigger, whole, (begin, end) in zip(tracer.triggers, data, step.clock, strict=True):
            asked = wanted or whole.wanted()
            window = whole.between(begin, end)
            stats = statistics(window.points, asked, period=math.inf, start=begin)
            if not stats or not any(
                v for k, v in stats[0].items() if k != TIME_COLUMN and v is not None
            ):
                continue  # nothing happened on this trigger in this step
            row = {"Step": step.number, "Event": step.event, "Function": trigger.function_name}
            for key, value in stats[0].items():
                if key == TIME_COLUMN:
                    continue
                row[key] = truncate(value, precision_ms) if key in _MS_COLUMNS else value
                if key not in columns:
                    columns.append(key)
            rows.append(row)
    frame = pd.DataFrame(rows, columns=columns)
    return LabTable(frame.astype(object).map(_shown))

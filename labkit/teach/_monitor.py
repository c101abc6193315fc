"""The live monitor: what a trigger running in the background delivers, as it happens.

``lk.monitor(trigger)`` shows, under the cell, a counter and a table of the latest records with
the invocation that carried each, refreshed in place a few times a second by a thread of its
own, and a Stop button. The counter also shows what an operator watches: the IteratorAge of the
latest batch (CloudWatch's metric, as ``trigger.metrics()`` computes it) and the records
delivered per second over the last ``RATE_WINDOW_S`` seconds. The refresh thread ends when Stop
is pressed, when ``monitor.stop()`` is called, or when the trigger stops; none is left behind.

The monitor reads only the trigger's public state (``running``, ``invocations``,
``poller_errors``); the engine knows nothing of it.
"""

from __future__ import annotations

import html
import threading
import time
from typing import TYPE_CHECKING, Any

from .._errors import TriggerError
from ..esm._invocations import Invocation
from ..esm._trigger import Trigger
from ._display import lab_table

if TYPE_CHECKING:
    import ipywidgets

__all__ = ["Monitor", "monitor"]

_COLUMNS = ["Invocation", "Event", "Keys", "Outcome"]
_WAIT_S = 30.0
RATE_WINDOW_S = 10.0  # records per second: over this many seconds of the trigger's clock


def _age_text(ms: float) -> str:
    return f"{ms:.0f} ms" if ms < 1000 else f"{ms / 1000:.1f} s"


def _keys(record: dict[str, Any]) -> str:
    keys = record.get("dynamodb", {}).get("Keys", {})
    return ", ".join(f"{name}={next(iter(value.values()))}" for name, value in sorted(keys.items()))


class Monitor:
    """A live view of a running trigger: counter, latest records, Stop button.

    Counts start when the monitor is made. ``wait(records=n)`` blocks until the monitor has
    shown ``n`` records; ``stop()`` (or the Stop button) stops the trigger and the refreshing.
    Its plain-text form never changes, so a notebook that shows it compares equal on every run.

    Introduced in notebooks/01-stream-processing-flow.ipynb.
    """

    def __init__(self, trigger: Trigger, *, rows: int = 8, interval: float = 0.25) -> None:
        import ipywidgets as w

        if not isinstance(trigger, Trigger):
            raise TriggerError(
                f"lk.monitor() watches a trigger, not {type(trigger).__name__}.",
                "pass the trigger made by lab.trigger(...): live = lk.monitor(trigger).",
            )
        if not trigger.running:
            raise TriggerError(
                f"The trigger on {trigger.table_name!r} is not running in the background, so "
                "there is nothing live to watch.",
                "call trigger.start() first, then lk.monitor(trigger).",
            )
        self.trigger = trigger
        self.rows = rows
        self.interval = interval
        self.refreshes = 0  # how many times the view was redrawn
        self.records_shown = 0  # records counted in the latest redraw
        self._first = len(trigger.invocations)
        self._began = trigger.clock()
        self._stop = threading.Event()
        self._shown = threading.Condition()
        self.counter = w.HTML()
        self.table = w.HTML()
        self.stop_button = w.Button(description="Stop", icon="stop", button_style="warning")
        self.stop_button.on_click(lambda _: self.stop())
        self.widget: ipywidgets.VBox = w.VBox(
            [w.HBox([self.stop_button, self.counter]), self.table]
        )
        self.refresh()
        self._thread: threading.Thread | None = threading.Thread(
            target=self._loop, name=f"labkit-monitor-{trigger.table_name}", daemon=True
        )
        self._thread.start()

    # -- state ----------------------------------------------------------------------------
    @property
    def running(self) -> bool:
        """Whether the monitor is still refreshing."""
        return self._thread is not None and self._thread.is_alive()

    def _invocations(self) -> list[Invocation]:
        return list(self.trigger.invocations)[self._first :]

    def operations(self, invocations: list[Invocation] | None = None) -> tuple[float | None, float]:
        """What the counter shows an operator: the IteratorAge (ms) of the latest batch the
        mapping sent (None before the first), and records delivered per second lately."""
        invocations = self._invocations() if invocations is None else invocations
        ages = [i.iterator_age_ms for i in invocations if i.iterator_age_ms is not None]
        now = self.trigger.clock()
        window = min(RATE_WINDOW_S, max(now - self._began, 1.0))
        recent = sum(len(i.records) for i in invocations if i.started >= now - window)
        return (ages[-1] if ages else None), recent / window

    # -- drawing --------------------------------------------------------------------------
    def refresh(self) -> None:
        """Redraw the counter and the table from the trigger's invocations now."""
        invocations = self._invocations()
        live = self.trigger.running and not self._stop.is_set()
        records = [(inv, rec) for inv in invocations for rec in inv.records]
        errors = len(self.trigger.poller_errors)
        state = "running" if live else "stopped"
        dot = "🟢" if live else "⏹️"
        age, rate = self.operations(invocations)
        self.counter.value = (
            f'<span class="labkit-monitor-counter" data-state="{state}" '
            f'data-records="{len(records)}" '
            f'data-iterator-age-ms="{"" if age is None else round(age)}" '
            f'data-records-per-second="{rate:.1f}">{dot} <b>{state}</b> · '
            f"<b>{len(records)}</b> record{'s' * (len(records) != 1)} in "
            f"<b>{len(invocations)}</b> invocation{'s' * (len(invocations) != 1)} "
            f"since the monitor started · IteratorAge "
            f"<b>{'none yet' if age is None else _age_text(age)}</b> · "
            f"<b>{rate:.1f}</b> records/s · "
            f"{html.escape(self.trigger.table_name)} stream → "
            f"{html.escape(self.trigger.function_name)}"
            + (f" · {errors} poller error(s): see trigger.poller_errors" if errors else "")
            + "</span>"
        )
        latest = records[-self.rows :]
        rows = [
            {
                "Invocation": inv.number,
                "Event": rec.get("eventName", ""),
                "Keys": _keys(rec),
                "Outcome": inv.outcome.value,
            }
            for inv, rec in reversed(latest)
        ]
        self.table.value = (
            lab_table(rows, _COLUMNS)._repr_html_()
            if rows
            else "<i>No records yet: write to the table and watch them arrive.</i>"
        )
        with self._shown:
            self.refreshes += 1
            self.records_shown = len(records)
            self._shown.notify_all()

    def _loop(self) -> None:
        while not self._stop.wait(self.interval):
            if not self.trigger.running:
                break
            self.refresh()
        self.refresh()  # the final state: stopped, with everything delivered

    # -- control --------------------------------------------------------------------------
    def wait(self, records: int, timeout: float = _WAIT_S) -> int:
        """Wait until the monitor has shown at least ``records`` records; returns how many.

        Introduced in notebooks/01-stream-processing-flow.ipynb.
        """
        deadline = time.monotonic() + timeout
        with self._shown:
            while self.records_shown < records:
                left = deadline - time.monotonic()
                if left <= 0 or not self.running:
                    break
                self._shown.wait(min(left, self.interval))
            shown = self.records_shown
        if shown < records:
            raise TriggerError(
                f"The monitor shows {shown} of the {records} records waited for"
                + (" and has stopped." if not self.running else f" after {timeout:.0f} s."),
                "check that the writes went to the trigger's table and that the trigger is "
                "running (trigger.poller_errors lists what went wrong in polling).",
            )
        return shown

    def stop(self) -> None:
        """Stop the trigger and the monitor (what the Stop button does); waits for both.

        Introduced in notebooks/01-stream-processing-flow.ipynb.
        """
        self._stop.set()
        self.trigger.stop()
        thread, self._thread = self._thread, None
        if thread is not None and thread is not threading.current_thread():
            thread.join()
        self.stop_button.disabled = True
        self.refresh()

    # -- display --------------------------------------------------------------------------
    def _repr_mimebundle_(self, **kwargs: Any) -> dict[str, Any]:
        bundle: dict[str, Any] = dict(self.widget._repr_mimebundle_(**kwargs) or {})
        bundle["text/plain"] = str(self)  # the same on every run (nbval compares it)
        return bundle

    def __str__(self) -> str:
        return (
            f"Live monitor: {self.trigger.table_name} stream -> {self.trigger.function_name}. "
            "Run this cell to watch it."
        )

    __repr__ = __str__


def monitor(trigger: Trigger, *, rows: int = 8, interval: float = 0.25) -> Monitor:
    """Watch a trigger that runs in the background: counter, latest records, Stop button.

    Start the trigger first (``trigger.start()``); make the monitor the cell's last line.

    Introduced in notebooks/01-stream-processing-flow.ipynb.
    """
    return Monitor(trigger, rows=rows, interval=interval)

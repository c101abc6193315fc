"""The timeline of a run: each record on its shard, and what the trigger did with it, in order.

Drawn from what the engine recorded, never by hand: the trigger's log
(``trigger.history.entries``: its invocations and discards in the order they happened, each
invocation with its lane, batch, bisect half, attempt and event) and, for a tracer, the part of
that log each step made (``StepTrace.spans``).

* Rows are the records, in shard order, labelled with a short sequence label (``#23``), their
  event name and key; a shaded band groups the records of one tumbling window.
* Columns are the invocations in order. Each invocation is a bar over the records it carried,
  coloured by how it ended; above it, what it was: ``try 2`` (a retry), ``half 2.1`` (a bisect
  half), ``final call`` (a window's last call), ``replay``, ``before step`` (the poll the tracer
  lets the trigger make before a step's body). A discard is a grey bar over the records given up.
* With ``parallelization_factor`` above 1 the lanes of a shard invoke at the same time, so the
  order of invocations *between* lanes (and their numbers in the log) changes from run to run.
  The columns are then each lane's 1st, 2nd, ... batch, the lanes side by side in each column:
  what is fixed on every run.

The same data is ``Timeline.table()``: one row per bar, which is also the picture's text.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from .._errors import TraceError
from ..esm._invocations import Discard, Invocation
from ..esm._options import TriggerConfig
from ..esm._trigger import Trigger
from ._display import LabTable, lab_table
from ._picture import COLOURS, Picture, seq_label

if TYPE_CHECKING:
    from matplotlib.figure import Figure

    from ._tracer import Tracer

__all__ = ["Mark", "Panel", "Row", "Timeline", "timeline"]

Entry = Invocation | Discard
# The options a timeline's title names when they differ from Lambda's defaults.
_OPTIONS = (
    "batch_size",
    "maximum_batching_window_in_seconds",
    "maximum_retry_attempts",
    "maximum_record_age_in_seconds",
    "bisect_batch_on_function_error",
    "function_response_types",
    "tumbling_window_in_seconds",
    "parallelization_factor",
)
_CONDITIONS = {"RetryAttemptsExhausted": "retries out", "RecordAgeExceeded": "too old"}


def _key_text(record: dict[str, Any]) -> str:
    keys = record.get("dynamodb", {}).get("Keys", {})
    return "/".join(str(next(iter(v.values()))) for _, v in sorted(keys.items()))


@dataclass(frozen=True)
class Row:
    """One record on its shard (``shard`` counts the shards from 1, in shard-id order)."""

    shard: int
    sequence_number: str
    event: str = ""
    key: str = ""
    lane: int = 0
    window: int | None = None

    @property
    def label(self) -> str:
        return seq_label(self.sequence_number)

    @property
    def text(self) -> str:
        return " ".join(p for p in (self.label, self.event, self.key) if p)


@dataclass(frozen=True)
class Mark:
    """One bar of the timeline: an invocation, a discard, or a step in which nothing ran."""

    slot: int  # its column, from 1
    kind: str  # "invocation", "discard" or "idle"
    lane: int = 0
    number: int | None = None  # the invocation's number in trigger.log()
    sequence_numbers: tuple[str, ...] = ()
    batch: int = 0
    bisect: tuple[int, ...] = ()
    attempt: int = 1
    outcome: str = ""
    window: int | None = None
    final: bool = False
    repair: str | None = None
    step: int | None = None
    before: bool = False
    condition: str = ""
    destination: str | None = None
    reported: tuple[str, ...] = ()  # the records a partial batch response reported failed

    @property
    def colour(self) -> str:
        return COLOURS["discarded" if self.kind == "discard" else self.outcome]

    @property
    def style(self) -> str:
        """How the bar is drawn: "discard", "final" (a window's final call), "repair" (a replay
        or redelivery), "idle" or "plain"."""
        if self.kind != "invocation":
            return self.kind
        return "final" if self.final else "repair" if self.repair else "plain"

    def tags(self, lanes: int) -> list[str]:
        """The words above the bar: what kind of call (or discard) it was."""
        if self.kind == "discard":
            where = f"→ {self.destination}" if self.destination else "dropped"
            return ["discarded", _CONDITIONS.get(self.condition, self.condition), where]
        tags = [self.repair] if self.repair else []
        if self.final:
            tags.append("final call")
        if self.bisect:
            tags.append("half " + ".".join(map(str, self.bisect)))
        if self.attempt > 1:
            tags.append(f"try {self.attempt}")
        if self.before:
            tags.append("before step")
        if lanes > 1 and not self.repair:
            tags.append(f"lane {self.lane}")
        return tags

    def batch_text(self) -> str:
        if self.kind == "idle" or self.repair or not self.batch:
            return ""
        half = f" half {'.'.join(map(str, self.bisect))}" if self.bisect else ""
        return f"{self.batch}{half}"

    def outcome_text(self) -> str:
        if self.kind == "idle":
            return "no invocation"
        if self.kind == "discard":
            where = f"sent to {self.destination}" if self.destination else "dropped"
            return f"discarded ({self.condition}), {where}"
        extra = [self.repair] if self.repair else []
        if self.reported:
            extra.append(" ".join(map(seq_label, self.reported)) + " reported")
        if self.final:
            extra.append("final call of the window")
        return self.outcome + (f" ({', '.join(extra)})" if extra else "")


@dataclass(frozen=True)
class Panel:
    """One trigger's part of a timeline: its records and its bars."""

    function: str
    table: str
    options: str
    lanes: int
    rows: tuple[Row, ...]
    marks: tuple[Mark, ...]

    def covered(self, mark: Mark) -> list[int]:
        """The indexes of the rows a bar covers: its records; for a window's final call (no
        record), the records of the window it closes, on its lane."""
        index = {r.sequence_number: i for i, r in enumerate(self.rows)}
        covered = sorted(index[s] for s in mark.sequence_numbers if s in index)
        if mark.final and not covered:
            covered = [
                i
                for i, r in enumerate(self.rows)
                if r.window == mark.window and (self.lanes == 1 or r.lane == mark.lane)
            ]
        return covered or [0]


@dataclass(frozen=True)
class Step:
    number: int
    event: str
    first: int  # its first and last column
    last: int


@dataclass(frozen=True, repr=False)
class Timeline(Picture):
    """The timeline of a trigger's run (``lk.timeline(trigger)``) or of a tracer's steps
    (``trace.timeline()``): records on their shard, batches, attempts, bisect halves, lanes,
    tumbling windows, discards and replays. Shows as a picture in JupyterLab; ``table()`` is the
    same data, one row per bar.

    Introduced in notebooks/01-stream-processing-flow.ipynb.
    """

    title: str
    panels: tuple[Panel, ...]
    steps: tuple[Step, ...] = ()
    width: int = 0  # columns

    def table(self) -> LabTable:
        """One row per bar, in column order: what the picture shows, as text."""
        lanes = max((p.lanes for p in self.panels), default=1)
        columns = ["Step"] if self.steps else []
        columns += ["Function"] if len(self.panels) > 1 else []
        columns += ["Lane"] if lanes > 1 else ["Invocation"]
        columns += ["Batch", "Attempt", "Records"]
        windows = any(m.window for p in self.panels for m in p.marks)
        columns += ["Window"] if windows else []
        columns += ["Outcome"]
        rows = []
        for panel in self.panels:
            for mark in panel.marks:
                records = [seq_label(s) for s in mark.sequence_numbers]
                rows.append(
                    {
                        "Step": mark.step,
                        "Function": panel.function,
                        "Lane": "" if mark.kind == "idle" else mark.lane,
                        "Invocation": mark.number or "",
                        "Batch": mark.batch_text(),
                        "Attempt": mark.attempt
                        if mark.kind == "invocation" and not mark.repair
                        else "",
                        "Records": " ".join(records) or ("none" if mark.kind != "idle" else ""),
                        "Window": mark.window or "",
                        "Outcome": mark.outcome_text(),
                        "_order": (mark.slot, mark.lane),
                    }
                )
        if lanes > 1:
            rows.sort(key=lambda r: r["_order"])
        return lab_table(rows, columns)

    def figure(self) -> Figure:
        from ._timeline_figure import draw

        return draw(self)


# -- building a timeline from the run ------------------------------------------------------
def _options(config: TriggerConfig) -> str:
    default = TriggerConfig()
    parts = []
    for name in _OPTIONS:
        value = getattr(config, name)
        if value != getattr(default, name):
            parts.append(f"{name}={list(value) if isinstance(value, tuple) else value!r}")
    if config.destination:
        parts.append(f"on failure: {config.destination}")
    return ", ".join(parts)


class _Builder:
    """One trigger's panel: the columns of its entries, then its rows and bars."""

    def __init__(self, trigger: Trigger) -> None:
        self.trigger = trigger
        self.lanes = trigger.config.parallelization_factor

    def columns(self, entries: Sequence[Entry]) -> tuple[list[int], int]:
        """Each entry's column, from 0, and how many columns they take."""
        if self.lanes == 1:
            return list(range(len(entries))), len(entries)
        used: dict[tuple[str, int], int] = defaultdict(int)
        out: list[int] = []
        for entry in entries:
            lane = (entry.shard_id, entry.lane)
            out.append(-1 if isinstance(entry, Invocation) and entry.repair else used[lane])
            used[lane] += 0 if out[-1] == -1 else 1
        width = max(used.values(), default=0)
        for i, column in enumerate(out):
            if column == -1:  # a repair is not one of a lane's batches: after them
                out[i], width = width, width + 1
        return out, width

    def panel(self, placed: list[tuple[Entry, int, int | None, bool]]) -> Panel:
        """``placed``: each entry with its column (from 1), step and before-flag."""
        shards = sorted({e.shard_id for e, *_ in placed})
        windows = sorted(
            {
                e.event["window"]["start"]
                for e, *_ in placed
                if isinstance(e, Invocation) and "window" in e.event
            }
        )
        shard_no = {s: i + 1 for i, s in enumerate(shards)}
        window_no = {w: i + 1 for i, w in enumerate(windows)}
        rows: dict[tuple[int, str], Row] = {}
        marks: list[Mark] = []
        for entry, column, step, before in placed:
            shard = shard_no[entry.shard_id]
            common = {
                "slot": column,
                "lane": entry.lane,
                "batch": entry.batch,
                "bisect": entry.bisect,
                "step": step,
                "before": before,
            }
            if isinstance(entry, Invocation):
                window = window_no.get(entry.event.get("window", {}).get("start"))
                for record in entry.records:
                    seq = record["dynamodb"]["SequenceNumber"]
                    row = Row(
                        shard, seq, record["eventName"], _key_text(record), entry.lane, window
                    )
                    rows.setdefault((shard, seq), row)
                marks.append(
                    Mark(
                        kind="invocation",
                        number=entry.number,
                        sequence_numbers=tuple(entry.sequence_numbers),
                        attempt=entry.attempt,
                        outcome=entry.outcome.value,
                        window=window,
                        final=bool(entry.event.get("isFinalInvokeForWindow")),
                        repair=entry.repair,
                        reported=_reported(entry),
                        **common,
                    )
                )
            else:
                known = {r["dynamodb"]["SequenceNumber"]: r for r in entry.records}
                for seq in entry.sequence_numbers:
                    record = known.get(seq, {})
                    row = Row(
                        shard, seq, record.get("eventName", ""), _key_text(record), entry.lane
                    )
                    rows.setdefault((shard, seq), row)
                marks.append(
                    Mark(
                        kind="discard",
                        sequence_numbers=entry.sequence_numbers,
                        attempt=0,
                        outcome="discarded",
                        condition=entry.condition,
                        destination=entry.destination,
                        **common,
                    )
                )
        ordered = tuple(rows[k] for k in sorted(rows, key=lambda k: (k[0], int(k[1]))))
        return Panel(
            self.trigger.function_name,
            self.trigger.table_name,
            _options(self.trigger.config),
            self.lanes,
            ordered,
            tuple(marks),
        )


def _reported(invocation: Invocation) -> tuple[str, ...]:
    """The sequence numbers a partial batch response named (``batchItemFailures``)."""
    result = invocation.result
    if invocation.outcome.value != "partial failure" or not isinstance(result, dict):
        return ()
    failures = result.get("batchItemFailures") or []
    return tuple(
        str(f["itemIdentifier"]) for f in failures if isinstance(f, dict) and "itemIdentifier" in f
    )


def _of_triggers(triggers: list[Trigger]) -> Timeline:
    panels = []
    width = 0
    for trigger in triggers:
        builder = _Builder(trigger)
        entries = list(trigger.history.entries)
        columns, used = builder.columns(entries)
        width = max(width, used)
        panels.append(
            builder.panel([(e, c + 1, None, False) for e, c in zip(entries, columns, strict=True)])
        )
    if len(triggers) == 1:
        title = f"Timeline of {triggers[0].function_name} on the {triggers[0].table_name} stream"
    else:
        title = "Timeline of " + " and ".join(t.function_name for t in triggers)
    return Timeline(title, tuple(panels), (), width)


def _of_tracer(tracer: Tracer) -> Timeline:
    builders = [_Builder(t) for t in tracer.triggers]
    placed: list[list[tuple[Entry, int, int | None, bool]]] = [[] for _ in builders]
    steps = []
    start = 1
    for step in tracer.steps:
        width = 1
        per_trigger = []
        for b, (first, polled, end) in zip(builders, step.spans, strict=True):
            entries = list(b.trigger.history.entries[first:end])
            columns, used = b.columns(entries)
            width = max(width, used)
            per_trigger.append((entries, columns, polled - first))
        for k, (entries, columns, early) in enumerate(per_trigger):
            for i, (entry, column) in enumerate(zip(entries, columns, strict=True)):
                placed[k].append((entry, start + column, step.number, i < early))
        steps.append(Step(step.number, step.event, start, start + width - 1))
        start += width
    panels = []
    for b, entries in zip(builders, placed, strict=True):
        panel = b.panel(entries)
        idle = [
            Mark(s.first, "idle", step=s.number)
            for s in steps
            if not any(m.step == s.number for m in panel.marks)
        ]
        marks = tuple(sorted((*panel.marks, *idle), key=lambda m: (m.slot, m.lane)))
        panels.append(
            Panel(panel.function, panel.table, panel.options, panel.lanes, panel.rows, marks)
        )
    title = "Timeline of the traced steps"
    if len(tracer.triggers) == 1:
        trigger = tracer.triggers[0]
        title += f": {trigger.function_name} on the {trigger.table_name} stream"
    return Timeline(title, tuple(panels), tuple(steps), start - 1)


def timeline(source: Trigger | Sequence[Trigger] | Tracer) -> Timeline:
    """The timeline of a run, as a picture: ``lk.timeline(trigger)`` for everything a trigger
    did (or a list of triggers, one panel each); ``lk.timeline(trace)`` (the same as
    ``trace.timeline()``) for a tracer's steps, each step a band of columns.

    Introduced in notebooks/06-aggregation.ipynb (a tumbling window); lesson 08 draws every way
    a batch can fail with it.
    """
    from ._tracer import Tracer

    if isinstance(source, Tracer):
        return _of_tracer(source)
    triggers = list(source) if isinstance(source, list | tuple) else [source]
    bad = [t for t in triggers if not isinstance(t, Trigger)]
    if bad or not triggers:
        raise TraceError(
            f"lk.timeline draws a trigger's run, not {str(bad[0] if bad else source)[:60]!r}.",
            "pass the trigger (lk.timeline(trigger)), a list of triggers, or a tracer "
            "(lk.timeline(trace)).",
        )
    return _of_triggers(triggers)

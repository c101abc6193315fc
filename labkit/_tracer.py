"""The tracer: run labelled steps, observe what really happened, and tabulate it.

For each step the tracer records three things, each from its own source:

* the stream records the step produced, read by the tracer's *own* stream reader (a second
  consumer of the stream, independent of the trigger);
* the trigger's invocations, from running the trigger until it is idle;
* the target table before and after, compared item by item.

``execution_table()`` and ``variable_tracker()`` are computed from those records only.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from ._display import LabTable, lab_table
from ._errors import TraceError
from ._lab import Lab
from ._stream import StreamReader
from ._trigger import Invocation, Trigger

__all__ = ["EXECUTION_COLUMNS", "TRACKER_ROWS", "Change", "StepTrace", "Tracer", "Transcript"]

EXECUTION_COLUMNS = [
    "Step",
    "Event",
    "Stream Record Captured",
    "Lambda Triggered",
    "Processing Action",
    "Output Action",
]
TRACKER_ROWS = ["Stream Record", "Lambda Trigger", "Processed Output"]

Snapshot = dict[tuple[str, ...], dict[str, Any]]


def _value(value: Any) -> str:
    if isinstance(value, Decimal):
        return str(int(value)) if value == value.to_integral_value() else str(value)
    if isinstance(value, str):
        return repr(value)
    return repr(value)


def _describe_item(item: dict[str, Any], keys: list[str]) -> str:
    """The item's key, then one ``name: value`` line per other attribute (narrow columns wrap
    at the spaces, not inside a value)."""
    attrs = [f"\n  {k}: {_value(v)}" for k, v in sorted(item.items()) if k not in keys]
    return _key_text(item, keys) + "".join(attrs)


def _key_text(item: dict[str, Any], keys: list[str]) -> str:
    return "/".join(str(item.get(k)) for k in keys)


@dataclass(frozen=True)
class Change:
    """One difference in the target table between the start and end of a step."""

    kind: str  # "put", "update" or "delete"
    key: str
    before: dict[str, Any] | None
    after: dict[str, Any] | None

    def describe(self, table: str) -> str:
        if self.kind == "put":
            return f"Wrote {self.key} to {table}"
        if self.kind == "delete":
            return f"Deleted {self.key} from {table}"
        assert self.before is not None and self.after is not None
        names = sorted(set(self.before) | set(self.after))
        diffs = [
            f"{n}: {_value(self.before[n]) if n in self.before else '(none)'} → "
            f"{_value(self.after[n]) if n in self.after else '(removed)'}"
            for n in names
            if self.before.get(n) != self.after.get(n)
        ]
        return f"Updated {self.key} in {table} ({'; '.join(diffs)})"


def _diff(before: Snapshot, after: Snapshot, keys: list[str]) -> list[Change]:
    changes: list[Change] = []
    for k in sorted(set(before) | set(after)):
        old, new = before.get(k), after.get(k)
        if old == new:
            continue
        kind = "put" if old is None else "delete" if new is None else "update"
        changes.append(Change(kind, _key_text((new or old) or {}, keys), old, new))
    return changes


@dataclass(frozen=True)
class StepTrace:
    """What one step did: its stream records, the invocations, and the target's change.

    Introduced in notebooks/01-stream-processing-flow.ipynb.
    """

    number: int
    event: str
    records: list[dict[str, Any]]
    invocations: list[Invocation]
    changes: list[Change]
    target_after: list[dict[str, Any]] = field(default_factory=list)

    @property
    def event_names(self) -> list[str]:
        return [r["eventName"] for r in self.records]

    @property
    def triggered(self) -> bool:
        return bool(self.invocations)


class Tracer:
    """Runs labelled steps against a trigger and tabulates what happened.

    ``target`` is the table the handler writes to (None if it writes nowhere).

    Introduced in notebooks/01-stream-processing-flow.ipynb.
    """

    def __init__(self, lab: Lab, trigger: Trigger, target: str | None = None) -> None:
        if not isinstance(trigger, Trigger):
            raise TraceError(
                f"Tracer needs the trigger to run, not {str(trigger)[:60]!r}.",
                "make one first: trigger = lab.trigger('orders', handler); then "
                "lk.Tracer(lab, trigger, target='orders_processed').",
            )
        if target is not None:
            lab.items(target)  # a TableError now, with its fix, if the table is missing
        self.lab = lab
        self.trigger = trigger
        self.target = target
        self.source = trigger.table_name
        self.steps: list[StepTrace] = []
        self._observer = StreamReader(lab.streams, trigger.stream_arn, "LATEST")
        self._in_step = False
        self._start = self._snapshot()
        self._target_keys = self._keys()

    def _keys(self) -> list[str]:
        if self.target is None:
            return []
        return [k["AttributeName"] for k in self.lab.table(self.target).key_schema]

    def _snapshot(self) -> Snapshot:
        if self.target is None:
            return {}
        keys = [k["AttributeName"] for k in self.lab.table(self.target).key_schema]
        return {tuple(str(i[k]) for k in keys): i for i in self.lab.items(self.target)}

    @contextlib.contextmanager
    def step(self, event: str) -> Iterator[None]:
        """Run the body as one step: ``with trace.step("Insert order-1"): table.put_item(...)``.

        Introduced in notebooks/01-stream-processing-flow.ipynb.
        """
        if self._in_step:
            raise TraceError(
                f"Step {event!r} was started inside another step.",
                "finish one `with trace.step(...)` block before starting the next.",
            )
        # Whatever happened before this step belongs to no step: consume it first.
        self._observer.read_all()
        self.trigger.run_until_idle()
        before = self._snapshot()
        self._in_step = True
        try:
            yield
        finally:
            self._in_step = False
        records = self._observer.read_all()
        invocations = self.trigger.run_until_idle()
        after = self._snapshot()
        self.steps.append(
            StepTrace(
                number=len(self.steps) + 1,
                event=event,
                records=records,
                invocations=invocations,
                changes=_diff(before, after, self._target_keys),
                target_after=list(after.values()),
            )
        )

    # -- the tables -----------------------------------------------------------------------
    @staticmethod
    def _captured(step: StepTrace) -> str:
        if not step.records:
            return "No"
        return f"Yes: {', '.join(step.event_names)}"

    @staticmethod
    def _triggered(step: StepTrace) -> str:
        if not step.invocations:
            return "No"
        n_inv = len(step.invocations)
        n_rec = sum(len(i.records) for i in step.invocations)
        return f"Yes: {n_inv} invocation{'s' * (n_inv != 1)}, {n_rec} record{'s' * (n_rec != 1)}"

    @staticmethod
    def _processing(step: StepTrace) -> str:
        if not step.invocations:
            return "None"
        parts: list[str] = []
        for inv in step.invocations:
            parts.extend(inv.logs if inv.ok else [f"Failed: {inv.error}"])
        return "; ".join(parts) or "(the handler logged nothing)"

    def _output(self, step: StepTrace) -> str:
        if not step.changes or self.target is None:
            return "No write"
        return "; ".join(c.describe(self.target) for c in step.changes)

    def execution_table(self) -> LabTable:
        """One row per step, computed from the stream, the invocations and the target table.

        Introduced in notebooks/01-stream-processing-flow.ipynb.
        """
        rows = [
            {
                "Step": s.number,
                "Event": s.event,
                "Stream Record Captured": self._captured(s),
                "Lambda Triggered": self._triggered(s),
                "Processing Action": self._processing(s),
                "Output Action": self._output(s),
            }
            for s in self.steps
        ]
        return lab_table(rows, EXECUTION_COLUMNS)

    def _record_text(self, step: StepTrace) -> str:
        if not step.records:
            return "none (no change)"
        return ", ".join(f"{r['eventName']} {self._keys_of(r)}" for r in step.records)

    @staticmethod
    def _keys_of(record: dict[str, Any]) -> str:
        keys = record["dynamodb"]["Keys"]
        return "/".join(str(next(iter(v.values()))) for _, v in sorted(keys.items()))

    def _target_text(self, items: list[dict[str, Any]]) -> str:
        if self.target is None:
            return "(no target table)"
        if not items:
            return "empty"
        return "\n".join(_describe_item(i, self._target_keys) for i in items)

    @staticmethod
    def _trigger_text(step: StepTrace) -> str:
        if not step.invocations:
            return "not invoked"
        names = ", ".join(n for inv in step.invocations for n in inv.event_names)
        failed = [inv for inv in step.invocations if not inv.ok]
        state = f"failed ({failed[0].error})" if failed else "succeeded"
        return f"invoked with {names}, {state}"

    def variable_tracker(self) -> LabTable:
        """Rows Stream Record, Lambda Trigger, Processed Output; columns Start ... Final.

        Introduced in notebooks/01-stream-processing-flow.ipynb.
        """
        start_items = list(self._start.values())
        columns = ["Start", *[f"After Step {s.number}" for s in self.steps], "Final"]
        all_records = [r for s in self.steps for r in s.records]
        all_invocations = [i for s in self.steps for i in s.invocations]
        final_items = self.steps[-1].target_after if self.steps else start_items
        n_rec, n_inv = len(all_records), len(all_invocations)
        rows = [
            {
                "Start": "none yet",
                **{f"After Step {s.number}": self._record_text(s) for s in self.steps},
                "Final": f"{n_rec} record{'s' * (n_rec != 1)}"
                + (f": {', '.join(r['eventName'] for r in all_records)}" if n_rec else ""),
            },
            {
                "Start": "waiting",
                **{f"After Step {s.number}": self._trigger_text(s) for s in self.steps},
                "Final": f"idle after {n_inv} invocation{'s' * (n_inv != 1)}",
            },
            {
                "Start": self._target_text(start_items),
                **{f"After Step {s.number}": self._target_text(s.target_after) for s in self.steps},
                "Final": self._target_text(final_items),
            },
        ]
        return lab_table(rows, columns, index=TRACKER_ROWS)

    def transcript(self) -> Transcript:
        """Every step told in a sentence or three, from the recorded run.

        Introduced in notebooks/01-stream-processing-flow.ipynb.
        """
        return Transcript(tuple(_narrate(self, s) for s in self.steps))


@dataclass(frozen=True)
class Transcript:
    """The run told as prose, one paragraph per step; renders as Markdown in a notebook."""

    paragraphs: tuple[str, ...]

    def _repr_markdown_(self) -> str:
        return "\n\n".join(self.paragraphs)

    def __str__(self) -> str:
        return self._repr_markdown_()

    __repr__ = __str__


def _narrate(tracer: Tracer, step: StepTrace) -> str:
    head = f"**Step {step.number}: {step.event}.**"
    if not step.records:
        return (
            f"{head} DynamoDB wrote no stream record, because no item changed. With nothing "
            f"in the stream the trigger had nothing to deliver: the function was not invoked, "
            f"and the target was left as it was."
        )
    names = " and ".join(
        f"an {n} record" if n[0] in "AEIOU" else f"a {n} record" for n in step.event_names
    )
    text = f"{head} The stream captured {names}. "
    if not step.invocations:
        text += "The function was not invoked (the trigger delivered nothing). "
    else:
        n = len(step.invocations)
        text += f"The trigger invoked the function {'once' if n == 1 else f'{n} times'}; "
        text += f"it reported: *{Tracer._processing(step)}*. "
    if step.changes and tracer.target is not None:
        text += "The target changed: " + "; ".join(c.describe(tracer.target) for c in step.changes)
        text += "."
    else:
        text += "Nothing was written to the target."
    return text

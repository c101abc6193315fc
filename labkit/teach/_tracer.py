"""The tracer: run labelled steps, observe what really happened, and tabulate it.

For each step the tracer records three things, each from its own source:

* the stream records the step produced, read by the tracer's *own* stream reader (a second
  consumer of the stream, independent of the trigger);
* the trigger's invocations, from running the trigger until it is idle;
* the target table before and after, compared item by item.

A tracer may follow several triggers (two consumers of one stream, or a chain where one
function writes to a table whose stream feeds the next) and several target tables; the tables
then name the function and the table of each action.

``execution_table()`` and ``variable_tracker()`` are computed from those records only.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from .._errors import TraceError
from .._items import item_key
from .._lab import Lab
from ..esm._capture import say
from ..esm._invocations import Invocation
from ..esm._kinesis import KinesisTrigger
from ..esm._stream import StreamReader
from ..esm._trigger import Trigger
from ._display import LabTable, lab_table, value_text
from ._tracker import TRACKER_VARIABLES, TableState, TrackerRow, VariableTracker
from ._tracker import key_text as _key_text
from ._tracker import tracker_text as _value

# The labels of the steps this kernel has run (every tracer): a step run again whose writes made
# no stream record is a cell run twice, and the learner is told why nothing happened.
_STEPS_RUN: set[str] = set()
_RERUN = (
    "step {event!r} ran before in this kernel, and this time its writes added no stream "
    "record: DynamoDB adds one only for a write that changes an item, and this cell's writes "
    "were already done (the same values written again, an item already deleted). So nothing "
    "was delivered, and this step shows nothing in the tables. To see the lesson as it is "
    "written, run Kernel → Restart Kernel and Run All Cells."
)

if TYPE_CHECKING:
    from ._charts import StepChart
    from ._timeline import Timeline

__all__ = [
    "EXECUTION_COLUMNS",
    "TRACKER_VARIABLES",
    "Change",
    "StepTrace",
    "Tracer",
    "Transcript",
    "VariableTracker",
]

EXECUTION_COLUMNS = [
    "Step",
    "Event",
    "Stream Record Captured",
    "Lambda Triggered",
    "Processing Action",
    "Output Action",
]

Snapshot = dict[tuple[Any, ...], dict[str, Any]]  # by key (item_key), in key order


@dataclass(frozen=True)
class Change:
    """One difference in the target table between the start and end of a step."""

    kind: str  # "put", "update" or "delete"
    key: str
    before: dict[str, Any] | None
    after: dict[str, Any] | None
    table: str = ""

    def describe(self, table: str | None = None) -> str:
        table = table or self.table
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


def _diff(before: Snapshot, after: Snapshot, keys: list[str], table: str = "") -> list[Change]:
    changes: list[Change] = []
    for k in sorted(set(before) | set(after)):
        old, new = before.get(k), after.get(k)
        if old == new:
            continue
        kind = "put" if old is None else "delete" if new is None else "update"
        changes.append(Change(kind, _key_text((new or old) or {}, keys), old, new, table))
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
    functions: list[str] = field(default_factory=list)  # the function of each invocation
    targets_after: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    # How many of ``invocations`` (the first ones) came when the trigger polled before the
    # step's body ran: a retry of a batch still waiting, or records written outside any step.
    before: int = 0
    # Per trigger of the tracer, in its order: where this step's entries begin in the trigger's
    # log (``trigger.history.entries``), where the poll before the body ended, and where the step
    # ended. What the timeline picture is drawn from, discards included.
    spans: tuple[tuple[int, int, int], ...] = ()
    sources_after: dict[str, list[dict[str, Any]]] = field(default_factory=dict)  # scanned
    # Per trigger of the tracer: its clock when the step began (before the poll) and ended.
    clock: tuple[tuple[float, float], ...] = ()

    @property
    def event_names(self) -> list[str]:
        return [r["eventName"] for r in self.records]

    @property
    def triggered(self) -> bool:
        return bool(self.invocations)


def _changes_of(lab: Lab, trigger: Trigger) -> list[tuple[str, str]]:
    """The tables, with their DynamoDB streams, whose changes are a step's records for
    ``trigger``: its own, or for a trigger on a Kinesis stream (lesson 15) the tables whose
    Kinesis streaming destination that stream is (DynamoDB puts their changes into it)."""
    if not isinstance(trigger, KinesisTrigger):
        return [(trigger.table_name, trigger.stream_arn)]
    tables = [
        d.table_name
        for d in lab.kinesis_destinations
        if d.stream_arn == trigger.stream_arn and d.status == "ACTIVE"
    ]
    if not tables:
        raise TraceError(
            f"The trigger reads the Kinesis stream {trigger.stream_arn}, but no table of the lab "
            "sends its changes there, so a step has no change to show.",
            "enable the table's destination first: "
            "lab.enable_kinesis_streaming_destination('orders', stream_arn).",
        )
    return [(name, lab.stream_arn(name)) for name in tables]


class Tracer:
    """Runs labelled steps against a trigger and tabulates what happened.

    ``target`` is the table the handler writes to (None if it writes nowhere). ``trigger`` and
    ``target`` may also be lists: several functions (on one stream, or chained through
    tables) and several tables they write to.

    Introduced in notebooks/01-stream-processing-flow.ipynb.
    """

    def __init__(
        self,
        lab: Lab,
        trigger: Trigger | list[Trigger],
        target: str | list[str] | None = None,
    ) -> None:
        triggers = list(trigger) if isinstance(trigger, list | tuple) else [trigger]
        bad = [t for t in triggers if not isinstance(t, Trigger)]
        if bad or not triggers:
            raise TraceError(
                f"Tracer needs the trigger to run, not {str(bad[0] if bad else trigger)[:60]!r}.",
                "make one first: trigger = lab.trigger('orders', handler); then "
                "lk.Tracer(lab, trigger, target='orders_processed').",
            )
        targets = (
            list(target) if isinstance(target, list | tuple) else [] if target is None else [target]
        )
        for name in targets:
            lab.items(name)  # a TableError now, with its fix, if the table is missing
        self.lab = lab
        self.triggers = triggers
        self.trigger = triggers[0]
        self.targets = targets
        self.target = targets[0] if targets else None
        self.steps: list[StepTrace] = []
        changes = list(dict.fromkeys(pair for t in triggers for pair in _changes_of(lab, t)))
        self._source_tables = list(dict.fromkeys(name for name, _ in changes))
        arns = list(dict.fromkeys(arn for _, arn in changes))
        self._observers = [StreamReader(lab.streams, arn, "LATEST") for arn in arns]
        self._in_step = False
        self._target_keys = {name: self._keys_for(name) for name in targets}
        self._starts = self._snapshots()

    def _keys_for(self, name: str) -> list[str]:
        return [k["AttributeName"] for k in self.lab.table(name).key_schema]

    def _keys(self) -> list[str]:
        return self._target_keys.get(self.target, []) if self.target else []

    def _snapshot(self, name: str | None = None) -> Snapshot:
        name = name or self.target
        if name is None:
            return {}
        keys = self._target_keys.get(name) or self._keys_for(name)
        return {item_key(i, keys): i for i in self.lab.items(name)}

    def _snapshots(self) -> dict[str, Snapshot]:
        return {name: self._snapshot(name) for name in self.targets}

    def _run_triggers(self) -> tuple[list[Invocation], list[str]]:
        """Run every trigger until idle; again while a chained trigger still finds work (at
        most once per trigger, so a blocked shard cannot loop forever)."""
        invocations: list[Invocation] = []
        functions: list[str] = []
        for _ in range(len(self.triggers)):
            found = False
            for trig in self.triggers:
                done = trig.run_until_idle()
                invocations.extend(done)
                functions.extend([trig.function_name] * len(done))
                found = found or bool(done)
            if not found or len(self.triggers) == 1:
                break
        return invocations, functions

    def _log_sizes(self) -> list[int]:
        return [len(t.history.entries) for t in self.triggers]

    def _sources(self) -> list[str]:
        """The tables whose streams the triggers read, each once."""
        return self._source_tables

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
        # Lambda keeps polling between steps: what the trigger does now (a retry of a batch still
        # waiting, records written outside any step) is counted with this step, as done before
        # its body ran (``StepTrace.before``), so every invocation of the log is in some step.
        # Stream records written outside a step are not this step's records.
        starts = self._log_sizes()
        began = [t.clock() for t in self.triggers]
        earlier, earlier_functions = self._run_triggers()
        polled = self._log_sizes()
        for observer in self._observers:
            observer.read_all()
        before = self._snapshots()
        self._in_step = True
        try:
            yield
        finally:
            self._in_step = False
        invocations, functions = self._run_triggers()
        records = [r for observer in self._observers for r in observer.read_all()]
        after = self._snapshots()
        changes = [
            c
            for name in self.targets
            for c in _diff(before[name], after[name], self._target_keys[name], name)
        ]
        self.steps.append(
            StepTrace(
                number=len(self.steps) + 1,
                event=event,
                records=records,
                invocations=earlier + invocations,
                changes=changes,
                functions=earlier_functions + functions,
                targets_after={name: list(snap.values()) for name, snap in after.items()},
                before=len(earlier),
                spans=tuple(zip(starts, polled, self._log_sizes(), strict=True)),
                sources_after={t: self.lab.items(t) for t in self._sources()},
                clock=tuple(zip(began, [t.clock() for t in self.triggers], strict=True)),
            )
        )
        if not records and event in _STEPS_RUN:
            say(_RERUN.format(event=event))
        _STEPS_RUN.add(event)

    # -- the tables -----------------------------------------------------------------------
    @staticmethod
    def _captured(step: StepTrace) -> str:
        if not step.records:
            return "No"
        return f"Yes: {', '.join(step.event_names)}"

    def _by_function(self, step: StepTrace) -> list[tuple[str, list[Invocation]]]:
        """The step's invocations grouped by function, in the order of the tracer's triggers."""
        groups: dict[str, list[Invocation]] = {t.function_name: [] for t in self.triggers}
        for inv, fn in zip(step.invocations, step.functions, strict=False):
            groups.setdefault(fn, []).append(inv)
        return [(fn, invs) for fn, invs in groups.items() if invs]

    @staticmethod
    def _counts(invocations: list[Invocation]) -> str:
        n_inv = len(invocations)
        n_rec = sum(len(i.records) for i in invocations)
        return f"{n_inv} invocation{'s' * (n_inv != 1)}, {n_rec} record{'s' * (n_rec != 1)}"

    def _triggered(self, step: StepTrace) -> str:
        if not step.invocations:
            return "No"
        early = f" ({_before(step.before)})" if step.before else ""
        if len(self.triggers) == 1:
            return f"Yes: {self._counts(step.invocations)}{early}"
        return (
            "Yes: "
            + "; ".join(f"{fn} {self._counts(invs)}" for fn, invs in self._by_function(step))
            + early
        )

    def _processing(self, step: StepTrace) -> str:
        if not step.invocations:
            return "None"
        parts: list[str] = []
        named = len(self.triggers) > 1
        for fn, invs in self._by_function(step) if named else [("", step.invocations)]:
            for inv in invs:
                lines = inv.output if inv.ok else [f"Failed: {inv.error}"]
                parts.extend(f"{fn}: {line}" if named else line for line in lines)
        return "; ".join(parts) or "(the handler logged nothing)"

    def _output(self, step: StepTrace) -> str:
        if not step.changes or not self.targets:
            return "No write"
        return "; ".join(c.describe() for c in step.changes)

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
        return "/".join(value_text(next(iter(v.values()))) for _, v in sorted(keys.items()))

    def _trigger_lines(self, step: StepTrace) -> tuple[tuple[str, str], ...]:
        """One line per function: the records it was invoked with and how that ended
        (``ok``, ``failed``, or ``recovered``: failed, then a retry went through)."""
        if not step.invocations:
            return (("not invoked", "ok"),)
        lines = []
        named = len(self.triggers) > 1
        for fn, invs in self._by_function(step) if named else [("", step.invocations)]:
            names = ", ".join(n for inv in invs for n in inv.event_names)
            failed = [inv for inv in invs if not inv.ok]
            state, outcome = "succeeded", "ok"
            if failed:
                state, outcome = f"failed ({failed[0].error})", "failed"
                if invs[-1].ok:  # a retry (or the next batch) went through in the same step
                    state, outcome = state + ", then succeeded", "recovered"
            lines.append((f"{fn + ' ' if named else ''}invoked with {names}, {state}", outcome))
        return tuple(lines)

    def _tables(
        self, items: dict[str, list[dict[str, Any]]], changes: Sequence[Change] = ()
    ) -> tuple[TableState, ...]:
        """Each target table's items, with the changes made to it (a step's, or none)."""
        return tuple(
            TableState(
                name,
                tuple(self._target_keys[name]),
                tuple(items.get(name, [])),
                tuple(c for c in changes if c.table == name),
            )
            for name in self.targets
        )

    def variable_tracker(self) -> VariableTracker:
        """Rows Start, After Step 1 ..., Final; columns Stream Record, Lambda Trigger and
        Processed Output. A step shows only what it changed in the target tables, marked
        ``+`` added, ``~`` changed, ``-`` removed (and coloured); the whole tables after it are
        one click away. Start and Final show the whole tables.

        Introduced in notebooks/01-stream-processing-flow.ipynb.
        """
        starts = {name: list(snap.values()) for name, snap in self._starts.items()}
        all_records = [r for s in self.steps for r in s.records]
        all_invocations = [i for s in self.steps for i in s.invocations]
        finals = self.steps[-1].targets_after if self.steps else starts
        n_rec, n_inv = len(all_records), len(all_invocations)
        rows = [
            TrackerRow("Start", "", "none yet", (("waiting", "ok"),), self._tables(starts), True),
            *(
                TrackerRow(
                    f"After Step {s.number}",
                    s.event,
                    self._record_text(s),
                    self._trigger_lines(s),
                    self._tables(s.targets_after, s.changes),
                    False,
                )
                for s in self.steps
            ),
            TrackerRow(
                "Final",
                "",
                f"{n_rec} record{'s' * (n_rec != 1)}"
                + (f": {', '.join(r['eventName'] for r in all_records)}" if n_rec else ""),
                ((f"idle after {n_inv} invocation{'s' * (n_inv != 1)}", "ok"),),
                self._tables(finals),
                True,
            ),
        ]
        return VariableTracker(tuple(rows), has_target=bool(self.targets))

    def transcript(self) -> Transcript:
        """Every step told in a sentence or three, from the recorded run.

        Introduced in notebooks/01-stream-processing-flow.ipynb.
        """
        return Transcript(tuple(_narrate(self, s) for s in self.steps))

    def timeline(self) -> Timeline:
        """The steps as a picture: each record on its shard, and every invocation and discard
        of each step (the poll before a step included) as a bar over the records it carried.

        Introduced in notebooks/01-stream-processing-flow.ipynb.
        """
        from ._timeline import timeline

        return timeline(self)

    def metrics(self, *names: str, precision_ms: float | None = None) -> LabTable:
        """What CloudWatch would have recorded in each step: per step and per trigger that did
        something in it, each metric's statistic over the step (``names``: the metrics to show;
        all by default). ``precision_ms`` rounds Duration and IteratorAge down (see
        ``Trigger.metrics``).

        Introduced in notebooks/13-operating-a-stream-consumer.ipynb.
        """
        from ._metrics import step_metrics

        return step_metrics(self, names, precision_ms)

    def step_chart(
        self, attribute: str, truth: Callable[[list[dict[str, Any]]], Mapping[Any, Any]]
    ) -> StepChart:
        """One number per key of the target tables after each step, against the truth:
        ``truth(items)`` gets the source table's items as a scan found them after the step and
        returns ``{key: value}``; each target table's ``attribute`` is drawn beside it.

        Introduced in notebooks/06-aggregation.ipynb.
        """
        from ._charts import step_chart

        return step_chart(self, attribute, truth)


@dataclass(frozen=True)
class Transcript:
    """The run told as prose, one paragraph per step; renders as Markdown in a notebook."""

    paragraphs: tuple[str, ...]

    def _repr_markdown_(self) -> str:
        return "\n\n".join(self.paragraphs)

    def __str__(self) -> str:
        return self._repr_markdown_()

    __repr__ = __str__


def _times(n: int) -> str:
    return "once" if n == 1 else "twice" if n == 2 else f"{n} times"


def _before(n: int) -> str:
    """How the tables say that ``n`` invocations came when the trigger polled before a step."""
    return f"{n} when the trigger polled before the step"


def _narrate(tracer: Tracer, step: StepTrace) -> str:
    head = f"**Step {step.number}: {step.event}.**"
    who = "the triggers" if len(tracer.triggers) > 1 else "it"
    early = f" ({_times(step.before)} when {who} polled before the step)" if step.before else ""
    if not step.records and step.invocations:  # a retry of a waiting batch, no new record
        n = len(step.invocations)
        text = (
            f"{head} DynamoDB wrote no new stream record, but records were still waiting: the "
            f"trigger invoked the function {'once' if n == 1 else f'{n} times'}{early}; it "
            f"reported: *{tracer._processing(step)}*. "
        )
        if step.changes and tracer.targets:
            changed = "; ".join(c.describe() for c in step.changes)
            return f"{text}The target changed: {changed}."
        return text + "Nothing was written to the target."
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
        groups = tracer._by_function(step)
        if len(tracer.triggers) == 1:
            n = len(step.invocations)
            text += f"The trigger invoked the function {'once' if n == 1 else f'{n} times'}"
            text += f"{early}; "
            text += f"it reported: *{tracer._processing(step)}*. "
        else:
            ran = ", ".join(f"{fn} {_times(len(invs))}" for fn, invs in groups)
            who = "The triggers invoked" if len(groups) > 1 else "The trigger invoked"
            they = "they" if len(groups) > 1 else "it"
            text += f"{who} {ran}{early}; {they} reported: *{tracer._processing(step)}*. "
    if step.changes and tracer.targets:
        text += "The target changed: " + "; ".join(c.describe() for c in step.changes)
        text += "."
    else:
        text += "Nothing was written to the target."
    return text

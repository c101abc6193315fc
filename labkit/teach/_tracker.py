"""The variable tracker: the stream, the trigger and the target tables, step by step.

One row per moment (Start, after each step, Final) and one column per variable (Stream Record,
Lambda Trigger, Processed Output). A step's Processed Output shows only what the step changed,
each change marked and coloured (``+`` added, ``~`` changed, ``-`` removed); the whole table
after the step is one click away (an HTML ``<details>``). Start and Final show the whole tables.

The same rows render as HTML (``_repr_html_``) and as plain text (``repr``): both are the same
for the same run, so nbval can compare them. ``table()`` gives the text as a DataFrame.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from boto3.dynamodb.types import Binary

from ._display import (
    ADDED,
    CHANGED,
    FAILED,
    MUTED,
    REMOVED,
    STRUCK,
    SUMMARY,
    LabTable,
    cell_text,
    lab_table,
    table_html,
)
from ._display import value_text as plain_text

if TYPE_CHECKING:
    from ._tracer import Change

__all__ = [
    "TRACKER_VARIABLES",
    "TableState",
    "TrackerRow",
    "VariableTracker",
    "key_text",
    "tracker_text",
]

TRACKER_VARIABLES = ["Stream Record", "Lambda Trigger", "Processed Output"]
_SIGNS = {"put": "+", "update": "~", "delete": "-"}
_STYLES = {"put": ADDED, "update": CHANGED, "delete": REMOVED}
_OUTCOME_STYLES = {"ok": "", "failed": FAILED, "recovered": CHANGED}
_LABEL_WIDTH = max(len(v) for v in TRACKER_VARIABLES) + 2
_HANGING = "padding:0 4px 0 1.2em;text-indent:-0.8em"
_PAIR_NOWRAP = 40  # a "name: value" pair shorter than this stays on one line
_OUTPUT_HEAD = f'<div style="min-width:18em">{TRACKER_VARIABLES[-1]}</div>'


def tracker_text(value: Any) -> str:
    """A value as the tracker writes it: numbers plain (Decimal 30 as 30), strings quoted
    (tables show values unquoted: ``_display.value_text``)."""
    if isinstance(value, Decimal):
        return str(int(value)) if value == value.to_integral_value() else str(value)
    if isinstance(value, Binary | bytes | bytearray):
        return plain_text(value)  # b'\x01\x02' (a Binary's str() fails)
    return repr(value)


def key_text(item: dict[str, Any], keys: list[str] | tuple[str, ...]) -> str:
    """An item's key values, joined with ``/`` (``alice`` or ``alice/order-1``)."""
    return "/".join(plain_text(item.get(k)) for k in keys)


def _in_key_order(item: dict[str, Any], keys: tuple[str, ...]) -> tuple[tuple[int, Any], ...]:
    """Sort by key, numbers as numbers (2 before 17), then text."""
    return tuple(
        (0, item[k]) if isinstance(item.get(k), int | Decimal) else (1, plain_text(item.get(k)))
        for k in keys
    )


def _pairs(item: dict[str, Any], keys: tuple[str, ...]) -> list[str]:
    return [f"{k}: {tracker_text(v)}" for k, v in sorted(item.items()) if k not in keys]


def _update_pairs(before: dict[str, Any], after: dict[str, Any]) -> list[str]:
    names = sorted(set(before) | set(after))
    return [
        f"{n}: {tracker_text(before[n]) if n in before else '(none)'} → "
        f"{tracker_text(after[n]) if n in after else '(removed)'}"
        for n in names
        if before.get(n) != after.get(n)
    ]


@dataclass(frozen=True)
class _Line:
    """One line of a Processed Output cell: a sign, an item's key and its attributes."""

    sign: str
    key: str
    pairs: tuple[str, ...]
    style: str = ""

    def text(self) -> str:
        head = f"{self.sign} {self.key}" if self.sign else self.key
        return f"{head}  {', '.join(self.pairs)}" if self.pairs else head

    def html(self) -> str:
        pairs = ", ".join(
            f'<span style="white-space:nowrap">{cell_text(p)}</span>'
            if len(p) < _PAIR_NOWRAP
            else cell_text(p)
            for p in self.pairs
        )
        sign = f"{cell_text(self.sign)} " if self.sign else ""
        body = f"<b>{cell_text(self.key)}</b>" + (f"&nbsp; {pairs}" if pairs else "")
        if self.sign == _SIGNS["delete"]:  # a removed item: struck through, its sign not
            body = f'<span style="{STRUCK}">{body}</span>'
        body = sign + body
        style = f"{self.style};" if self.style else ""
        return f'<div style="{style}padding:0 4px;margin:1px 0">{body}</div>'


def change_line(change: Change, keys: tuple[str, ...]) -> _Line:
    """A change as a marked line: ``+`` the new item, ``~`` the attributes that changed (old →
    new), ``-`` the item removed (with what it held)."""
    if change.kind == "put":
        pairs = _pairs(change.after or {}, keys)
    elif change.kind == "delete":
        pairs = _pairs(change.before or {}, keys)
    else:
        pairs = _update_pairs(change.before or {}, change.after or {})
    return _Line(_SIGNS[change.kind], change.key, tuple(pairs), _STYLES[change.kind])


@dataclass(frozen=True)
class TableState:
    """One target table at one moment: every item (in key order) and what the step changed."""

    name: str
    keys: tuple[str, ...]
    items: tuple[dict[str, Any], ...]
    changes: tuple[Change, ...] = ()

    def state_lines(self, *, tint: bool = False) -> list[_Line]:
        """The whole table, one line per item; with ``tint``, the items this step added or
        changed are coloured as their change."""
        touched = {c.key: _STYLES[c.kind] for c in self.changes if c.kind != "delete"}
        items = sorted(self.items, key=lambda i: _in_key_order(i, self.keys))
        return [
            _Line(
                "",
                key_text(i, self.keys),
                tuple(_pairs(i, self.keys)),
                touched.get(key_text(i, self.keys), "") if tint else "",
            )
            for i in items
        ]

    def change_lines(self) -> list[_Line]:
        changes = sorted(
            self.changes, key=lambda c: _in_key_order(c.after or c.before or {}, self.keys)
        )
        return [change_line(c, self.keys) for c in changes]

    def count(self) -> str:
        n = len(self.items)
        return f"{n} item{'s' * (n != 1)}"


@dataclass(frozen=True)
class TrackerRow:
    """One moment of the run: Start, After Step N (with the step's event) or Final."""

    label: str
    event: str
    record: str
    trigger: tuple[tuple[str, str], ...]  # (line, "ok" | "failed" | "recovered")
    tables: tuple[TableState, ...]
    whole: bool  # Start and Final show the whole tables; a step shows its changes


@dataclass(frozen=True)
class VariableTracker:
    """The stream, the trigger and the target tables after each step, changes highlighted.

    Renders as an HTML table in a notebook and as plain text in a terminal (``repr``);
    ``table()`` is the same text as a DataFrame (rows Start ... Final, one column per variable).

    Introduced in notebooks/01-stream-processing-flow.ipynb.
    """

    rows: tuple[TrackerRow, ...]
    has_target: bool = True

    @property
    def named(self) -> bool:
        """Several target tables: each one is named in the Processed Output."""
        return any(len(r.tables) > 1 for r in self.rows)

    # -- plain text -----------------------------------------------------------------------
    def _output_text(self, row: TrackerRow) -> str:
        if not self.has_target:
            return "(no target table)"
        blocks = []
        for table in row.tables:
            lines = table.state_lines() if row.whole else table.change_lines()
            texts = [line.text() for line in lines]
            if not texts:
                texts = ["empty" if row.whole else "no change"]
            if self.named:
                if len(texts) == 1:
                    blocks.append(f"{table.name}: {texts[0]}")
                else:
                    blocks.append(f"{table.name}:" + "".join(f"\n  {t}" for t in texts))
            else:
                blocks.extend(texts)
        return "\n".join(blocks)

    def _cells(self, row: TrackerRow) -> dict[str, str]:
        return {
            "Stream Record": row.record,
            "Lambda Trigger": "\n".join(line for line, _ in row.trigger),
            "Processed Output": self._output_text(row),
        }

    def table(self) -> LabTable:
        """The tracker as a DataFrame of text: rows Start, After Step 1 ..., Final."""
        return lab_table(
            [self._cells(r) for r in self.rows],
            TRACKER_VARIABLES,
            index=[r.label for r in self.rows],
        )

    def __repr__(self) -> str:
        blocks = []
        for row in self.rows:
            lines = [f"{row.label} · {row.event}" if row.event else row.label]
            for name, value in self._cells(row).items():
                first, *rest = value.split("\n")
                lines.append(f"  {name:<{_LABEL_WIDTH}}{first}".rstrip())
                lines.extend(f"  {'':<{_LABEL_WIDTH}}{more}".rstrip() for more in rest)
            blocks.append("\n".join(lines))
        return "\n\n".join(blocks)

    __str__ = __repr__

    # -- HTML ---------------------------------------------------------------------------------
    def _output_html(self, row: TrackerRow) -> str:
        if not self.has_target:
            return cell_text("(no target table)")
        parts = []
        for table in row.tables:
            if self.named:
                parts.append(f"<div><b>{cell_text(table.name)}</b></div>")
            lines = table.state_lines() if row.whole else table.change_lines()
            parts.extend(line.html() for line in lines)
            if not lines:
                empty = "empty" if row.whole else "no change"
                parts.append(f'<div style="{MUTED};padding:0 4px">{empty}</div>')
        if not row.whole:
            parts.append(self._whole_html(row))
        return "".join(parts)

    def _whole_html(self, row: TrackerRow) -> str:
        """The whole table(s) after the step, folded: one click away."""
        if self.named:
            summary = "all tables after this step"
        else:
            summary = f"whole table after this step ({row.tables[0].count()})"
        inside = []
        for table in row.tables:
            if self.named:
                inside.append(f"<div><b>{cell_text(table.name)}</b> ({table.count()})</div>")
            lines = table.state_lines(tint=True)
            inside.extend(line.html() for line in lines)
            if not lines:
                inside.append(f'<div style="{MUTED};padding:0 4px">empty</div>')
        return (
            f'<details style="margin-top:4px"><summary style="{SUMMARY}">{summary}</summary>'
            f'<div style="border-left:2px solid #c8c8c8;padding-left:4px">{"".join(inside)}</div>'
            "</details>"
        )

    @staticmethod
    def _trigger_html(row: TrackerRow) -> str:
        lines = []
        for line, outcome in row.trigger:
            # a hanging indent: where one function's line wraps, the next line still stands out
            style = ";".join(filter(None, (_OUTCOME_STYLES[outcome], _HANGING)))
            lines.append(f'<div style="{style}">{cell_text(line)}</div>')
        return "".join(lines)

    def _repr_html_(self) -> str:
        rows = []
        for row in self.rows:
            label = f'<span style="white-space:nowrap">{cell_text(row.label)}</span>'
            if row.event:
                label += f'<div style="{MUTED};font-weight:normal">{cell_text(row.event)}</div>'
            rows.append(
                [label, cell_text(row.record), self._trigger_html(row), self._output_html(row)]
            )
        # the output column gets room first: it holds the most, the others wrap at spaces
        head = [*(cell_text(v) for v in TRACKER_VARIABLES[:-1]), _OUTPUT_HEAD]
        return table_html(["", *head], rows, th_first=True)

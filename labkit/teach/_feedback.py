"""Exercise feedback: Expected and Got side by side, in the same order and shape, with the
difference highlighted.

A case's expectation is cut into sections, one per thing it checks (a table's items, the
records delivered, a count, ...), each with a caption saying what *Expected* is. In a section
both sides have the same columns and their rows are aligned:

* items (a table afterwards): one row per key, both sides sorted by key, attributes in the same
  order (the key first); a row is the same, differs (the differing fields marked), missing from
  Got, or extra in Got;
* records (``[eventName, key]`` lists, whose order matters): aligned as a diff aligns lines, so
  one extra record shows as one extra row, not as every row after it shifted;
* a count, or a message (what the answer raised).

``case_html`` and ``case_text`` render a case; the text reads well in a terminal and under nbval.
"""

from __future__ import annotations

import difflib
import json
import textwrap
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ._display import (
    FAIL_BADGE,
    FAILED,
    MUTED,
    PASS_BADGE,
    SUMMARY,
    cell_text,
    prose,
)

if TYPE_CHECKING:
    from ._check import CaseResult, CheckResult, Exercise

__all__ = ["Row", "Section", "case_html", "case_text", "result_html", "result_text", "sections"]

_EXTRA_CAPTIONS = {
    "delivered": "every record the function was given, in order (retries included)",
    "failed_invocations": "how many invocations failed",
    "discarded": "the records given up on when retries or record age ran out, in order",
}
_KIND_CAPTIONS = {
    "transform": "the target table after the case: the items your transform returned, by key",
    "filter": "the records the trigger delivered to the function, in order",
    "iterator": "the records read from your iterator until an empty response, in order",
    "pipe": "the messages the queue received, oldest first (each body as JSON)",
}
_NOTES = {"same": "", "differs": "≠", "missing": "missing", "extra": "extra"}
_ABSENT = "(none)"  # an attribute one side's item does not have
_SIGNS = {"same": "", "differs": "≠", "missing": "-", "extra": "+"}
_PASS_MARK = "✔ pass"
_FAIL_MARK = "✘ FAIL"


@dataclass(frozen=True)
class Row:
    """One aligned row: the expected cells and the got cells (None: that side has no row)."""

    status: str  # "same" | "differs" | "missing" (from Got) | "extra" (in Got)
    expected: tuple[str, ...] | None
    got: tuple[str, ...] | None
    differs: frozenset[int] = frozenset()  # the columns that differ

    def note(self, columns: Sequence[str]) -> str:
        if self.status == "differs" and len(columns) > 1:
            return "≠ " + ", ".join(columns[i] for i in sorted(self.differs))
        return _NOTES[self.status]


@dataclass(frozen=True)
class Section:
    """One thing a case checks: its caption, its columns, and the aligned rows."""

    caption: str
    kind: str  # "items" | "records" | "count" | "message"
    columns: tuple[str, ...]
    rows: tuple[Row, ...]

    @property
    def same(self) -> bool:
        return self.kind != "message" and all(r.status == "same" for r in self.rows)

    @property
    def message(self) -> str:
        """A message section's text (what the answer raised, or why it was refused)."""
        row = self.rows[0]
        return row.got[0] if row.got else ""


def _show(value: Any) -> str:
    """A value as the exercise files write it (JSON): strings quoted, so "30" is not 30."""
    return json.dumps(value, ensure_ascii=False, default=str)


def _key_names(exercise: Exercise, table: str) -> list[str]:
    """The key attributes of a table a case checks (a transform's target has the source's)."""
    if exercise.kind == "transform" or table == "source":
        return exercise.source_table.key_names
    spec = exercise.tables.get(table)
    return spec.key_names if spec is not None else []


def _items_section(caption: str, keys: list[str], expected: Any, got: Any) -> Section:
    expected_items = [i for i in (expected if isinstance(expected, list) else []) if i]
    got_items = [i for i in (got if isinstance(got, list) else []) if i]
    others = sorted({a for i in expected_items + got_items for a in i if a not in keys})
    columns = [*keys, *others]

    def key_of(item: dict[str, Any]) -> tuple[str, ...]:  # the order lab.items lists them in
        return tuple(str(item.get(k)) for k in keys)

    def cells(item: dict[str, Any]) -> tuple[str, ...]:
        return tuple(_show(item[c]) if c in item else _ABSENT for c in columns)

    left = {key_of(i): i for i in expected_items}
    right = {key_of(i): i for i in got_items}
    rows = []
    for key in sorted(set(left) | set(right)):
        e, g = left.get(key), right.get(key)
        if e is not None and g is not None:
            ce, cg = cells(e), cells(g)
            differs = frozenset(i for i, (a, b) in enumerate(zip(ce, cg, strict=True)) if a != b)
            rows.append(Row("differs" if differs else "same", ce, cg, differs))
        elif e is not None:
            rows.append(Row("missing", cells(e), None))
        else:
            rows.append(Row("extra", None, cells(g or {})))
    return Section(caption, "items", tuple(columns), tuple(rows))


def _records_section(caption: str, keys: list[str], expected: Any, got: Any) -> Section:
    """``[eventName, key...]`` lists, aligned as difflib aligns lines."""
    width = max([len(r) for r in (expected or []) + (got or []) if isinstance(r, list)] or [2])
    names = [*keys[: width - 1]]
    names += [f"key {i + 1}" for i in range(len(names), width - 1)]
    columns = ["eventName", *names]

    def cells(record: Any) -> tuple[str, ...]:
        values = record if isinstance(record, list) else [record]
        texts = [str(v) if isinstance(v, str) else _show(v) for v in values]
        return tuple(texts + [""] * (len(columns) - len(texts)))

    left = [cells(r) for r in (expected if isinstance(expected, list) else [])]
    right = [cells(r) for r in (got if isinstance(got, list) else [])]
    rows: list[Row] = []
    matcher = difflib.SequenceMatcher(a=left, b=right, autojunk=False)
    for op, a1, a2, b1, b2 in matcher.get_opcodes():
        if op == "equal":
            rows.extend(
                Row("same", left[i], right[j])
                for i, j in zip(range(a1, a2), range(b1, b2), strict=True)
            )
            continue
        pairs = min(a2 - a1, b2 - b1) if op == "replace" else 0
        for k in range(pairs):
            e, g = left[a1 + k], right[b1 + k]
            differs = frozenset(i for i, (x, y) in enumerate(zip(e, g, strict=True)) if x != y)
            rows.append(Row("differs", e, g, differs))
        rows.extend(Row("missing", left[i], None) for i in range(a1 + pairs, a2))
        rows.extend(Row("extra", None, right[j]) for j in range(b1 + pairs, b2))
    return Section(caption, "records", tuple(columns), tuple(rows))


def _count_section(caption: str, expected: Any, got: Any) -> Section:
    e, g = (_show(expected),), (_show(got),) if got is not None else None
    if g is None:
        return Section(caption, "count", ("count",), (Row("missing", e, None),))
    if e == g:
        return Section(caption, "count", ("count",), (Row("same", e, g),))
    return Section(caption, "count", ("count",), (Row("differs", e, g, frozenset({0})),))


def _message_section(caption: str, message: str) -> Section:
    return Section(caption, "message", ("message",), (Row("extra", None, (message,)),))


def _numbered(messages: Any) -> Any:
    """A queue's message bodies as items numbered in the order they came ("01", "02", ...)."""
    if not isinstance(messages, list):
        return messages
    return [
        {"message": f"{n:02d}", **(body if isinstance(body, dict) else {"body": body})}
        for n, body in enumerate(messages, 1)
    ]


def _section(exercise: Exercise, name: str | None, expected: Any, got: Any) -> Section:
    """The section for one thing a case checks: ``name`` is a handler exercise's expect key
    (a table, ``delivered``, ...), None for the other kinds."""
    source_keys = _key_names(exercise, "source")
    if name is None:
        caption = _KIND_CAPTIONS[exercise.kind]
        if exercise.kind == "pipe":
            return _items_section(caption, ["message"], _numbered(expected), _numbered(got))
        if exercise.kind == "transform":
            return _items_section(caption, source_keys, expected, got)
        return _records_section(caption, source_keys, expected, got)
    if name == "failed_invocations":
        return _count_section(_EXTRA_CAPTIONS[name], expected, got)
    if name in ("delivered", "discarded"):
        return _records_section(_EXTRA_CAPTIONS[name], source_keys, expected, got)
    return _items_section(
        f"the {name} table after the case, by key", _key_names(exercise, name), expected, got
    )


def sections(exercise: Exercise, result: CaseResult) -> list[Section]:
    """A case's expectation and outcome, section by section, in the order the exercise lists
    them; what the answer raised (or why it was refused) comes first."""
    expected, got = result.expected, result.got
    out: list[Section] = []
    if isinstance(got, str):  # the answer raised, or was refused: nothing came out
        out.append(_message_section("what happened instead", got))
        got = None
    if exercise.kind != "handler":
        return [*out, _section(exercise, None, expected, got)]
    got = got if isinstance(got, dict) else {}
    for name, value in expected.items():
        out.append(_section(exercise, name, value, got.get(name) if got else None))
    if "error" in got and "error" not in expected:
        out.insert(0, _message_section("what happened instead", str(got["error"])))
    return out


# -- plain text ---------------------------------------------------------------------------------
_INDENT = "        "
_VERDICTS = {True: "matches", False: "differs"}


def _grid(rows: list[list[str]], indent: str) -> list[str]:
    widths = [max(len(r[i]) for r in rows) for i in range(max(len(r) for r in rows))]
    return [
        (indent + "  ".join(c.ljust(w) for c, w in zip(r, widths, strict=False))).rstrip()
        for r in rows
    ]


def _wrapped(label: str, text: str) -> list[str]:
    return textwrap.wrap(
        f"{label}: {text}",
        width=100,
        initial_indent=_INDENT,
        subsequent_indent=_INDENT + "  ",
        break_long_words=False,
        break_on_hyphens=False,
    )


def _section_text(section: Section) -> list[str]:
    if section.kind == "message":
        return _wrapped(section.caption[:1].upper() + section.caption[1:], section.message)
    lines = _wrapped("Expected", f"{section.caption} ({_VERDICTS[section.same]})")
    indent = _INDENT + "  "
    if section.kind == "count":
        row = section.rows[0]
        got = row.got[0] if row.got else "nothing"
        mark = "" if section.same else "   ≠"
        return [
            *lines,
            f"{indent}expected {row.expected[0] if row.expected else '?'}, got {got}{mark}",
        ]
    blank = [""] * (len(section.columns) - 1)
    if section.kind == "records":  # side by side: the order matters, and records are short
        grid = [["", "expected", *blank, "got", *blank, ""]]
        for row in section.rows:
            left = list(row.expected or ["(none)", *blank])
            right = list(row.got or ["(none)", *blank])
            grid.append([_SIGNS[row.status], *left, *right, row.note(section.columns)])
        if len(grid) == 1:
            grid.append(["", "(none)", *blank, "(none)", *blank, ""])
        return [*lines, *_grid(grid, indent)]
    # a table's items: stacked, so that a wide item still fits a terminal
    grid = [["", *section.columns, ""]]
    for row in section.rows:
        if row.status == "same":
            grid.append(["both", *(row.expected or ()), ""])
            continue
        grid.append(["expected", *(row.expected or ["(no item)", *blank]), ""])
        grid.append(["got", *(row.got or ["(no item)", *blank]), row.note(section.columns)])
    if len(grid) == 1:
        grid.append(["both", "(empty)", *blank, ""])
    return [*lines, *_grid(grid, indent)]


def case_text(exercise: Exercise, result: CaseResult, number: int) -> str:
    """One case as text: a pass in one line; a FAIL with its sections, its hint, and how to see
    the answer."""
    if result.passed:
        return f"{_PASS_MARK}  {number}. {result.name}"
    lines = [f"{_FAIL_MARK}  {number}. {result.name}"]
    for section in sections(exercise, result):
        lines.extend(_section_text(section))
    lines.extend(_wrapped("Hint", result.hint))
    if result.answer:
        lines.append(f"{_INDENT}The answer is folded: .answer({number}) on this result shows it.")
    return "\n".join(lines)


def result_text(result: CheckResult) -> str:
    """The whole check as text: the summary line, then each case."""
    cases = [case_text(result.exercise, r, i) for i, r in enumerate(result.results, start=1)]
    note = [result.note] if result.note else []
    return "\n".join([result.summary(), *note, *cases])


# -- HTML ---------------------------------------------------------------------------------------
_TABLE = "border-collapse:collapse;font-size:13px;margin:2px 0 6px 0"
_TD = (
    "text-align:left;vertical-align:top;white-space:pre-wrap;overflow-wrap:normal;"
    "word-break:normal;padding:2px 8px;border-bottom:1px solid #e0e0e0"
)
_TH = _TD + ";font-weight:bold;border-bottom:1px solid #888"
_SPLIT = "border-left:3px solid #888"  # between Expected and Got
_EXPECTED_DIFF = "background-color:#e6f4ea;color:#0d5223;font-weight:bold"
_GOT_DIFF = "background-color:#fce8e6;color:#a50e0e;font-weight:bold"
_TAGS = {
    True: '<span style="color:#1e8e3e">✔ matches</span>',
    False: '<span style="color:#c5221f;font-weight:bold">✘ differs</span>',
}


def _td(text: str, style: str = "", *, split: bool = False, span: int = 1) -> str:
    styles = ";".join(s for s in (_TD, _SPLIT if split else "", style) if s)
    colspan = f' colspan="{span}"' if span > 1 else ""
    return f'<td style="{styles}"{colspan}>{cell_text(text)}</td>'


def _th(text: str, style: str = "", span: int = 1) -> str:
    colspan = f' colspan="{span}"' if span > 1 else ""
    return f'<th style="{_TH}{";" + style if style else ""}"{colspan}>{cell_text(text)}</th>'


def _side(row: Row, expected: bool, width: int) -> str:
    """One side of a row: its cells, the differing ones highlighted; a side with no row says
    so across its columns."""
    cells = row.expected if expected else row.got
    split = not expected
    if cells is None:
        absent, style = ("(not expected)", MUTED) if expected else ("(missing)", _GOT_DIFF)
        return _td(absent, style, split=split, span=width)
    whole = row.status == ("missing" if expected else "extra")
    marked = frozenset(range(width)) if whole else row.differs
    style = _EXPECTED_DIFF if expected else _GOT_DIFF
    return "".join(
        _td(c, style if i in marked else "", split=split and i == 0) for i, c in enumerate(cells)
    )


def _section_html(section: Section, *, fold_if_same: bool = False) -> str:
    """A section: its caption (what Expected is, and whether Got matches) over the Expected |
    Got table. With ``fold_if_same`` a matching section folds to its caption, so that a
    failing case opens on what differs."""
    if section.kind == "message":
        title = section.caption[:1].upper() + section.caption[1:]
        return f'<div style="margin-top:6px"><b>{cell_text(title)}</b>:</div>' + prose(
            section.message, f"{FAILED};padding:2px 6px"
        )
    caption = f"<b>Expected</b>: {cell_text(section.caption)} &nbsp;{_TAGS[section.same]}"
    width = len(section.columns)
    head = f"<tr>{_th('Expected', span=width)}{_th('Got', _SPLIT, width)}{_th('')}</tr>"
    if section.kind != "count":
        names = "".join(_th(c) for c in section.columns)
        again = _th(section.columns[0], _SPLIT) + "".join(_th(c) for c in section.columns[1:])
        head += f"<tr>{names}{again}{_th('')}</tr>"
    body = [
        f"<tr>{_side(row, True, width)}{_side(row, False, width)}"
        f"{_td(row.note(section.columns), MUTED)}</tr>"
        for row in section.rows
    ]
    if not body:
        none = _td("(none)", MUTED, span=width) + _td("(none)", MUTED, split=True, span=width)
        body.append(f"<tr>{none}{_td('')}</tr>")
    table = f'<table style="{_TABLE}"><thead>{head}</thead><tbody>{"".join(body)}</tbody></table>'
    if fold_if_same and section.same:
        return (
            f'<details style="margin-top:6px"><summary style="{SUMMARY}">{caption}</summary>'
            f"{table}</details>"
        )
    return f'<div style="margin-top:6px">{caption}</div>{table}'


def case_html(exercise: Exercise, result: CaseResult, number: int) -> str:
    """A passing case folds to one line (its detail one click away); a FAIL is open on its
    sections (the matching ones folded), the hint (a nudge), and the answer behind a "Show the
    answer" click. Every Expected | Got table sits in a ``<details>``: what a learner sees
    first is the verdict and the case names."""
    parts = sections(exercise, result)
    name = cell_text(f"{number}. {result.name}")
    if result.passed:
        detail = "".join(_section_html(s) for s in parts)
        return (
            f'<details style="margin:3px 0"><summary style="{SUMMARY}">'
            f'<span style="color:#1e8e3e;font-weight:bold">{_PASS_MARK}</span>&nbsp; {name}'
            f'</summary><div style="padding-left:18px">{detail}</div></details>'
        )
    detail = "".join(_section_html(s, fold_if_same=True) for s in parts)
    hint = prose(f"💡 Hint: {result.hint}", "margin-top:6px")
    answer = ""
    if result.answer:
        answer = (
            f'<details style="margin-top:4px"><summary style="{SUMMARY}">Show the answer'
            f"</summary>{prose(result.answer, 'padding:2px 0 2px 18px')}</details>"
        )
    # open, so the difference shows at once; a learner may still fold a case away
    return (
        '<details open style="border-left:4px solid #c5221f;padding:2px 0 4px 10px;margin:8px 0">'
        f'<summary style="cursor:pointer"><span style="{FAIL_BADGE}">FAIL</span>&nbsp; '
        f"<b>{name}</b></summary>{detail}{hint}{answer}</details>"
    )


def result_html(result: CheckResult) -> str:
    """The whole check: a coloured verdict with the exercise's title, then each case."""
    n, good = len(result.results), sum(r.passed for r in result.results)
    cases = f"case{'s' * (n != 1)}"
    if result.passed:
        badge = f'<span style="{PASS_BADGE}">✔ {"all " if n > 1 else ""}{n} {cases} pass</span>'
    else:
        badge = f'<span style="{FAIL_BADGE}">✘ {n - good} of {n} {cases} fail</span>'
    title = cell_text(result.exercise.title)
    head = f'<div style="margin-bottom:4px">{badge}&nbsp; <b>{title}</b></div>'
    if result.note:  # the lesson went on with the reference solution: restart to use yours
        head += f'<div style="margin:2px 0 6px 0"><b>{cell_text(result.note)}</b></div>'
    body = "".join(case_html(result.exercise, r, i) for i, r in enumerate(result.results, 1))
    return f"<div>{head}{body}</div>"

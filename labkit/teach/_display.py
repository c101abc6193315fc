"""Tables for the notebook: pandas DataFrames that render as full, left-aligned HTML tables, and
the few HTML pieces every teaching output shares (cell text, highlights, pass/FAIL badges).

Styles sit on each element, not in a ``<style>`` block: JupyterLab drops ``<style>`` blocks from
the outputs of a notebook it does not trust (any notebook just opened), but keeps inline styles
whose values its sanitizer knows (``overflow-wrap:anywhere`` is not one of them;
``word-break:break-all`` is).

Words are never broken: a cell wraps at spaces only. A token too long to fit any column (an ARN,
a 300-character key) is the one exception: it may break anywhere, or it would push the table
wider than the notebook.
"""

from __future__ import annotations

import html
import re
from typing import Any

import pandas as pd
from boto3.dynamodb.types import Binary

__all__ = ["LabTable", "cell_text", "lab_table", "prose", "table_html", "value_text"]

_TABLE = "border-collapse:collapse;font-size:13px"
_CELL = (
    "text-align:left;vertical-align:top;white-space:pre-wrap;overflow-wrap:normal;"
    "word-break:normal;padding:4px 8px;border-bottom:1px solid #d0d0d0"
)
_HEAD = _CELL + ";font-weight:bold;border-bottom:2px solid #888"

LONG_TOKEN = 48  # characters without a space; longer tokens in a cell may break anywhere
_BREAKABLE = "word-break:break-all"
_TOKENS = re.compile(r"(\s+)")

# Highlights: a light background with dark text of the same hue, readable in light and dark
# themes, each with its own sign (+ ~ -) so the colour is never the only clue.
ADDED = "background-color:#e6f4ea;color:#0d5223"
CHANGED = "background-color:#fef3d6;color:#6b4100"
REMOVED = "background-color:#fce8e6;color:#a50e0e"
STRUCK = "text-decoration:line-through"
FAILED = "background-color:#fce8e6;color:#a50e0e"
MUTED = "color:#6f6f6f"
PASS_BADGE = (
    "background-color:#1e8e3e;color:#ffffff;font-weight:bold;padding:1px 7px;border-radius:3px"
)
FAIL_BADGE = (
    "background-color:#c5221f;color:#ffffff;font-weight:bold;padding:1px 7px;border-radius:3px"
)
SUMMARY = "cursor:pointer;color:#555555"


def value_text(value: Any) -> str:
    """A value as short text: ``str()``, except binary (boto3's ``Binary``, whose ``str()``
    fails, and ``bytes``), shown as Python writes bytes: ``b'\\x01\\x02'``."""
    if isinstance(value, Binary):
        value = value.value
    if isinstance(value, bytes | bytearray):
        return repr(bytes(value))
    return "" if value is None else str(value)


def _text(value: Any) -> str:
    return html.escape(value_text(value))  # cell text is text, not HTML


def cell_text(value: Any) -> str:
    """Text for an HTML cell: escaped (cell text is text, not HTML), and a token longer than
    ``LONG_TOKEN`` characters wrapped so that it alone may break mid-word."""
    text = value_text(value)
    parts = []
    for piece in _TOKENS.split(text):
        escaped = html.escape(piece)
        if len(piece) > LONG_TOKEN and not piece.isspace():
            escaped = f'<span style="{_BREAKABLE}">{escaped}</span>'
        parts.append(escaped)
    return "".join(parts)


def prose(text: str, style: str = "") -> str:
    """A block of prose (a hint, an answer): escaped, wrapping at spaces; a word wider than the
    whole output breaks only then (``overflow-wrap:break-word``, not inside a table)."""
    styles = ";".join(s for s in ("overflow-wrap:break-word", style) if s)
    return f'<div style="{styles}">{html.escape(text)}</div>'


def table_html(head: list[str], rows: list[list[str]], *, th_first: bool = False) -> str:
    """A table from cells that are already HTML (use ``cell_text`` for text); with
    ``th_first`` each row's first cell is its label."""
    heads = "".join(f'<th style="{_HEAD}">{h}</th>' for h in head)
    body = []
    for row in rows:
        cells = []
        for i, cell in enumerate(row):
            if th_first and i == 0:
                cells.append(f'<th style="{_HEAD};border-bottom:1px solid #d0d0d0">{cell}</th>')
            else:
                cells.append(f'<td style="{_CELL}">{cell}</td>')
        body.append(f"<tr>{''.join(cells)}</tr>")
    return (
        f'<table style="{_TABLE}"><thead><tr>{heads}</tr></thead>'
        f"<tbody>{''.join(body)}</tbody></table>"
    )


class LabTable(pd.DataFrame):
    """A DataFrame that shows every character of its cells (no "..." truncation), wrapping long
    text at spaces to fit the notebook's width.

    The HTML is the same for the same content (nbval compares it). Row labels are shown only
    when they mean something (not a plain 0, 1, 2 ... index).

    Introduced in notebooks/01-stream-processing-flow.ipynb.
    """

    @property
    def _constructor(self) -> type[LabTable]:
        return LabTable

    def _labelled(self) -> bool:
        return not isinstance(self.index, pd.RangeIndex)

    def _repr_html_(self) -> str:  # type: ignore[override]
        labelled = self._labelled()
        head = [*([""] if labelled else []), *(cell_text(c) for c in self.columns)]
        rows = [
            [*([cell_text(label)] if labelled else []), *(cell_text(v) for v in row)]
            for label, row in zip(self.index, self.itertuples(index=False), strict=True)
        ]
        return table_html(head, rows, th_first=labelled)

    def __repr__(self) -> str:
        shown = pd.DataFrame(self)
        binary = Binary | bytes | bytearray  # pandas' own str() of a Binary raises
        if any(isinstance(v, binary) for row in self.itertuples(index=False) for v in row):
            shown = shown.map(lambda v: value_text(v) if isinstance(v, binary) else v)
        with pd.option_context("display.max_colwidth", None, "display.width", 200):
            return str(shown.to_string(index=self._labelled()))


def lab_table(
    rows: list[dict[str, Any]], columns: list[str], index: list[str] | None = None
) -> LabTable:
    """Build a LabTable with exactly ``columns``, in that order (and row labels ``index``)."""
    return LabTable(pd.DataFrame(rows, columns=columns, index=index))

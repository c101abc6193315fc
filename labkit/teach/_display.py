"""Tables for the notebook: pandas DataFrames that render as full, left-aligned HTML tables."""

from __future__ import annotations

import html
from typing import Any

import pandas as pd
from boto3.dynamodb.types import Binary

__all__ = ["LabTable", "lab_table", "value_text"]

# Styles sit on each element, not in a <style> block: JupyterLab drops <style> blocks from the
# outputs of a notebook it does not trust (any notebook just opened), but keeps inline styles.
_TABLE = "border-collapse:collapse;font-size:13px"
_CELL = (
    "text-align:left;vertical-align:top;white-space:pre-wrap;overflow-wrap:anywhere;"
    "padding:4px 8px;border-bottom:1px solid #d0d0d0"
)
_HEAD = _CELL + ";overflow-wrap:normal;font-weight:bold;border-bottom:2px solid #888"


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


class LabTable(pd.DataFrame):
    """A DataFrame that shows every character of its cells (no "..." truncation), wrapping long
    text to fit the notebook's width.

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
        head = "".join(f'<th style="{_HEAD}">{_text(c)}</th>' for c in self.columns)
        corner = f'<th style="{_HEAD}"></th>' if labelled else ""
        rows = []
        for label, row in zip(self.index, self.itertuples(index=False), strict=True):
            first = f'<th style="{_HEAD};border-bottom:1px solid #d0d0d0">{_text(label)}</th>'
            cells = "".join(f'<td style="{_CELL}">{_text(v)}</td>' for v in row)
            rows.append(f"<tr>{first if labelled else ''}{cells}</tr>")
        return (
            f'<table style="{_TABLE}"><thead><tr>{corner}{head}</tr></thead>'
            f"<tbody>{''.join(rows)}</tbody></table>"
        )

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

"""Tables for the notebook: pandas DataFrames that render as full, left-aligned HTML tables."""

from __future__ import annotations

import hashlib
from typing import Any

import pandas as pd

__all__ = ["LabTable", "lab_table"]


class LabTable(pd.DataFrame):
    """A DataFrame that shows every character of its cells (no "..." truncation).

    The HTML is a pandas Styler with an id derived from the content, so re-running a notebook
    gives byte-identical output (nbval compares it).
    """

    @property
    def _constructor(self) -> type[LabTable]:
        return LabTable

    def _repr_html_(self) -> str:  # type: ignore[override]
        uid = hashlib.sha1(self.to_json().encode()).hexdigest()[:10]
        styler = self.style.set_uuid(uid).format(escape="html")  # cell text is text, not HTML
        if isinstance(self.index, pd.RangeIndex):
            styler = styler.hide(axis="index")
        styler = styler.set_properties(
            **{"text-align": "left", "white-space": "pre-wrap", "vertical-align": "top"}
        ).set_table_styles([{"selector": "th", "props": [("text-align", "left")]}])
        return str(styler.to_html())

    def __repr__(self) -> str:
        with pd.option_context("display.max_colwidth", None, "display.width", 200):
            return str(self.to_string(index=not isinstance(self.index, pd.RangeIndex)))


def lab_table(
    rows: list[dict[str, Any]], columns: list[str], index: list[str] | None = None
) -> LabTable:
    """Build a LabTable with exactly ``columns``, in that order (and row labels ``index``)."""
    return LabTable(pd.DataFrame(rows, columns=columns, index=index))

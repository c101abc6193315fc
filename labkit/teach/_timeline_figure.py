"""Drawing a timeline with matplotlib: rows for the records, a column per invocation (or per
lane's batch), one bar per invocation or discard. The data, and what each bar means, is in
``_timeline``; here is only where things go on the page and how they look.
"""

from __future__ import annotations

import textwrap
from itertools import pairwise
from typing import TYPE_CHECKING, Any

from ._picture import COLOURS, new_figure

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

    from ._timeline import Mark, Panel, Timeline

__all__ = ["draw"]

_EDGE = "#333333"
_MUTED = "#777777"
# How each kind of bar is drawn (face None: the colour of its outcome), and its legend entry.
_STYLES: dict[str, tuple[str | None, str | None, str]] = {
    "plain": (None, None, ""),
    "discard": (COLOURS["discarded"], "xx", "discarded"),
    "final": ("white", "..", "final call (no records)"),
    "repair": ("white", "//", "replay / redelivery"),
}
_OUTCOMES = {
    "success": "succeeded",
    "error": "failed (error)",
    "partial failure": "partial failure (batchItemFailures)",
}
_ROW_IN = 0.3  # inches per record row
_TAG_ROWS = 0.4  # rows of height per line of the words above a bar


def draw(timeline: Timeline) -> Figure:
    """The timeline as a matplotlib Figure: one panel per trigger, one legend."""
    lanes = max((p.lanes for p in timeline.panels), default=1)
    slot_in = 0.62 if lanes == 1 else 0.3 * lanes + 0.25  # inches per column
    label_chars = max((len(r.text) for p in timeline.panels for r in p.rows), default=10)
    label_in = 0.4 + 0.068 * label_chars
    least = max(5.5, 0.3 + 0.095 * len(timeline.title))  # room for the title
    width = min(max(label_in + slot_in * max(timeline.width, 1) + 1.0, least), 16.0)
    columns = max(timeline.width, (width - label_in - 1.0) / slot_in)  # the x axis's span
    heads = [_headroom(p, bool(timeline.steps)) for p in timeline.panels]
    heights = [max(len(p.rows), 1) + h + 1.0 for p, h in zip(timeline.panels, heads, strict=True)]
    figure = new_figure(width, _ROW_IN * sum(heights) + 0.45 * len(timeline.panels) + 0.8)
    figure.suptitle(timeline.title, fontsize=11, x=0.01, ha="left")
    axes = figure.subplots(len(timeline.panels), 1, squeeze=False, height_ratios=heights)[:, 0]
    for ax, panel, head in zip(axes, timeline.panels, heads, strict=True):
        ax.set_xlim(0.4, columns + 0.6)
        ax.set_ylim(max(len(panel.rows), 1) - 0.4, -head)
        _title(ax, timeline, panel, width - label_in - 0.3)
        _steps(ax, timeline, head)
        _rows(ax, panel)
        for mark in panel.marks:
            _bar(ax, panel, mark)
        _axis(ax, timeline, panel)
    figure.legend(
        handles=_legend(timeline), loc="outside lower center", ncols=4, fontsize=8, frameon=False
    )
    return figure


def _headroom(panel: Panel, steps: bool) -> float:
    """Rows of room above the first record: for the words above a bar that starts high, and
    for the steps' names."""
    need = [
        0.5 + _TAG_ROWS * len(m.tags(panel.lanes)) - panel.covered(m)[0]
        for m in panel.marks
        if m.kind != "idle"
    ]
    return max([0.6, *need]) + (0.6 if steps else 0.0)


def _title(ax: Axes, timeline: Timeline, panel: Panel, inches: float) -> None:
    """The panel's function (when there are several) and its options, wrapped to fit."""
    name = f"{panel.function} on the {panel.table} stream" if len(timeline.panels) > 1 else ""
    options = textwrap.fill(panel.options, max(int(inches / 0.07), 30), break_long_words=False)
    title = "\n".join(t for t in (name, options) if t)
    if title:
        ax.set_title(title, fontsize=9, loc="left")
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)


def _steps(ax: Axes, timeline: Timeline, head: float) -> None:
    """Every other step shaded, each named at the top."""
    for k, step in enumerate(timeline.steps):
        if k % 2 == 0:
            ax.axvspan(step.first - 0.5, step.last + 0.5, color="#000000", alpha=0.05, lw=0)
        middle = (step.first + step.last) / 2
        ax.text(middle, -head + 0.1, f"Step {step.number}", ha="center", va="top", fontsize=8)


def _rows(ax: Axes, panel: Panel) -> None:
    """The records as labelled rows; the records of a tumbling window shaded; shards ruled."""
    from matplotlib.transforms import blended_transform_factory

    rows = panel.rows
    ax.set_yticks(range(len(rows)), [r.text for r in rows], fontsize=8, family="monospace")
    ax.tick_params(axis="y", length=0)
    if not rows:
        ax.text(
            0.5, 0.5, "no record delivered yet", transform=ax.transAxes, ha="center", color=_MUTED
        )
    for i in range(len(rows)):
        ax.axhline(i, color="#e6e6e6", lw=0.8, zorder=0)
    right = blended_transform_factory(ax.transAxes, ax.transData)
    windows = sorted({r.window for r in rows if r.window})
    for window in windows:
        members = [i for i, r in enumerate(rows) if r.window == window]
        lo, hi = min(members), max(members)
        ax.axhspan(lo - 0.5, hi + 0.5, color=COLOURS["band"], alpha=0.15, lw=0, zorder=0)
        ax.text(
            1.005,
            (lo + hi) / 2,
            f"window {window}",
            transform=right,
            ha="left",
            va="center",
            fontsize=8,
            color="#2a6f97",
        )
    shards = sorted({r.shard for r in rows})
    for shard in shards[1:] if len(shards) > 1 else []:
        lo = min(i for i, r in enumerate(rows) if r.shard == shard)
        ax.axhline(lo - 0.5, color="#888888", lw=0.8)
        ax.text(1.005, lo - 0.4, f"shard {shard}", transform=right, ha="left", va="top", fontsize=8)


def _bar(ax: Axes, panel: Panel, mark: Mark) -> None:
    """One invocation or discard: a bar over each run of the rows it covers, joined by a line;
    a cross on each record a partial batch response reported; the words above it."""
    from matplotlib.patches import Rectangle

    lanes = panel.lanes
    share = 0.84 / lanes  # a column's width is shared by its lanes
    x = mark.slot + (0 if lanes == 1 else (mark.lane - (lanes - 1) / 2) * share)
    if mark.kind == "idle":
        middle = (len(panel.rows) - 1) / 2 if panel.rows else 0
        ax.text(
            x,
            middle,
            "no\ninvocation",
            ha="center",
            va="center",
            fontsize=7,
            color=_MUTED,
            style="italic",
        )
        return
    width = 0.56 if lanes == 1 else share * 0.85
    face, hatch, _ = _STYLES[mark.style]
    hollow = face == "white"
    runs = _runs(panel.covered(mark))
    for lo, hi in runs:
        ax.add_patch(
            Rectangle(
                (x - width / 2, lo - 0.38),
                width,
                hi - lo + 0.76,
                facecolor=face or mark.colour,
                edgecolor=mark.colour if hollow else _EDGE,
                hatch=hatch,
                lw=1.2 if hollow else 0.8,
                zorder=3,
            )
        )
    for (_, a), (b, _) in pairwise(runs):
        ax.plot([x, x], [a + 0.38, b - 0.38], color=mark.colour, lw=1.5, zorder=2)
    at = {r.sequence_number: i for i, r in enumerate(panel.rows)}
    for seq in mark.reported:
        ax.plot(
            [x],
            [at[seq]],
            ls="none",
            marker="X",
            ms=9,
            color="white",
            markeredgecolor=_EDGE,
            zorder=5,
        )
    if tags := mark.tags(lanes):
        ax.text(
            x,
            runs[0][0] - 0.45,
            "\n".join(tags),
            ha="center",
            va="bottom",
            fontsize=6.5,
            linespacing=1.0,
            zorder=4,
        )


def _runs(indexes: list[int]) -> list[tuple[int, int]]:
    """Consecutive row indexes as (first, last) runs."""
    runs: list[tuple[int, int]] = []
    for i in indexes:
        if runs and i == runs[-1][1] + 1:
            runs[-1] = (runs[-1][0], i)
        else:
            runs.append((i, i))
    return runs


def _axis(ax: Axes, timeline: Timeline, panel: Panel) -> None:
    """One lane: the invocations' numbers, as in trigger.log(). Several: each lane's batches,
    1st, 2nd, ... (which lane ran first differs from run to run)."""
    if panel.lanes == 1:
        numbered = {m.slot: m.number for m in panel.marks if m.number}
        slots = sorted(numbered)
        ax.set_xticks(slots, [str(numbered[s]) for s in slots], fontsize=8)
        ax.set_xlabel("invocations in order (numbered as in trigger.log())", fontsize=8)
    else:
        slots = list(range(1, timeline.width + 1))
        ax.set_xticks(slots, [str(s) for s in slots], fontsize=8)
        ax.set_xlabel(
            f"each lane's batches in order: the {panel.lanes} lanes run at the same time",
            fontsize=8,
        )


def _legend(timeline: Timeline) -> list[Any]:
    """An entry for each outcome and kind of bar the picture shows, and no other."""
    from matplotlib.lines import Line2D
    from matplotlib.patches import Patch

    marks = [m for p in timeline.panels for m in p.marks]
    outcomes = {m.outcome for m in marks if m.kind == "invocation"}
    handles: list[Any] = [
        Patch(facecolor=COLOURS[k], edgecolor=_EDGE, label=label)
        for k, label in _OUTCOMES.items()
        if k in outcomes
    ]
    if any(m.reported for m in marks):
        handles.append(
            Line2D(
                [],
                [],
                ls="none",
                marker="X",
                color="white",
                ms=8,
                markeredgecolor=_EDGE,
                label="a record it reported failed",
            )
        )
    styles = {m.style for m in marks}
    handles += [
        Patch(facecolor=face or "white", hatch=hatch, edgecolor=_EDGE, label=label)
        for style, (face, hatch, label) in _STYLES.items()
        if style in styles and label
    ]
    if any(r.window for p in timeline.panels for r in p.rows):
        handles.append(Patch(facecolor=COLOURS["band"], alpha=0.2, label="tumbling window"))
    return handles

"""Two more pictures of a run, where a chart says it better than a timeline.

* ``StepChart`` (lesson 06, ``trace.step_chart(...)``): a number per key after each step, from
  every target table of a tracer, against the truth computed from a scan of the source table
  made after the same step (``StepTrace.sources_after``).
* ``ShardStrip`` (lesson 03, ``lk.shard_strip(...)``): a shard's records in order, where each
  shard iterator starts (from the records a GetRecords call on it returns now) and where each
  checkpoint stands.

Both are computed from the run, never typed in: the values are read from the tables, the stream
and the iterators themselves.
"""

from __future__ import annotations

import textwrap
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from .._errors import TraceError
from ._display import LabTable, lab_table
from ._picture import COLOURS, Picture, new_figure, seq_label

if TYPE_CHECKING:
    from matplotlib.figure import Figure

    from .._lab import Lab
    from ._tracer import Tracer

__all__ = ["ShardStrip", "StepChart", "shard_strip", "step_chart"]


def _number(value: Any) -> float:
    return float(value) if isinstance(value, int | float | Decimal) else 0.0


def _shown(value: float) -> str:
    return str(int(value)) if value == int(value) else f"{value:g}"


@dataclass(frozen=True, repr=False)
class StepChart(Picture):
    """A number per key after each step: the truth (from a scan of the source) and each view.

    Introduced in notebooks/06-aggregation.ipynb.
    """

    title: str
    attribute: str
    key_name: str
    keys: tuple[str, ...]
    steps: tuple[tuple[int, str], ...]
    # (name, {key: value after each step}), the truth first
    series: tuple[tuple[str, dict[str, tuple[float, ...]]], ...]

    def table(self) -> LabTable:
        names = [name for name, _ in self.series]
        rows = []
        for i, (number, event) in enumerate(self.steps):
            for key in self.keys:
                values = {name: values[key][i] for name, values in self.series}
                truth = values[names[0]]
                wrong = [n for n in names[1:] if values[n] != truth]
                rows.append(
                    {
                        "Step": number,
                        "Event": event,
                        self.key_name: key,
                        **{n: _shown(v) for n, v in values.items()},
                        "Differs from the truth": ", ".join(wrong),
                    }
                )
        return lab_table(rows, ["Step", "Event", self.key_name, *names, "Differs from the truth"])

    def figure(self) -> Figure:
        count = max(len(self.keys), 1)
        figure = new_figure(min(2.2 + 3.2 * count, 14.0), 4.2)
        figure.suptitle(self.title, fontsize=11, x=0.01, ha="left")
        axes = figure.subplots(1, count, sharey=True, squeeze=False)[0]
        steps = [n for n, _ in self.steps]
        edges = [*steps, steps[-1] + 0.7] if steps else []
        for ax, key in zip(axes, self.keys, strict=False):
            for k, (name, values) in enumerate(self.series):
                ys = list(values[key])
                if k == 0:
                    ax.plot(
                        edges,
                        [*ys, ys[-1]],
                        drawstyle="steps-post",
                        color=COLOURS["truth"],
                        lw=7,
                        alpha=0.18,
                        label=name,
                        solid_capstyle="butt",
                    )
                    continue
                colour = COLOURS["series"][(k - 1) % len(COLOURS["series"])]
                ax.plot(
                    edges, [*ys, ys[-1]], drawstyle="steps-post", color=colour, lw=1.8, label=name
                )
                ax.plot(steps, ys, ls="none", marker="os^v"[(k - 1) % 4], color=colour, ms=5)
            ax.set_title(f"{self.key_name} {key}", fontsize=10)
            ax.set_xticks(steps, [str(s) for s in steps], fontsize=8)
            ax.set_xlabel("after step", fontsize=8)
            ax.grid(axis="y", color="#e6e6e6")
            for side in ("top", "right"):
                ax.spines[side].set_visible(False)
        axes[0].set_ylabel(self.attribute, fontsize=9)
        handles, labels = axes[0].get_legend_handles_labels()
        axes[0].legend(
            handles,
            labels,
            loc="upper left",
            fontsize=8,
            frameon=True,
            framealpha=0.9,
            edgecolor="none",
        )
        width = figure.get_size_inches()[0]
        events = "   ".join(f"{n}: {e}" for n, e in self.steps)
        figure.supxlabel(textwrap.fill(events, int(width * 15)), fontsize=8, color="#444444")
        return figure


def step_chart(
    tracer: Tracer, attribute: str, truth: Callable[[list[dict[str, Any]]], Mapping[Any, Any]]
) -> StepChart:
    """``trace.step_chart(attribute, truth)``: see ``Tracer.step_chart``."""
    if not tracer.steps:
        raise TraceError(
            "The tracer has no step yet, so there is nothing to chart.",
            "run a step first: with trace.step('...'): table.put_item(...).",
        )
    if not tracer.targets:
        raise TraceError(
            "The tracer follows no target table, so there is no view to chart.",
            "make it with lk.Tracer(lab, trigger, target='my_view').",
        )
    source = tracer.triggers[0].table_name
    key_name = tracer._target_keys[tracer.targets[0]][0]
    truths = [
        {str(k): _number(v) for k, v in truth(s.sources_after[source]).items()}
        for s in tracer.steps
    ]
    views = {
        name: [
            {
                str(i[tracer._target_keys[name][0]]): _number(i.get(attribute))
                for i in s.targets_after.get(name, [])
            }
            for s in tracer.steps
        ]
        for name in tracer.targets
    }
    keys = sorted(
        {k for t in truths for k in t} | {k for v in views.values() for s in v for k in s}
    )
    series = [(f"truth (a scan of {source})", truths), *views.items()]
    return StepChart(
        title=f"{attribute} per {key_name} after each step: each view against the truth",
        attribute=attribute,
        key_name=key_name,
        keys=tuple(keys),
        steps=tuple((s.number, s.event) for s in tracer.steps),
        series=tuple(
            (name, {k: tuple(step.get(k, 0.0) for step in per_step) for k in keys})
            for name, per_step in series
        ),
    )


# -- the shard strip -----------------------------------------------------------------------
@dataclass(frozen=True)
class _Record:
    shard: int
    sequence_number: str
    event: str
    key: str


@dataclass(frozen=True, repr=False)
class ShardStrip(Picture):
    """A shard's records in order, where each iterator starts reading and where each
    checkpoint stands.

    Introduced in notebooks/03-reading-the-stream.ipynb.
    """

    title: str
    records: tuple[_Record, ...]
    reads: tuple[tuple[str, tuple[str, ...]], ...]  # (name, sequence numbers it returned)
    checkpoints: tuple[tuple[str, str | None], ...]  # (name, last record processed)

    def _after(self, checkpoint: str | None) -> list[str]:
        """The records a reader resumes with after this checkpoint (all: no checkpoint)."""
        if checkpoint is None:
            return [r.sequence_number for r in self.records]
        return [r.sequence_number for r in self.records if int(r.sequence_number) > int(checkpoint)]

    def table(self) -> LabTable:
        rows = []
        for name, seqs in self.reads:
            start = f"at {seq_label(seqs[0])}" if seqs else "after the last record"
            rows.append(
                {
                    "Position": name,
                    "Where": start,
                    "Records from there": " ".join(map(seq_label, seqs)) or "none yet",
                }
            )
        for name, checkpoint in self.checkpoints:
            where = f"after {seq_label(checkpoint)}" if checkpoint else "none: from the oldest"
            rows.append(
                {
                    "Position": name,
                    "Where": where,
                    "Records from there": " ".join(map(seq_label, self._after(checkpoint)))
                    or "none yet",
                }
            )
        return lab_table(rows, ["Position", "Where", "Records from there"])

    def figure(self) -> Figure:
        from matplotlib.patches import FancyBboxPatch

        n = len(self.records)
        lines = len(self.reads)
        figure = new_figure(min(max(2.6 + 0.95 * (n + 1), 6.0), 15.0), 1.5 + 0.36 * lines)
        figure.suptitle(self.title, fontsize=11, x=0.01, ha="left")
        ax = figure.subplots()
        ax.set_xlim(-0.6, n + 0.6)
        ax.set_ylim(0.95 + 0.8 * max(lines - 1, 0) + 0.45, -1.55)
        ax.axis("off")
        index = {r.sequence_number: i for i, r in enumerate(self.records)}
        for i, record in enumerate(self.records):
            ax.add_patch(
                FancyBboxPatch(
                    (i - 0.42, -0.45),
                    0.84,
                    0.9,
                    boxstyle="round,pad=0.02",
                    facecolor="#eef5fb",
                    edgecolor="#2a6f97",
                    lw=1,
                )
            )
            ax.text(
                i,
                0,
                f"{seq_label(record.sequence_number)}\n{record.event}\n{record.key}",
                ha="center",
                va="center",
                fontsize=8,
                family="monospace",
            )
        ax.add_patch(
            FancyBboxPatch(
                (n - 0.42, -0.45),
                0.84,
                0.9,
                boxstyle="round,pad=0.02",
                facecolor="white",
                edgecolor="#999999",
                lw=1,
                ls="--",
            )
        )
        ax.text(n, 0, "next\nwrite", ha="center", va="center", fontsize=8, color="#777777")
        ax.annotate(
            "",
            xy=(n + 0.55, -0.62),
            xytext=(-0.5, -0.62),
            arrowprops={"arrowstyle": "->", "color": "#777777"},
        )
        ax.text(
            -0.5, -0.7, "the shard, oldest record first", fontsize=8, color="#555555", va="bottom"
        )
        for k, (name, seqs) in enumerate(self.reads):
            y = 0.95 + 0.8 * k
            found = [index[s] for s in seqs if s in index]
            first, last = (min(found), max(found)) if found else (n, n)
            colour = COLOURS["series"][k % len(COLOURS["series"])]
            ax.plot(
                [first - 0.4, last + 0.4],
                [y, y],
                color=colour,
                lw=5,
                alpha=0.35,
                solid_capstyle="butt",
            )
            ax.plot([first - 0.4], [y], marker=">", color=colour, ms=9)
            ax.text(
                first - 0.5,
                y,
                name,
                ha="right",
                va="center",
                fontsize=8,
                color=colour,
                fontweight="bold",
            )
        for name, checkpoint in self.checkpoints:
            before = [
                i
                for i, r in enumerate(self.records)
                if checkpoint is not None and int(r.sequence_number) <= int(checkpoint)
            ]
            x = (max(before) + 0.5) if before else -0.5
            ax.plot([x, x], [-0.55, 0.55], color="#333333", lw=2)
            ax.text(
                x,
                -0.62 - 0.28,
                f"checkpoint: {name}",
                ha="center",
                va="bottom",
                fontsize=8,
                fontweight="bold",
                bbox={"facecolor": "white", "edgecolor": "none", "pad": 1},
            )
        return figure


def _read_shard(lab: Lab, stream_arn: str, shard_id: str) -> list[dict[str, Any]]:
    """Every record the shard holds now, oldest first (from TRIM_HORIZON to caught up)."""
    streams = lab.streams
    iterator = streams.get_shard_iterator(
        StreamArn=stream_arn, ShardId=shard_id, ShardIteratorType="TRIM_HORIZON"
    )["ShardIterator"]
    records: list[dict[str, Any]] = []
    for _ in range(1000):  # bounded: 1000 pages of up to 1000 records
        page = streams.get_records(ShardIterator=iterator)
        records.extend(page["Records"])
        iterator = page.get("NextShardIterator")
        if not page["Records"] or iterator is None:
            break
    return records


def shard_strip(
    lab: Lab,
    table: str,
    iterators: Mapping[str, str] | None = None,
    checkpoints: Mapping[str, str | None] | None = None,
) -> ShardStrip:
    """The records of ``table``'s stream in shard order, as a strip; under it, for each shard
    iterator in ``iterators`` (name → iterator), the records a GetRecords call on it returns
    now, from where it starts; and each checkpoint in ``checkpoints`` (name → the sequence
    number of the last record processed, or None) as a line after that record.

    Introduced in notebooks/03-reading-the-stream.ipynb.
    """
    arn = lab.stream_arn(table)
    shards = lab.streams.describe_stream(StreamArn=arn)["StreamDescription"]["Shards"]
    records = [
        _Record(
            i + 1,
            r["dynamodb"]["SequenceNumber"],
            r["eventName"],
            "/".join(str(next(iter(v.values()))) for _, v in sorted(r["dynamodb"]["Keys"].items())),
        )
        for i, shard in enumerate(sorted(shards, key=lambda s: s["ShardId"]))
        for r in _read_shard(lab, arn, shard["ShardId"])
    ]
    reads = tuple(
        (
            name,
            tuple(
                r["dynamodb"]["SequenceNumber"]
                for r in lab.streams.get_records(ShardIterator=it)["Records"]
            ),
        )
        for name, it in (iterators or {}).items()
    )
    where = f"{len(shards)} shards" if len(shards) > 1 else "its shard"
    return ShardStrip(
        title=f"The {table} stream, {where}: {len(records)} records",
        records=tuple(records),
        reads=reads,
        checkpoints=tuple((checkpoints or {}).items()),
    )

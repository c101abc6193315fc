"""Backfill then tail: take a stream position, copy the table, compare two tables.

A consumer that joins a table already holding data cannot rebuild it from the stream: DynamoDB
Streams keeps a record for 24 hours ("In DynamoDB Streams, there is a 24 hour limit on data
retention", GetShardIterator, DynamoDB API Reference), and a stream turned on late holds nothing
of what came before. So it copies the table and then applies the stream, and the order matters:

1. **Take a position first** (``take_position``): per shard, the last sequence number there now.
   DynamoDB Streams has no ``AT_TIMESTAMP`` iterator (GetShardIterator takes ``TRIM_HORIZON``,
   ``LATEST``, ``AT_SEQUENCE_NUMBER``, ``AFTER_SEQUENCE_NUMBER``), and a ``LATEST`` iterator is
   no durable position (it names no sequence number, and "a shard iterator expires 15 minutes
   after it is returned"). So each open shard is read from ``TRIM_HORIZON`` to an empty page and
   its last sequence number kept: a checkpoint ``AFTER_SEQUENCE_NUMBER`` can resume from for 24
   hours. A closed shard gets its ``EndingSequenceNumber`` (nothing in it comes later); an empty
   open shard gets none (read it from its start). A position earlier than the true end is safe:
   it only replays more records, and the consumer drops what it already has by version.
2. **Copy** (``copy_table``): a parallel Scan (``Segment``/``TotalSegments``, one thread per
   segment), with ``ConsistentRead``: an eventually consistent page could miss a write made just
   before the position, which the stream from the position does not carry either.
3. **Apply the stream from the position** (a trigger whose checkpoint table holds the position),
   and **compare** (``compare_tables``) the two tables by a consistent scan of each.

AWS's other way to copy, ``ExportTableToPointInTime`` (needs point-in-time recovery, writes to
S3), does not exist on DynamoDB Local (``UnknownOperationException``); README, Known differences.

Introduced in notebooks/16-backfill-then-tail.ipynb.
"""

from __future__ import annotations

import itertools
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from boto3.dynamodb.types import TypeDeserializer

from . import _seams
from ._errors import TableError
from ._items import item_key

__all__ = [
    "COMPARE_COLUMNS",
    "COPY_COLUMNS",
    "POSITION_COLUMNS",
    "Difference",
    "SegmentCopy",
    "ShardPosition",
    "StreamPosition",
    "TableComparison",
    "TableCopy",
    "compare_tables",
    "copy_table",
    "take_position",
]

_deserialize = TypeDeserializer().deserialize
_BATCH_WRITE_MAX = 25  # BatchWriteItem's ceiling
_SEGMENTS_MAX = 1_000_000  # TotalSegments' ceiling (Scan, DynamoDB API Reference)
_THREADS_MAX = 100  # the copy runs one thread per segment
_BARRIER_TIMEOUT_S = 60.0

POSITION_COLUMNS = ["Shard", "Parent", "State", "Records read", "Position (resume after)"]
COPY_COLUMNS = ["Segment", "Pages", "Copied before the writes", "Copied after the writes", "Items"]
COMPARE_COLUMNS = ["Key", "Source", "Replica", "Difference"]


def _short(shard_id: str | None) -> str:
    """A shard id as shown (whole: its tail is random, and only the whole id is sanitised in a
    lesson's stored outputs)."""
    return shard_id or ""


def _plain(value: Any) -> Any:
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    return value


def _text(item: dict[str, Any] | None, keys: list[str]) -> str:
    """An item's non-key attributes, by name: ``status=paid, version=2``."""
    if item is None:
        return "(absent)"
    return ", ".join(f"{k}={_plain(item[k])}" for k in sorted(item) if k not in keys)


def _key_text(item: dict[str, Any], keys: list[str]) -> str:
    return "/".join(str(_plain(item[k])) for k in keys if k in item)


# -- 1. the position ------------------------------------------------------------------------
@dataclass(frozen=True)
class ShardPosition:
    """Where one shard stood when the position was taken."""

    shard_id: str
    parent_shard_id: str | None
    closed: bool
    sequence_number: str | None  # resume after it; None: read the shard from its start
    records_read: int

    @property
    def where(self) -> str:
        if self.sequence_number is None:
            return "no record yet: from its start (TRIM_HORIZON)"
        return f"#{int(self.sequence_number)}"


@dataclass(frozen=True)
class StreamPosition:
    """A stream position: for each shard, the sequence number to resume after.

    ``checkpoints`` is what a consumer stores to start there (``lab.stream_position(...,
    checkpoint_table=...)`` stores it for a trigger). Introduced in
    notebooks/16-backfill-then-tail.ipynb.
    """

    table_name: str
    stream_arn: str
    shards: tuple[ShardPosition, ...]
    saved_in: str | None = None  # the checkpoint table that holds it, if any
    consumer: str | None = None

    @property
    def checkpoints(self) -> dict[str, str]:
        return {s.shard_id: s.sequence_number for s in self.shards if s.sequence_number}

    def rows(self) -> list[dict[str, Any]]:
        return [
            {
                "Shard": _short(s.shard_id),
                "Parent": _short(s.parent_shard_id) or "(none)",
                "State": "closed" if s.closed else "open",
                "Records read": s.records_read,
                "Position (resume after)": s.where,
            }
            for s in self.shards
        ]

    def table(self) -> Any:
        """One row per shard: its state, the records read to find its end, the position."""
        return _seams.table(self.rows(), POSITION_COLUMNS)

    def __repr__(self) -> str:
        where = ", ".join(f"{_short(s.shard_id)} {s.where}" for s in self.shards)
        saved = f", saved in {self.saved_in!r} for {self.consumer!r}" if self.saved_in else ""
        return f"StreamPosition({self.table_name!r}: {where}{saved})"


def _shards(streams: Any, stream_arn: str) -> list[dict[str, Any]]:
    """Every shard of the stream (paginated DescribeStream)."""
    out: list[dict[str, Any]] = []
    kwargs: dict[str, Any] = {"StreamArn": stream_arn}
    while True:
        desc = streams.describe_stream(**kwargs)["StreamDescription"]
        out.extend(desc.get("Shards", []))
        last = desc.get("LastEvaluatedShardId")
        if not last:
            return out
        kwargs["ExclusiveStartShardId"] = last


def _last_sequence_number(streams: Any, stream_arn: str, shard_id: str) -> tuple[str | None, int]:
    """Read an open shard from TRIM_HORIZON to the first empty page: its last sequence number
    (None if it has no record) and how many records were read. On AWS an empty page may come
    before the shard's true end; stopping there gives an earlier position, which is safe."""
    iterator = streams.get_shard_iterator(
        StreamArn=stream_arn, ShardId=shard_id, ShardIteratorType="TRIM_HORIZON"
    )["ShardIterator"]
    last: str | None = None
    count = 0
    while iterator:
        page = streams.get_records(ShardIterator=iterator, Limit=1000)
        records = page.get("Records", [])
        if not records:
            break
        count += len(records)
        last = records[-1]["dynamodb"]["SequenceNumber"]
        iterator = page.get("NextShardIterator")
    return last, count


def take_position(streams: Any, table_name: str, stream_arn: str) -> StreamPosition:
    """The stream's position now, shard by shard (see the module's docstring)."""
    shards: list[ShardPosition] = []
    for shard in _shards(streams, stream_arn):
        ending = shard.get("SequenceNumberRange", {}).get("EndingSequenceNumber")
        if ending is not None:
            shards.append(
                ShardPosition(shard["ShardId"], shard.get("ParentShardId"), True, ending, 0)
            )
            continue
        last, count = _last_sequence_number(streams, stream_arn, shard["ShardId"])
        shards.append(
            ShardPosition(shard["ShardId"], shard.get("ParentShardId"), False, last, count)
        )
    return StreamPosition(table_name, stream_arn, tuple(shards))


# -- 2. the copy ----------------------------------------------------------------------------
@dataclass
class SegmentCopy:
    """What one segment of the parallel scan copied, page by page (each page's keys)."""

    segment: int
    pages: list[list[str]] = field(default_factory=list)

    @property
    def items(self) -> int:
        return sum(len(p) for p in self.pages)


@dataclass(frozen=True)
class TableCopy:
    """A finished copy: each segment's pages, and when the writes made during it ran.

    Introduced in notebooks/16-backfill-then-tail.ipynb.
    """

    source: str
    target: str
    total_segments: int
    page_size: int
    segments: tuple[SegmentCopy, ...]
    during_ran: bool

    @property
    def items(self) -> int:
        return sum(s.items for s in self.segments)

    def rows(self) -> list[dict[str, Any]]:
        rows = []
        for s in self.segments:
            first = s.pages[0] if s.pages else []
            later = [k for page in s.pages[1:] for k in page]
            rows.append(
                {
                    "Segment": s.segment,
                    "Pages": len(s.pages),
                    "Copied before the writes": ", ".join(first) or "(none)",
                    "Copied after the writes": ", ".join(later) or "(none)",
                    "Items": s.items,
                }
            )
        return rows

    def table(self) -> Any:
        """One row per segment: the keys its first page copied (before ``during`` ran, if it
        was given) and the keys of its later pages."""
        return _seams.table(self.rows(), COPY_COLUMNS)

    def __repr__(self) -> str:
        return (
            f"TableCopy({self.source!r} -> {self.target!r}: {self.items} items, "
            f"{self.total_segments} segments)"
        )


def _write(dynamodb: Any, target: str, items: list[dict[str, Any]]) -> None:
    """BatchWriteItem in chunks of 25, sending unprocessed items again after a growing pause
    (AWS returns them when a partition is throttled)."""
    for start in range(0, len(items), _BATCH_WRITE_MAX):
        chunk = items[start : start + _BATCH_WRITE_MAX]
        requests = {target: [{"PutRequest": {"Item": i}} for i in chunk]}
        for attempt in itertools.count():
            requests = dynamodb.batch_write_item(RequestItems=requests).get("UnprocessedItems")
            if not requests:
                break
            time.sleep(min(0.05 * 2**attempt, 2.0))


def copy_table(
    dynamodb: Any,
    source: str,
    target: str,
    *,
    keys: list[str],
    total_segments: int = 4,
    page_size: int = 100,
    during: Callable[[], Any] | None = None,
) -> TableCopy:
    """Copy every item of ``source`` into ``target`` with a parallel Scan: ``total_segments``
    threads, each scanning its segment in pages of ``page_size`` items (``Limit``) with
    ``ConsistentRead`` and writing each page with BatchWriteItem.

    ``during`` stands for the application writing while the copy runs: once every segment has
    copied its first page, it runs (in one of the copy's threads) while the segments wait, and
    then they copy the rest. So which writes the copy sees is the same on every run (a real
    writer's land anywhere in between): a change to an item of a first page is not seen; a
    change to an item of a later page is.
    """
    if not isinstance(total_segments, int) or not 1 <= total_segments <= _SEGMENTS_MAX:
        raise TableError(
            f"total_segments={total_segments!r} is not a Scan's TotalSegments (1 to 1,000,000).",
            "pass a small number of segments, one per worker thread, such as total_segments=4.",
        )
    if total_segments > _THREADS_MAX:
        raise TableError(
            f"total_segments={total_segments} would start {total_segments} threads: the copy "
            f"runs one thread per segment, and labkit allows at most {_THREADS_MAX}.",
            "pass fewer segments, such as total_segments=4 (a Scan may have up to 1,000,000 "
            "segments, each worker then scanning several in turn).",
        )
    if not isinstance(page_size, int) or page_size < 1:
        raise TableError(
            f"page_size={page_size!r} is not a Scan's Limit (a positive number of items).",
            "pass page_size=100, or a small number to see the pages in a lesson.",
        )
    if during is not None and not callable(during):
        raise TableError(
            f"during={during!r} is not a function.",
            "pass a function of no arguments that makes the writes, such as during=app_writes.",
        )
    segments = tuple(SegmentCopy(n) for n in range(total_segments))
    failures: list[BaseException] = []
    ran: list[bool] = []

    def run_during() -> None:
        try:
            if during is not None:
                during()
                ran.append(True)
        except BaseException as exc:  # re-raised by the caller, after every thread ended
            failures.append(exc)
            raise

    barrier = threading.Barrier(total_segments, action=run_during)

    def scan(segment: SegmentCopy) -> None:
        kwargs: dict[str, Any] = {
            "TableName": source,
            "Segment": segment.segment,
            "TotalSegments": total_segments,
            "Limit": page_size,
            "ConsistentRead": True,
        }
        try:
            while True:
                page = dynamodb.scan(**kwargs)
                items = page.get("Items", [])
                if items:
                    _write(dynamodb, target, items)
                segment.pages.append(
                    [_key_text({k: _deserialize(v) for k, v in i.items()}, keys) for i in items]
                )
                if len(segment.pages) == 1 and during is not None:
                    barrier.wait(timeout=_BARRIER_TIMEOUT_S)
                if "LastEvaluatedKey" not in page:
                    return
                kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]
        except threading.BrokenBarrierError:
            if not failures:  # no failure of a segment or of `during`: the wait timed out
                failures.append(
                    TableError(
                        f"Copying {source!r}: the segments did not all copy their first page "
                        f"within {_BARRIER_TIMEOUT_S:.0f} s, so the writes of `during` never ran "
                        "and the copy stopped.",
                        "check the endpoint with `python -m labkit doctor`, then copy again "
                        "into an empty table.",
                    )
                )
        except BaseException as exc:
            failures.append(exc)
            barrier.abort()

    threads = [
        threading.Thread(target=scan, args=(s,), name=f"labkit-copy-{s.segment}", daemon=True)
        for s in segments
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if failures:
        raise failures[0]
    for segment in segments:  # an empty last page (the scan's end) is no page of items
        if len(segment.pages) > 1 and not segment.pages[-1]:
            segment.pages.pop()
    return TableCopy(source, target, total_segments, page_size, segments, bool(ran))


# -- 3. the compare -------------------------------------------------------------------------
@dataclass(frozen=True)
class Difference:
    """One key whose item differs between the two tables (None: absent from that table)."""

    key: str
    source: dict[str, Any] | None
    target: dict[str, Any] | None

    @property
    def what(self) -> str:
        if self.target is None:
            return "missing from the replica"
        if self.source is None:
            return "in the replica only (deleted at the source)"
        names = sorted(set(self.source) | set(self.target))
        changed = [n for n in names if self.source.get(n) != self.target.get(n)]
        return f"differs in {', '.join(changed)}"


@dataclass(frozen=True)
class TableComparison:
    """Two tables compared item by item, by a consistent scan of each.

    Introduced in notebooks/16-backfill-then-tail.ipynb.
    """

    source: str
    target: str
    keys: tuple[str, ...]
    source_items: int
    target_items: int
    differences: tuple[Difference, ...]

    @property
    def equal(self) -> bool:
        return not self.differences

    @property
    def summary(self) -> str:
        if self.equal:
            return f"{self.target} equals {self.source}: {self.source_items} items, each the same"
        n = len(self.differences)
        return (
            f"{self.target} differs from {self.source}: {n} item{'s' * (n != 1)} "
            f"({self.source_items} items in {self.source}, {self.target_items} in {self.target})"
        )

    def rows(self) -> list[dict[str, Any]]:
        keys = list(self.keys)
        return [
            {
                "Key": d.key,
                "Source": _text(d.source, keys),
                "Replica": _text(d.target, keys),
                "Difference": d.what,
            }
            for d in self.differences
        ]

    def table(self) -> Any:
        """The items that differ, one row each (an empty table when the two are equal)."""
        return _seams.table(self.rows(), COMPARE_COLUMNS)

    def __repr__(self) -> str:
        return f"TableComparison({self.summary})"


def compare_tables(
    source: str,
    target: str,
    keys: list[str],
    source_items: list[dict[str, Any]],
    target_items: list[dict[str, Any]],
) -> TableComparison:
    """Compare two scans (Python values, as ``lab.items`` gives them) item by item."""
    left = {item_key(i, keys): i for i in source_items}
    right = {item_key(i, keys): i for i in target_items}
    differences = tuple(
        Difference(_key_text(left.get(k) or right[k], keys), left.get(k), right.get(k))
        for k in sorted(set(left) | set(right))
        if left.get(k) != right.get(k)
    )
    return TableComparison(
        source, target, tuple(keys), len(source_items), len(target_items), differences
    )

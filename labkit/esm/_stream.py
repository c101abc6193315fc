"""Reading a DynamoDB stream: every shard, parents before children, with checkpoints.

A ``StreamReader`` is one consumer of one stream. It lists shards with a paginated
DescribeStream, reads a shard only once its parent is finished (so per-item order holds across
shard splits), keeps a checkpoint (the last sequence number *processed*) per shard, and when an
iterator expires gets a fresh one after that checkpoint. Records read past the checkpoint but not
committed are read again (at-least-once).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from botocore.exceptions import ClientError

from .._errors import StreamNotEnabledError
from ._checkpoints import CheckpointStore, MemoryCheckpoints
from ._records import key_of, shape

__all__ = ["ShardState", "StartingPosition", "StreamReader"]

_GET_RECORDS_MAX = 1000  # the GetRecords Limit ceiling
_RETRY_WITH_NEW_ITERATOR = ("ExpiredIteratorException", "TrimmedDataAccessException")


class StartingPosition(StrEnum):
    """Where a new consumer starts in a shard that existed when it was created."""

    TRIM_HORIZON = "TRIM_HORIZON"
    LATEST = "LATEST"


@dataclass
class ShardState:
    """What a reader knows of one shard."""

    shard_id: str
    parent_shard_id: str | None
    checkpoint: str | None = None  # last sequence number processed
    iterator: str | None = None
    closed: bool = False  # the shard has an ending sequence number: no new records
    ended: bool = False  # read to its end: GetRecords gave no next iterator
    finished: bool = False  # ended, and everything read from it is processed


class StreamReader:
    """One consumer of a stream (the trigger and the tracer each have their own).

    Introduced in notebooks/01-stream-processing-flow.ipynb.
    """

    def __init__(
        self,
        streams: Any,
        stream_arn: str,
        starting_position: StartingPosition | str = StartingPosition.TRIM_HORIZON,
        *,
        checkpoints: CheckpointStore | None = None,
    ) -> None:
        if not self.is_stream_arn(stream_arn):
            raise StreamNotEnabledError(
                f"{str(stream_arn)[:80]!r} is not a stream ARN.",
                "pass the ARN of a table's stream: lk.StreamReader(lab.streams, "
                "lab.stream_arn('orders')).",
            )
        if str(starting_position) not in StartingPosition.__members__:
            raise StreamNotEnabledError(
                f"starting_position={starting_position!r} is not TRIM_HORIZON or LATEST.",
                "pass starting_position='TRIM_HORIZON' or 'LATEST'.",
            )
        self.streams = streams
        self.stream_arn = stream_arn
        self.starting_position = StartingPosition(starting_position)
        self.checkpoints: CheckpointStore = checkpoints or MemoryCheckpoints()
        self.shards: dict[str, ShardState] = {}
        self.notices: list[str] = []  # things a learner must be told (trimmed records)
        self.refresh()
        if self.starting_position is StartingPosition.LATEST:
            # LATEST means "after what is there now". Rather than hold a LATEST iterator (which
            # expires after 15 minutes and, on DynamoDB Local, breaks on an empty shard), the
            # reader skips to the current end and checkpoints there: every later retry or
            # fresh iterator then starts after that point, never before it.
            for shard in self.shards.values():
                if shard.checkpoint is not None:
                    continue  # a stored checkpoint wins: resume there (a restarted consumer)
                if shard.closed:
                    self.finish(shard)
                    continue
                while records := self.read(shard):
                    self.commit(shard, self.sequence_of(records[-1]))

    # -- what a record is on this kind of stream (``_kinesis.KinesisReader`` has its own) -------
    @staticmethod
    def is_stream_arn(arn: object) -> bool:
        return isinstance(arn, str) and "/stream/" in arn

    @staticmethod
    def sequence_of(raw: dict[str, Any]) -> str:
        """A record's sequence number, as GetRecords gave the record."""
        return str(raw["dynamodb"]["SequenceNumber"])

    @staticmethod
    def shape(raw: dict[str, Any], stream_arn: str) -> tuple[dict[str, Any], tuple[str, ...]]:
        """The record as Lambda delivers it, and the notes of any correction (``_records``)."""
        return shape(raw, stream_arn)

    @staticmethod
    def created_of(shaped: dict[str, Any], default: float) -> float:
        """When the change was made (epoch seconds), from the delivered record."""
        return float(shaped["dynamodb"].get("ApproximateCreationDateTime", default))

    @staticmethod
    def key_of(shaped: dict[str, Any]) -> str:
        """What keeps records in order on one lane: the item's key."""
        return key_of(shaped)

    # -- shards ---------------------------------------------------------------------------
    def refresh(self) -> None:
        """Learn new shards and which shards have closed (paginated DescribeStream)."""
        start: str | None = None
        while True:
            kwargs: dict[str, Any] = {"StreamArn": self.stream_arn}
            if start:
                kwargs["ExclusiveStartShardId"] = start
            desc = self.streams.describe_stream(**kwargs)["StreamDescription"]
            for shard in desc.get("Shards", []):
                state = self.shards.get(shard["ShardId"])
                if state is None:
                    state = ShardState(shard["ShardId"], shard.get("ParentShardId"))
                    state.checkpoint = self.checkpoints.get(state.shard_id)
                    self.shards[state.shard_id] = state
                if "EndingSequenceNumber" in shard.get("SequenceNumberRange", {}):
                    state.closed = True
            start = desc.get("LastEvaluatedShardId")
            if not start:
                return

    def readable(self) -> list[ShardState]:
        """Unfinished shards whose parent is finished or unknown (trimmed), parents first."""
        ready = [
            s
            for s in self.shards.values()
            if not s.finished
            and (
                s.parent_shard_id is None
                or s.parent_shard_id not in self.shards
                or self.shards[s.parent_shard_id].finished
            )
        ]
        return sorted(ready, key=lambda s: s.shard_id)

    # -- records --------------------------------------------------------------------------
    def _iterator(self, shard_id: str, kind: str, sequence_number: str | None = None) -> str:
        kwargs: dict[str, Any] = {
            "StreamArn": self.stream_arn,
            "ShardId": shard_id,
            "ShardIteratorType": kind,
        }
        if sequence_number is not None:
            kwargs["SequenceNumber"] = sequence_number
        return str(self.streams.get_shard_iterator(**kwargs)["ShardIterator"])

    def _fresh_iterator(self, shard: ShardState) -> str:
        if shard.checkpoint is not None:
            return self._iterator(shard.shard_id, "AFTER_SEQUENCE_NUMBER", shard.checkpoint)
        return self._iterator(shard.shard_id, "TRIM_HORIZON")

    def read(self, shard: ShardState, limit: int = _GET_RECORDS_MAX) -> list[dict[str, Any]]:
        """One GetRecords call on ``shard``; marks the shard ended when it has no more records."""
        if shard.iterator is None:
            shard.iterator = self._fresh_iterator(shard)
        try:
            resp = self.streams.get_records(
                ShardIterator=shard.iterator, Limit=min(limit, _GET_RECORDS_MAX)
            )
        except ClientError as exc:
            # ExpiredIteratorException: iterators live 15 minutes; get a new one after the
            # checkpoint. TrimmedDataAccessException: DynamoDB Local raises it for an iterator
            # taken while the shard was empty once the shard's first record arrives (sequence
            # numbers are global across its tables, so that record rarely has the number the
            # iterator expects). A new iterator after the checkpoint reads it correctly.
            if exc.response["Error"]["Code"] not in _RETRY_WITH_NEW_ITERATOR:
                raise
            shard.iterator = self._fresh_iterator(shard)
            try:
                resp = self.streams.get_records(
                    ShardIterator=shard.iterator, Limit=min(limit, _GET_RECORDS_MAX)
                )
            except ClientError as again:
                if again.response["Error"]["Code"] != "TrimmedDataAccessException":
                    raise
                # Really trimmed: the records after the checkpoint are gone (older than 24 h).
                # Say so, and go on from the oldest record still there.
                self.notices.append(
                    f"Records of shard {shard.shard_id} after sequence number "
                    f"{shard.checkpoint or '(start)'} were trimmed from the "
                    "stream before they were processed; continuing from the oldest record "
                    "still there (TRIM_HORIZON)."
                )
                shard.iterator = self._iterator(shard.shard_id, "TRIM_HORIZON")
                resp = self.streams.get_records(
                    ShardIterator=shard.iterator, Limit=min(limit, _GET_RECORDS_MAX)
                )
        records: list[dict[str, Any]] = resp.get("Records", [])
        shard.iterator = resp.get("NextShardIterator")
        if shard.iterator is None:  # a closed shard read to its end
            shard.closed = True
            shard.ended = True
        return records

    def read_range(self, shard_id: str, first: str, last: str) -> list[dict[str, Any]]:
        """The records of ``shard_id`` from sequence number ``first`` to ``last`` (inclusive),
        without touching the reader's position or checkpoints."""
        iterator: str | None = self._iterator(shard_id, "AT_SEQUENCE_NUMBER", first)
        out: list[dict[str, Any]] = []
        end = int(last)
        while iterator:
            resp = self.streams.get_records(ShardIterator=iterator, Limit=_GET_RECORDS_MAX)
            records = resp.get("Records", [])
            for record in records:
                if int(self.sequence_of(record)) > end:
                    return out
                out.append(record)
            if not records:
                return out
            iterator = resp.get("NextShardIterator")
        return out

    def commit(self, shard: ShardState, sequence_number: str) -> None:
        """Record that everything up to ``sequence_number`` in ``shard`` is processed."""
        shard.checkpoint = sequence_number
        self.checkpoints.put(shard.shard_id, sequence_number)

    def finish(self, shard: ShardState) -> None:
        """Record that ``shard`` is ended and everything read from it is processed: its
        children become readable."""
        shard.finished = True

    def take_notices(self) -> list[str]:
        """The notices (trimmed records) gathered since the last call, and forget them."""
        notices, self.notices = self.notices, []
        return notices

    def read_all(self) -> list[dict[str, Any]]:
        """Every record not read yet, on every shard, committed as read (for observers)."""
        out: list[dict[str, Any]] = []
        self.refresh()
        progressed = True
        while progressed:
            progressed = False
            for shard in self.readable():
                while True:
                    records = self.read(shard)
                    if records:
                        self.commit(shard, self.sequence_of(records[-1]))
                        out.extend(records)
                        progressed = True
                    if not records or shard.ended:
                        break
                if shard.ended:  # everything read is committed at once here
                    self.finish(shard)
                    progressed = True
        return out

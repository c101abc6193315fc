"""A Lambda trigger on a Kinesis data stream: the same mapping, another reader and record shape.

Lambda's event source mapping for Kinesis polls each shard, batches, retries, bisects and
checkpoints as it does for a DynamoDB stream ("Using AWS Lambda with Amazon Kinesis Data
Streams"), so ``KinesisTrigger`` is the ``Trigger`` with two rooms changed, kept here:

* ``KinesisReader``: the Kinesis API (ListShards, GetShardIterator with ``StreamARN`` and
  ``StartingSequenceNumber``, GetRecords), the record's ``SequenceNumber`` at the top level, and
  no ``TrimmedDataAccessException`` (an iterator after a trimmed record starts at the oldest one
  still there).
* ``kinesis_record``: the record as Lambda delivers it from Kinesis, as the Lambda guide's
  example event shows it (``kinesis.kinesisSchemaVersion``, ``partitionKey``,
  ``sequenceNumber``, ``data`` in base64, ``approximateArrivalTimestamp`` in epoch seconds with
  milliseconds; ``eventSource: "aws:kinesis"``, ``eventVersion: "1.0"``,
  ``eventID: "<shard id>:<sequence number>"``, ``eventName: "aws:kinesis:record"``,
  ``invokeIdentityArn``, ``awsRegion``, ``eventSourceARN``). Powertools' parser model
  ``KinesisDataStreamRecord`` has the same fields.

The run loop, batching, retries, partial batch responses, the runtime and the invocation log are
the ``Trigger``'s, unchanged. Before each pass the trigger calls ``feed`` (the lab's Kinesis
streaming destinations forward the table's pending changes, ``_kds.py``), as on AWS the records
would already be in the stream.
"""

from __future__ import annotations

import base64
import datetime as dt
from collections.abc import Callable
from typing import Any

from botocore.exceptions import ClientError

from ._stream import ShardState, StreamReader
from ._trigger import Blocked, Trigger

__all__ = ["KinesisReader", "KinesisTrigger", "is_kinesis_arn", "kinesis_record"]

_GET_RECORDS_MAX = 10_000  # Kinesis GetRecords' Limit ceiling (DynamoDB Streams': 1,000)
_ROLE = "arn:aws:iam::000000000000:role/labkit-lambda-role"


def is_kinesis_arn(arn: object) -> bool:
    """``arn:aws:kinesis:<region>:<account>:stream/<name>``."""
    return isinstance(arn, str) and arn.startswith("arn:aws:kinesis:") and ":stream/" in arn


def _epoch(value: Any) -> float:
    if isinstance(value, dt.datetime):
        return round(value.timestamp(), 3)
    return round(float(value), 3)


def kinesis_record(raw: dict[str, Any], stream_arn: str, shard_id: str) -> dict[str, Any]:
    """One GetRecords record as Lambda delivers it from a Kinesis stream."""
    data = raw["Data"]
    if isinstance(data, str):
        data = data.encode()
    region = stream_arn.split(":")[3]
    return {
        "kinesis": {
            "kinesisSchemaVersion": "1.0",
            "partitionKey": raw["PartitionKey"],
            "sequenceNumber": raw["SequenceNumber"],
            "data": base64.b64encode(data).decode(),
            "approximateArrivalTimestamp": _epoch(raw["ApproximateArrivalTimestamp"]),
        },
        "eventSource": "aws:kinesis",
        "eventVersion": "1.0",
        "eventID": f"{shard_id}:{raw['SequenceNumber']}",
        "eventName": "aws:kinesis:record",
        "invokeIdentityArn": _ROLE,
        "awsRegion": region,
        "eventSourceARN": stream_arn,
    }


class KinesisReader(StreamReader):
    """One consumer of a Kinesis stream: a ``StreamReader`` speaking the Kinesis API."""

    @staticmethod
    def is_stream_arn(arn: object) -> bool:
        return is_kinesis_arn(arn)

    @staticmethod
    def sequence_of(raw: dict[str, Any]) -> str:
        return str(raw["SequenceNumber"])

    @staticmethod
    def shape(raw: dict[str, Any], stream_arn: str) -> tuple[dict[str, Any], tuple[str, ...]]:
        return kinesis_record(raw, stream_arn, raw.get("_labkit_shard", "shardId-000000000000")), ()

    @staticmethod
    def created_of(shaped: dict[str, Any], default: float) -> float:
        return float(shaped["kinesis"]["approximateArrivalTimestamp"])

    @staticmethod
    def key_of(shaped: dict[str, Any]) -> str:
        return str(shaped["kinesis"]["partitionKey"])

    def refresh(self) -> None:
        """Learn the stream's shards and which have closed (paginated ListShards)."""
        kwargs: dict[str, Any] = {"StreamARN": self.stream_arn}
        while True:
            page = self.streams.list_shards(**kwargs)
            for shard in page.get("Shards", []):
                state = self.shards.get(shard["ShardId"])
                if state is None:
                    state = ShardState(shard["ShardId"], shard.get("ParentShardId"))
                    state.checkpoint = self.checkpoints.get(state.shard_id)
                    self.shards[state.shard_id] = state
                if "EndingSequenceNumber" in shard.get("SequenceNumberRange", {}):
                    state.closed = True
            if not page.get("NextToken"):
                return
            kwargs = {"NextToken": page["NextToken"]}

    def _iterator(self, shard_id: str, kind: str, sequence_number: str | None = None) -> str:
        kwargs: dict[str, Any] = {
            "StreamARN": self.stream_arn,
            "ShardId": shard_id,
            "ShardIteratorType": kind,
        }
        if sequence_number is not None:
            kwargs["StartingSequenceNumber"] = sequence_number
        return str(self.streams.get_shard_iterator(**kwargs)["ShardIterator"])

    def read(self, shard: ShardState, limit: int = _GET_RECORDS_MAX) -> list[dict[str, Any]]:
        """One GetRecords call on ``shard``; each record remembers its shard (for ``eventID``)."""
        if shard.iterator is None:
            shard.iterator = self._fresh_iterator(shard)
        call = {"Limit": min(limit, _GET_RECORDS_MAX), "StreamARN": self.stream_arn}
        try:
            resp = self.streams.get_records(ShardIterator=shard.iterator, **call)
        except ClientError as exc:
            if exc.response["Error"]["Code"] != "ExpiredIteratorException":
                raise
            shard.iterator = self._fresh_iterator(shard)  # iterators live 5 minutes
            resp = self.streams.get_records(ShardIterator=shard.iterator, **call)
        records: list[dict[str, Any]] = resp.get("Records", [])
        for record in records:
            record["_labkit_shard"] = shard.shard_id
        shard.iterator = resp.get("NextShardIterator")
        if shard.iterator is None:  # a closed shard read to its end
            shard.closed = shard.ended = True
        return records


class KinesisTrigger(Trigger):
    """A handler attached to a Kinesis data stream (``lab.trigger(stream_arn, fn, ...)``).

    Introduced in notebooks/15-kinesis-data-streams.ipynb.
    """

    reader_type = KinesisReader
    feed: Callable[[], object] | None = None  # forwards pending changes into the stream

    def _pass(self, *, live: bool, blocked: Blocked) -> bool:
        if self.feed is not None:
            self.feed()
        return super()._pass(live=live, blocked=blocked)

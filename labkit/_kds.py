"""Kinesis Data Streams for DynamoDB: a table's changes forwarded to a Kinesis data stream.

On AWS, ``EnableKinesisStreamingDestination`` makes DynamoDB itself put a record in the Kinesis
stream for each change of the table. DynamoDB Local does not implement the operation (it answers
``UnknownOperationException``), so labkit plays DynamoDB's part: it reads the table's own stream
(``NEW_AND_OLD_IMAGES``, from the moment the destination is enabled, as on AWS only later
changes are sent) and ``PutRecord``\\ s each change into the local Kinesis stream. This module is
that part; it sits beside ``_lab.py`` because it is neither the event source mapping (it is the
*producer* of the Kinesis stream) nor the backend (it talks to two of them).

The record is shaped as the DynamoDB guide documents it ("Using Kinesis Data Streams to capture
changes to DynamoDB", kds.html, and "Getting started", kds_gettingstarted.html) and as
Powertools' parser types it (``DynamoDBStreamToKinesisRecord``): ``awsRegion``, ``eventID``,
``eventName``, ``userIdentity`` (``null`` for an application's change), ``recordFormat:
"application/json"``, ``tableName``, ``dynamodb`` with ``ApproximateCreationDateTime`` (epoch
milliseconds or microseconds, as ``ApproximateCreationDateTimePrecision`` asks; microseconds by
default, as in the console), ``Keys``, ``NewImage``, ``OldImage``, ``SizeBytes`` and
``ApproximateCreationDateTimePrecision``, and ``eventSource: "aws:dynamodb"``. The Kinesis
partition key is 32 hexadecimal digits, as in the records AWS writes; AWS does not document how
it is made, so labkit uses the MD5 of the item's key: every change of one item goes to one
shard, in order, and items spread over the shards.

When it forwards: whenever a reader of the lab asks (a Kinesis trigger's run or poll, a GetRecords
through ``lab.kinesis``), and when the lesson calls ``forward()``. Each change is stamped with the
time labkit read it from DynamoDB Local's stream (whose own ``ApproximateCreationDateTime`` is
rounded down to the minute), in the precision asked, and never two changes with the same stamp:
AWS, too, keeps one item's times apart ("If more than one modification occurred to the same item
within the same millisecond, the ApproximateCreationDateTime is increased by 1 millisecond",
kds.html).

**Duplicates and out-of-order records.** AWS says the records of this destination "might appear
in a different sequence than the item changes occurred" and "the same item notifications might
also appear more than once in the stream". Nothing makes that happen by itself on one machine, so
``forward(duplicates=N, out_of_order=M)`` makes it happen on purpose: it says so on the output,
and labels the records in what it returns. Nothing is ever injected otherwise.
"""

from __future__ import annotations

import hashlib
import json
import threading
import time
from dataclasses import dataclass, field
from typing import Any

from boto3.dynamodb.types import TypeDeserializer

from ._errors import TriggerError
from .esm._capture import say
from .esm._records import shape
from .esm._stream import StartingPosition, StreamReader

__all__ = ["PRECISIONS", "KinesisDestination", "kds_record", "partition_key"]

# ApproximateCreationDateTimePrecision -> microseconds per unit
PRECISIONS = {"MILLISECOND": 1000, "MICROSECOND": 1}
_deserialize = TypeDeserializer().deserialize


def partition_key(keys: dict[str, Any]) -> str:
    """The Kinesis partition key of an item's records: 32 hex digits from its key."""
    text = json.dumps(keys, sort_keys=True, separators=(",", ":"))
    return hashlib.md5(text.encode(), usedforsecurity=False).hexdigest().upper()


def kds_record(
    shaped: dict[str, Any], table_name: str, region: str, created: int, precision: str
) -> dict[str, Any]:
    """The Kinesis record's data for one change (``shaped``: the change as Lambda would deliver
    it from the DynamoDB stream; ``created``: its time in ``precision`` units)."""
    ddb = shaped["dynamodb"]
    dynamodb: dict[str, Any] = {"ApproximateCreationDateTime": created, "Keys": ddb["Keys"]}
    for image in ("NewImage", "OldImage"):
        if image in ddb:
            dynamodb[image] = ddb[image]
    dynamodb["SizeBytes"] = ddb.get("SizeBytes", 0)
    dynamodb["ApproximateCreationDateTimePrecision"] = precision
    return {
        "awsRegion": region,
        "eventID": shaped["eventID"],
        "eventName": shaped["eventName"],
        "userIdentity": shaped.get("userIdentity"),
        "recordFormat": "application/json",
        "tableName": table_name,
        "dynamodb": dynamodb,
        "eventSource": "aws:dynamodb",
    }


def _plain_key(keys: dict[str, Any]) -> str:
    return ", ".join(f"{k}={_deserialize(v)}" for k, v in sorted(keys.items()))


@dataclass
class KinesisDestination:
    """A table's Kinesis streaming destination (``lab.enable_kinesis_streaming_destination``).

    ``forward()`` sends the changes not sent yet and returns what it put, one row per
    ``PutRecord``; ``sent`` holds every row so far; ``disable()`` stops forwarding
    (``DisableKinesisStreamingDestination``).

    Introduced in notebooks/15-kinesis-data-streams.ipynb.
    """

    table_name: str
    stream_arn: str
    precision: str
    region: str
    reader: StreamReader = field(repr=False)
    kinesis: Any = field(repr=False)
    status: str = "ACTIVE"
    sent: list[dict[str, Any]] = field(default_factory=list, repr=False)
    _last: int = field(default=0, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    @classmethod
    def enable(
        cls,
        streams: Any,
        kinesis: Any,
        table_name: str,
        table_stream_arn: str,
        stream_arn: str,
        precision: str,
        region: str,
    ) -> KinesisDestination:
        reader = StreamReader(streams, table_stream_arn, StartingPosition.LATEST)
        return cls(table_name, stream_arn, precision, region, reader, kinesis)

    def describe(self) -> dict[str, Any]:
        """This destination as ``DescribeKinesisStreamingDestination`` lists it."""
        return {
            "StreamArn": self.stream_arn,
            "DestinationStatus": self.status,
            "ApproximateCreationDateTimePrecision": self.precision,
        }

    def disable(self) -> None:
        """Stop forwarding (what was sent stays in the Kinesis stream)."""
        self.status = "DISABLED"

    def _stamp(self) -> int:
        """Now, in this destination's precision, after every earlier stamp."""
        unit = PRECISIONS[self.precision]
        now = time.time_ns() // 1000 // unit
        self._last = max(now, self._last + 1)
        return self._last

    def forward(
        self, *, duplicates: int = 0, out_of_order: int = 0, quiet: bool = False
    ) -> list[dict[str, Any]]:
        """Put every change not sent yet into the Kinesis stream; return one row per record put.

        ``duplicates=N`` puts the N earliest changes a second time after the others, and
        ``out_of_order=M`` swaps M pairs of consecutive changes of one item, the later change put
        first, as AWS warns both can happen. Each injection is said on the output (unless
        ``quiet``: ``lk.check``, whose case names say it) and labelled in the row's ``injected``.
        """
        for name, value in (("duplicates", duplicates), ("out_of_order", out_of_order)):
            if not isinstance(value, int) or isinstance(value, bool) or value < 0:
                raise TriggerError(
                    f"forward({name}={value!r}): {name} is a count of records.",
                    f"pass a whole number, 0 or more, such as {name}=1.",
                )
        if self.status != "ACTIVE":
            return []
        with self._lock:
            changes = []
            for raw in self.reader.read_all():
                shaped, _ = shape(raw, self.reader.stream_arn)
                data = kds_record(
                    shaped, self.table_name, self.region, self._stamp(), self.precision
                )
                changes.append([data, ""])
            repeated = [data for data, _ in changes[:duplicates]]  # the earliest changes
            done = self._swap(changes, out_of_order)
            if out_of_order and not quiet:
                say(
                    f"swapped {done} pair(s) of changes of one item in the Kinesis stream (AWS: "
                    "records may appear in a different sequence than the item changes occurred)."
                )
            changes += [[data, "duplicate"] for data in repeated]
            if duplicates and not quiet:
                say(
                    f"injected {min(duplicates, len(changes))} duplicate record(s) into the "
                    "Kinesis stream (AWS: the same item notification may appear more than once)."
                )
            rows, first = [], {}  # eventID -> the sequence number of its first copy
            for data, injected in changes:
                row = self._put(data, injected)
                if injected == "duplicate":
                    row["injected"] = f"duplicate of #{first[data['eventID']]}"
                first.setdefault(data["eventID"], row["SequenceNumber"])
                rows.append(row)
            self.sent.extend(rows)
            return rows

    @staticmethod
    def _swap(changes: list[list[Any]], pairs: int) -> int:
        done, i = 0, 0
        while done < pairs and i < len(changes) - 1:
            first, later = changes[i][0], changes[i + 1][0]
            if first["dynamodb"]["Keys"] == later["dynamodb"]["Keys"]:
                changes[i], changes[i + 1] = changes[i + 1], changes[i]
                changes[i][1] = "sent before the earlier change"
                changes[i + 1][1] = "sent after the later change"
                done += 1
                i += 2
            else:
                i += 1
        return done

    def _put(self, data: dict[str, Any], injected: str) -> dict[str, Any]:
        key = partition_key(data["dynamodb"]["Keys"])
        answer = self.kinesis.put_record(
            StreamARN=self.stream_arn,
            Data=json.dumps(data, separators=(",", ":")).encode(),
            PartitionKey=key,
        )
        return {
            "eventName": data["eventName"],
            "Keys": _plain_key(data["dynamodb"]["Keys"]),
            "NewImage": _plain_key(data["dynamodb"].get("NewImage", {})),
            "ApproximateCreationDateTime": data["dynamodb"]["ApproximateCreationDateTime"],
            "PartitionKey": key,
            "ShardId": answer["ShardId"],
            "SequenceNumber": answer["SequenceNumber"],
            "injected": injected,
        }

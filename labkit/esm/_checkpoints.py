"""Where a trigger remembers how far it got in each shard.

``MemoryCheckpoints`` lives as long as the trigger. ``TableCheckpoints`` keeps them in a DynamoDB
table, one item per shard (the idea of the Kinesis Client Library's lease table), so a consumer
restarted in a new process resumes right after the last record it completed. A checkpoint is
written only after the handler has returned: a crash in between repeats that batch (at-least-
once), never skips it.
"""

from __future__ import annotations

import threading
import time
from typing import Any, Protocol

from botocore.exceptions import ClientError

__all__ = ["CheckpointStore", "MemoryCheckpoints", "TableCheckpoints"]


class CheckpointStore(Protocol):
    """The last sequence number processed, per shard of one stream, for one consumer."""

    def get(self, shard_id: str) -> str | None: ...

    def put(self, shard_id: str, sequence_number: str) -> None: ...

    def all(self) -> dict[str, str]: ...


class MemoryCheckpoints:
    """Checkpoints in memory: gone with the trigger."""

    def __init__(self) -> None:
        self._data: dict[str, str] = {}
        self._lock = threading.Lock()

    def get(self, shard_id: str) -> str | None:
        with self._lock:
            return self._data.get(shard_id)

    def put(self, shard_id: str, sequence_number: str) -> None:
        with self._lock:
            self._data[shard_id] = sequence_number

    def all(self) -> dict[str, str]:
        with self._lock:
            return dict(self._data)


class TableCheckpoints:
    """Checkpoints in a DynamoDB table keyed by ``leaseKey`` (``<consumer>#<shard id>``).

    Each item also records the stream ARN and when it was written. A checkpoint never moves
    backwards: the write is conditional on the stored sequence number being lower, so two
    processes racing on one shard cannot undo each other's progress.

    Introduced in notebooks/03-reading-the-stream.ipynb.
    """

    def __init__(self, dynamodb: Any, table_name: str, consumer: str, stream_arn: str) -> None:
        self.dynamodb = dynamodb
        self.table_name = table_name
        self.consumer = consumer
        self.stream_arn = stream_arn

    def _key(self, shard_id: str) -> dict[str, Any]:
        return {"leaseKey": {"S": f"{self.consumer}#{shard_id}"}}

    def get(self, shard_id: str) -> str | None:
        item = self.dynamodb.get_item(
            TableName=self.table_name, Key=self._key(shard_id), ConsistentRead=True
        ).get("Item")
        return None if item is None else str(item["checkpoint"]["S"])

    def put(self, shard_id: str, sequence_number: str) -> None:
        padded = sequence_number.zfill(40)  # compare sequence numbers as numbers
        try:
            self.dynamodb.put_item(
                TableName=self.table_name,
                Item={
                    **self._key(shard_id),
                    "checkpoint": {"S": sequence_number},
                    "checkpointOrder": {"S": padded},
                    "shardId": {"S": shard_id},
                    "consumer": {"S": self.consumer},
                    "streamArn": {"S": self.stream_arn},
                    "updatedAt": {"N": str(int(time.time()))},
                },
                ConditionExpression="attribute_not_exists(leaseKey) OR checkpointOrder < :new",
                ExpressionAttributeValues={":new": {"S": padded}},
            )
        except ClientError as exc:
            if exc.response["Error"]["Code"] != "ConditionalCheckFailedException":
                raise  # an equal or later checkpoint is already stored: nothing to do

    def all(self) -> dict[str, str]:
        out: dict[str, str] = {}
        kwargs: dict[str, Any] = {
            "TableName": self.table_name,
            "FilterExpression": "#c = :c AND streamArn = :s",
            "ExpressionAttributeNames": {"#c": "consumer"},
            "ExpressionAttributeValues": {":c": {"S": self.consumer}, ":s": {"S": self.stream_arn}},
            "ConsistentRead": True,
        }
        while True:
            page = self.dynamodb.scan(**kwargs)
            for item in page["Items"]:
                out[item["shardId"]["S"]] = item["checkpoint"]["S"]
            if "LastEvaluatedKey" not in page:
                return out
            kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]

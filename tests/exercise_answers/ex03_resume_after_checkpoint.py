"""Lesson 03: the shard iterator to resume from, given a checkpoint (an iterator exercise)."""

from __future__ import annotations

from typing import Any

EXERCISE = "03-resume-after-checkpoint"
FAILING_CASE = "checkpoint at the 2nd record: read only what comes after it"


def REFERENCE(streams: Any, stream_arn: str, shard_id: str, checkpoint: str | None) -> str:
    if checkpoint is None:
        position = {"ShardIteratorType": "TRIM_HORIZON"}
    else:
        position = {"ShardIteratorType": "AFTER_SEQUENCE_NUMBER", "SequenceNumber": checkpoint}
    response = streams.get_shard_iterator(StreamArn=stream_arn, ShardId=shard_id, **position)
    return str(response["ShardIterator"])


def WRONG(streams: Any, stream_arn: str, shard_id: str, checkpoint: str | None) -> str:
    """Resumes AT the checkpoint: the last processed record is read (and processed) again."""
    if checkpoint is None:
        position = {"ShardIteratorType": "TRIM_HORIZON"}
    else:
        position = {"ShardIteratorType": "AT_SEQUENCE_NUMBER", "SequenceNumber": checkpoint}
    response = streams.get_shard_iterator(StreamArn=stream_arn, ShardId=shard_id, **position)
    return str(response["ShardIterator"])

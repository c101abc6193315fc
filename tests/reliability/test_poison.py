"""Poison records are isolated: 1% of the records always fail, and the rest still get through.

A table receives 500 orders; five of them (1%) carry a ``poison`` attribute, and the handler
fails every batch that holds one, whatever the attempt (a record it can never process). The
positions are fixed so that every shape of the problem occurs with ``batch_size`` 20: a poison
record in the middle of a batch, two in one batch, one first in its batch, and one as the very
last record of the stream.

What the AWS Lambda Developer Guide documents ("Retaining discarded records for a DynamoDB event
source in Lambda"; "Lambda parameters for Amazon DynamoDB event source mappings"):

* with ``MaximumRetryAttempts`` the failing batch is retried, then "Lambda discards the records
  and continues processing batches from the stream", sending an invocation record (condition
  ``RetryAttemptsExhausted``, ``approximateInvokeCount``, ``responseContext.functionError``,
  ``DDBStreamBatchInfo`` with the shard, stream and sequence range) to the on-failure
  destination;
* without ``BisectBatchOnFunctionError`` that is the whole batch: a document covers the poison
  record and the healthy records that shared its batch;
* with it, a failed batch is split in two and the halves retried ("Splitting batches doesn't
  consume the retry quota"), which isolates each poison record in a batch of its own: the
  documents cover exactly the poison records and every healthy record is processed;
* with the defaults (retries unlimited, no destination) "a bad record can block processing on
  the affected shard": nothing after it is delivered.

The handler here checks the whole batch before it does anything, so a batch it fails leaves no
trace; "processed" means delivered in a successful invocation.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from decimal import Decimal
from typing import Any

import pandas as pd
import pytest
from _esm import pk, seq, seqs, stream_records

import labkit

ORDERS = 500
BATCH = 20
RETRIES = 2
# 1% of 500. With batches of 20 (records 0-19, 20-39, ...): 7 in the middle of the first batch,
# 123 and 131 in one batch, 240 first in its batch, 499 the last record of the stream.
POISON_AT = (7, 123, 131, 240, 499)

Record = dict[str, Any]


def write_orders(
    lab: labkit.Lab, name: str, count: int, poison_at: tuple[int, ...]
) -> list[Record]:
    """``count`` orders, the ones at ``poison_at`` marked poison; returns the stream's records."""
    table = lab.create_table(name)
    for n in range(count):
        item: dict[str, Any] = {"pk": f"order-{n:03}", "amount": n}
        if n in poison_at:
            item["poison"] = True
        table.put_item(Item=item)
    records = stream_records(lab, name, count)
    assert [n for n, r in enumerate(records) if is_poison(r)] == list(poison_at)
    return records


def is_poison(record: Record) -> bool:
    return "poison" in record["dynamodb"].get("NewImage", {})


def ingester(processed: list[str]) -> Callable[[dict[str, Any], Any], None]:
    """A handler named ``ingest``: fails any batch holding a poison record, on every attempt;
    otherwise appends the batch's sequence numbers to ``processed``."""

    def ingest(event: dict[str, Any], context: Any) -> None:
        bad = [pk(r) for r in event["Records"] if is_poison(r)]
        if bad:
            raise ValueError(f"cannot ingest {', '.join(bad)}: the order is malformed")
        processed.extend(seqs(event["Records"]))

    return ingest


def plain(value: Any) -> Any:
    """A document read back from DynamoDB, with its numbers as ints again."""
    if isinstance(value, dict):
        return {k: plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [plain(v) for v in value]
    if isinstance(value, Decimal):
        return int(value)
    return value


def stored_documents(lab: labkit.Lab, name: str) -> list[dict[str, Any]]:
    """The failure documents in the destination table, by start sequence number."""
    documents = [plain({k: v for k, v in i.items() if k != "pk"}) for i in lab.items(name)]
    return sorted(documents, key=lambda d: int(d["DDBStreamBatchInfo"]["startSequenceNumber"]))


def covered(document: dict[str, Any], in_stream: list[str]) -> list[str]:
    """The sequence numbers of the stream that a document's start..end covers."""
    info = document["DDBStreamBatchInfo"]
    first, last = int(info["startSequenceNumber"]), int(info["endSequenceNumber"])
    return [s for s in in_stream if first <= int(s) <= last]


def check_metadata(
    document: dict[str, Any], lab: labkit.Lab, name: str, trigger: labkit.Trigger, span: list[str]
) -> None:
    """The fields of AWS's invocation record for a batch whose retries ran out."""
    (shard_id,) = trigger.reader.shards
    assert document["requestContext"]["condition"] == "RetryAttemptsExhausted"
    assert document["requestContext"]["approximateInvokeCount"] == RETRIES + 1
    assert document["requestContext"]["functionArn"].endswith(":function:ingest")
    assert document["responseContext"]["functionError"] == "Unhandled"
    info = document["DDBStreamBatchInfo"]
    assert info["streamArn"] == lab.stream_arn(name)
    assert info["shardId"] == shard_id
    assert info["batchSize"] == len(span) >= 1
    assert (info["startSequenceNumber"], info["endSequenceNumber"]) == (span[0], span[-1])


def make_failures_table(lab: labkit.Lab, table_name: Callable[[str], str]) -> str:
    failures = table_name("failures")
    lab.create_table(failures, stream=None)
    return failures


def test_with_bisect_each_poison_record_is_isolated_and_every_other_record_gets_through(
    lab, table_name, make_trigger
):
    name = table_name("orders")
    records = write_orders(lab, name, ORDERS, POISON_AT)
    in_stream = seqs(records)
    poison = [seq(r) for r in records if is_poison(r)]
    failures = make_failures_table(lab, table_name)
    processed: list[str] = []
    trigger = make_trigger(
        name,
        ingester(processed),
        batch_size=BATCH,
        maximum_retry_attempts=RETRIES,
        bisect_batch_on_function_error=True,
        destination_config={"OnFailure": {"Destination": failures}},
    )
    invocations = trigger.run_until_idle()

    # Every poison record alone in a document; the documents cover nothing else.
    documents = stored_documents(lab, failures)
    assert [covered(d, in_stream) for d in documents] == [[s] for s in poison]
    for document in documents:
        check_metadata(document, lab, name, trigger, covered(document, in_stream))
    assert documents == sorted(
        (plain(d.document) for d in trigger.discards),
        key=lambda d: int(d["DDBStreamBatchInfo"]["startSequenceNumber"]),
    )
    # Each was isolated by bisecting, then tried RETRIES + 1 times on its own.
    alone = Counter(i.sequence_numbers[0] for i in invocations if len(i.records) == 1 and not i.ok)
    assert alone == dict.fromkeys(poison, RETRIES + 1)

    # Every healthy record processed exactly once, including those that shared a batch with one.
    counts = Counter(processed)
    healthy = [s for s in in_stream if s not in poison]
    assert sorted(counts, key=int) == healthy
    assert set(counts.values()) == {1}
    (shard,) = trigger.reader.shards.values()
    assert shard.checkpoint == in_stream[-1]  # the last record (a poison one) is behind it
    assert trigger.run_until_idle() == []


def test_without_bisect_a_document_covers_the_whole_failed_batch(lab, table_name, make_trigger):
    name = table_name("orders")
    records = write_orders(lab, name, ORDERS, POISON_AT)
    in_stream = seqs(records)
    poison = [seq(r) for r in records if is_poison(r)]
    failures = make_failures_table(lab, table_name)
    processed: list[str] = []
    trigger = make_trigger(
        name,
        ingester(processed),
        batch_size=BATCH,
        maximum_retry_attempts=RETRIES,
        destination_config={"OnFailure": {"Destination": failures}},
    )
    invocations = trigger.run_until_idle()

    # One document per failed batch: exactly the records of that batch, poison or not.
    failed_batches = []
    for invocation in invocations:
        if not invocation.ok and invocation.sequence_numbers not in failed_batches:
            failed_batches.append(invocation.sequence_numbers)
    documents = stored_documents(lab, failures)
    spans = [covered(d, in_stream) for d in documents]
    assert spans == failed_batches
    for document, span in zip(documents, spans, strict=True):
        check_metadata(document, lab, name, trigger, span)
        assert any(s in poison for s in span)  # none was discarded without a poison record
    lost = [s for span in spans for s in span]
    assert set(poison) <= set(lost)
    # 7, 123 + 131, 240 and 499 fall in four batches of 20: 80 records, 75 of them healthy.
    assert (len(spans), len(lost)) == (4, 4 * BATCH)
    # Each batch was tried RETRIES + 1 times, as a whole.
    attempts = Counter(tuple(i.sequence_numbers) for i in invocations if not i.ok)
    assert attempts == dict.fromkeys(map(tuple, spans), RETRIES + 1)

    # Every other record processed exactly once; the healthy records of a failed batch were
    # discarded with it (the document points at them, for a replay).
    counts = Counter(processed)
    assert sorted(counts, key=int) == [s for s in in_stream if s not in set(lost)]
    assert set(counts.values()) == {1}
    print(
        f"without bisect: {len(poison)} poison records took {len(lost) - len(poison)} healthy "
        f"records with them to {failures}"
    )
    assert trigger.run_until_idle() == []


@pytest.mark.parametrize("bisect", [False, True], ids=["whole-batch", "bisect"])
def test_with_unlimited_retries_and_no_destination_a_poison_record_blocks_the_shard(
    lab, table_name, make_trigger, bisect
):
    # Record 57 sits in the batch of records 40-59; record 83 is never reached.
    name = table_name("orders")
    records = write_orders(lab, name, 100, (57, 83))
    in_stream = seqs(records)
    processed: list[str] = []
    trigger = make_trigger(
        name, ingester(processed), batch_size=BATCH, bisect_batch_on_function_error=bisect
    )
    assert (trigger.config.maximum_retry_attempts, trigger.destination) == (-1, None)
    runs = [trigger.run_until_idle() for _ in range(4)]

    # Nothing after the poison record is delivered: without bisect not even the records before
    # it in its batch; with bisect those get through.
    held_from = 57 if bisect else 40
    assert processed == in_stream[:held_from]
    assert trigger.discards == []
    (shard,) = trigger.reader.shards.values()
    assert shard.checkpoint == in_stream[held_from - 1]
    # Each later run makes one more attempt of the same batch, and only that: the whole batch,
    # or with bisect the poison record alone (records 58 and 59 wait behind it).
    stuck = in_stream[57:58] if bisect else in_stream[40:60]
    for n, run in enumerate(runs[1:], start=2):
        assert [(i.sequence_numbers, i.ok) for i in run] == [(stuck, False)], n
    assert [i.attempt for run in runs[1:] for i in run] == [2, 3, 4]

    # The invocation log says so, on each attempt of the stuck batch (with bisect, the larger
    # batches that failed before it were split, not blocked).
    log = trigger.log()
    assert isinstance(log, pd.DataFrame)
    attempts = log[log["Sequence range"] == f"{stuck[0]}..{stuck[-1]}"]
    assert list(attempts["Outcome"]) == ["error"] * 4
    assert attempts["Notes"].str.contains("shard blocked").all()
    assert not log["Outcome"].str.contains("discarded").any()
    last = log.iloc[-1]
    assert last["Sequence range"] == f"{stuck[0]}..{stuck[-1]}"
    assert last["Attempt"] == 4
    assert "shard blocked" in last["Notes"]

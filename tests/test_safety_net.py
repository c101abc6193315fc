"""A safety net under the engine: one test for each change a mutation probe found unguarded.

``tests/mutation/run_mutants.py`` makes one-line changes to labkit (mutants) and runs the tests
that should notice; seven of them once went unnoticed by every test (five in a first probe, two
more in the full one). Each test here kills one of them, and says which. Every expectation is
computed here from the rule AWS documents (quoted in the docstring) and from what the stream
holds, never copied from labkit's output.

Only public names are used (``import labkit``, the ``lab`` fixture, ``tests/_esm.py``), so the
tests hold however labkit's modules are arranged. Where DynamoDB Local cannot show a behaviour
(it never splits a shard), a stand-in stream client with boto3's three calls takes its place.
"""

from __future__ import annotations

import copy
import datetime as dt
import json
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from _esm import created, iso_epoch, pk, pks, put_items, seq, stream_records, trigger_factory
from _streamcheck import at_least, read_until

import labkit

RBIF = ["ReportBatchItemFailures"]


@pytest.fixture
def make_trigger(lab: labkit.Lab) -> Iterator[Callable[..., labkit.Trigger]]:
    yield from trigger_factory(lab)


# -- ReportBatchItemFailures: the checkpoint goes just before the lowest failure --------------
def test_a_consumer_restarted_after_a_partial_failure_gets_the_failed_record_again(
    lab, table_name, make_trigger
):
    """Lambda DG, "Configuring partial batch response with DynamoDB and Lambda": "If the
    batchItemFailures array contains multiple items, Lambda uses the record with the lowest
    sequence number as the checkpoint. Lambda then retries all records starting from that
    checkpoint." The failed record is retried, so it is not processed: the position kept is the
    record before it, and a consumer that resumes from the kept position gets it again.

    Kills mutant ``rbif-checkpoint-on-failed`` (the checkpoint put ON the lowest failed record:
    the process that retries at once hides it; a restart skips that record for good)."""
    name, checkpoints = table_name("orders"), table_name("checkpoints")
    table = lab.create_table(name)
    put_items(table, "a", "b", "c", "d", "e")
    in_stream = stream_records(lab, name, 5)
    by_pk = {pk(r): seq(r) for r in in_stream}
    failing = ["d", "c"]  # reported in that order: the lowest sequence number counts, not the first
    lowest = min((by_pk[k] for k in failing), key=int)
    order = [seq(r) for r in in_stream]
    expected_checkpoint = order[order.index(lowest) - 1]  # the record just before it
    expected_again = [pk(r) for r in in_stream[order.index(lowest) :]]

    first_calls: list[list[str]] = []

    def billing(event: dict[str, Any], context: Any) -> dict[str, Any]:
        first_calls.append(pks(event["Records"]))
        return {
            "batchItemFailures": [
                {"itemIdentifier": by_pk[k]} for k in failing if k in pks(event["Records"])
            ]
        }

    first = make_trigger(name, billing, function_response_types=RBIF, checkpoint_table=checkpoints)
    first.run_until_idle()  # unlimited retries: c keeps failing, so the shard waits on it
    first.close()  # the consumer stops before c ever succeeds
    assert first_calls[0] == pks(in_stream)
    kept = labkit.TableCheckpoints(lab.dynamodb, checkpoints, "billing", lab.stream_arn(name))
    assert kept.all() == {first.invocations[0].shard_id: expected_checkpoint}

    second_calls: list[list[str]] = []

    def billing_fixed(event: dict[str, Any], context: Any) -> dict[str, Any]:
        second_calls.append(pks(event["Records"]))
        return {"batchItemFailures": []}

    make_trigger(
        name,
        billing_fixed,
        function_response_types=RBIF,
        checkpoint_table=checkpoints,
        function_name="billing",  # the same consumer, resuming
    ).run_until_idle()
    assert second_calls == [expected_again]  # c is delivered again, and nothing before it
    assert set(kept.all().values()) == {order[-1]}


# -- tumbling windows: boundaries are multiples of the window size ----------------------------
def _window_size_off_the_records(records: list[dict[str, Any]]) -> int:
    """A window size for which no record's creation time is a window boundary.

    DynamoDB Local rounds ApproximateCreationDateTime down to the minute, so with a size that
    divides 60 (or a record on a boundary) a window's start would equal the record's time
    whether or not it is floored. A prime size that divides none of the times shows the floor.
    """
    for size in (7, 11, 13, 17, 19, 23, 29, 31, 37, 41, 43, 47):
        if all(created(r) % size for r in records):
            return size
    raise AssertionError("every candidate window size divides a record's creation time")


def test_tumbling_window_bounds_are_floored_to_the_window_size(lab, table_name, make_trigger):
    """Lambda DG, "Implementing stateful DynamoDB stream processing in Lambda": "Tumbling
    windows are distinct time windows that open and close at regular intervals" and "Each
    record of a stream belongs to a specific window." Windows of ``size`` seconds tile time
    from the epoch, so a record created at ``t`` belongs to [t - t % size, t - t % size + size).

    Kills mutant ``window-not-floored`` (the window starting at the record's creation time: with
    60-second windows and DynamoDB Local's minute-rounded times nothing showed it)."""
    name = table_name("orders")
    table = lab.create_table(name)
    put_items(table, "a", "b", "c")
    in_stream = stream_records(lab, name, 3)
    size = _window_size_off_the_records(in_stream)
    window_of = {seq(r): created(r) - created(r) % size for r in in_stream}

    def counting(event: dict[str, Any], context: Any) -> dict[str, Any]:
        return {"state": {"n": event["state"].get("n", 0) + len(event["Records"])}}

    trigger = make_trigger(name, counting, tumbling_window_in_seconds=size)
    trigger.clock = lambda: time.time() + 3600  # every window has ended
    invocations = trigger.run_until_idle()
    with_records = [i for i in invocations if i.records]
    assert [seq(r) for i in with_records for r in i.records] == [seq(r) for r in in_stream]
    for inv in with_records:
        start, end = iso_epoch(inv.event["window"]["start"]), iso_epoch(inv.event["window"]["end"])
        for record in inv.records:
            assert (start, end) == (window_of[seq(record)], window_of[seq(record)] + size), (
                inv.event
            )
    finals = [i for i in invocations if i.event["isFinalInvokeForWindow"]]
    assert {iso_epoch(i.event["window"]["start"]) for i in finals} == set(window_of.values())


# -- tumbling windows: the 1 MB state limit ---------------------------------------------------
MB = 1024 * 1024


def test_a_state_over_1_mb_terminates_the_window_early(lab, table_name, make_trigger):
    """Lambda DG, "Implementing stateful DynamoDB stream processing in Lambda": "Your state can
    be a maximum of 1 MB per shard. If it exceeds that size, Lambda terminates the window
    early." The event field isWindowTerminatedEarly says so; the state the handler returned is
    not carried on (the next invocation starts from an empty state). Below the limit the flag
    stays false and the state is carried on.

    Kills mutant ``window-never-terminated-early`` (the limit ignored: isWindowTerminatedEarly
    never true, the oversized state handed on)."""
    name = table_name("orders")
    table = lab.create_table(name)
    put_items(table, "a", "b", "c", "d")
    in_stream = stream_records(lab, name, 4)
    oversized_at = "b"  # the handler returns a state over 1 MB for this record's batch

    def hoarding(event: dict[str, Any], context: Any) -> dict[str, Any]:
        state = dict(event["state"])
        state["keys"] = [*state.get("keys", []), *pks(event["Records"])]
        if oversized_at in pks(event["Records"]):
            state["blob"] = "x" * (MB + 1)
        return {"state": state}

    trigger = make_trigger(name, hoarding, batch_size=1, tumbling_window_in_seconds=900)
    now = max(created(r) for r in in_stream)
    trigger.clock = lambda: now + 1  # inside the records' window: it stays open
    invocations = [i for i in trigger.run_until_idle() if i.records]
    assert [pks(i.records) for i in invocations] == [[pk(r)] for r in in_stream]
    for before, inv in zip([None, *invocations], invocations, strict=False):
        size = 0 if before is None else len(json.dumps(before.result["state"]).encode())
        starts_window = before is None or before.event["window"] != inv.event["window"]
        early = size > MB and not starts_window
        assert inv.event["isWindowTerminatedEarly"] is early, (pks(inv.records), size)
        if early:
            assert inv.event["state"] == {}
        elif not starts_window:
            assert before is not None and inv.event["state"] == before.result["state"]
    flagged = [pks(i.records) for i in invocations if i.event["isWindowTerminatedEarly"]]
    b_window = next(i for i in invocations if pks(i.records) == ["b"]).event["window"]
    c_window = next(i for i in invocations if pks(i.records) == ["c"]).event["window"]
    if b_window == c_window:  # b and c were written in the same minute (nearly always)
        assert flagged == [["c"]]


# -- beyond the first five: survivors of the full probe ---------------------------------------
def test_an_isolated_record_keeps_its_whole_retry_quota_after_bisecting(
    lab, table_name, make_trigger
):
    """Lambda DG, "Retaining discarded records for a DynamoDB event source in Lambda":
    BisectBatchOnFunctionError "splits a failed batch into two smaller batches, isolating bad
    records", and "Splitting batches doesn't consume the retry quota". Each failed invocation
    of a batch of several records leads to a split, not a retry, so the poison record, once
    alone, is still tried 1 + MaximumRetryAttempts times before it is discarded.

    Kills mutant ``bisect-uses-up-retries`` (a split counted as a retry: with MaximumRetryAttempts
    0 nothing shows it, since a split happens whatever the count)."""
    retries = 2
    name = table_name("orders")
    table = lab.create_table(name)
    put_items(table, "a", "b", "poison", "d")
    in_stream = stream_records(lab, name, 4)
    poison = next(r for r in in_stream if pk(r) == "poison")

    def poison_pill(event: dict[str, Any], context: Any) -> None:
        if "poison" in pks(event["Records"]):
            raise ValueError("cannot process poison")

    trigger = make_trigger(
        name,
        poison_pill,
        batch_size=4,
        maximum_retry_attempts=retries,
        bisect_batch_on_function_error=True,
    )
    invocations = trigger.run_until_idle()
    alone = [i for i in invocations if pks(i.records) == ["poison"]]
    assert len(alone) == 1 + retries
    assert [pk(r) for i in invocations if i.ok for r in i.records] == ["a", "b", "d"]
    assert [x.sequence_numbers for x in trigger.discards] == [(seq(poison),)]


def test_no_lane_gets_more_than_batch_size_records(lab, table_name, make_trigger):
    """Lambda DG, "Lambda parameters for Amazon DynamoDB event source mappings": BatchSize is
    "The maximum number of records in each batch that Lambda pulls from your stream or queue
    and sends to your function". With ParallelizationFactor 2 the records of one item all go to
    one lane ("in-order processing at the item (partition and sort key) level"), so that lane
    holds more records than one batch: it must still send at most BatchSize at a time.

    Kills mutant ``batch-size-plus-one`` (with one lane the lane never holds more than a batch,
    so no other test sees it)."""
    batch_size = 2
    name = table_name("orders")
    table = lab.create_table(name)
    for n in range(7):  # one item, seven versions: one key, so one lane
        table.put_item(Item={"pk": "order-1", "version": n})
    in_stream = stream_records(lab, name, 7)
    calls: list[int] = []

    def handler(event: dict[str, Any], context: Any) -> None:
        calls.append(len(event["Records"]))

    trigger = make_trigger(name, handler, batch_size=batch_size, parallelization_factor=2)
    invocations = trigger.run_until_idle()
    assert calls and max(calls) <= batch_size, calls
    assert [seq(r) for i in invocations for r in i.records] == [seq(r) for r in in_stream]


# -- the tracer: each column from its own source ----------------------------------------------
def test_stream_record_captured_comes_from_the_stream_not_from_the_invocations(lab, table_name):
    """The tracer's "Stream Record Captured" column reports what the stream recorded; "Lambda
    Triggered" what the function was invoked with (lk.Tracer: "each from its own source").
    They differ when a filter drops a record (Lambda DG, "Lambda parameters for Amazon DynamoDB
    event source mappings", FilterCriteria: records that do not match are not sent to the
    function) and when a batch that failed is retried in a later step with no new write.

    Kills mutant ``tracer-captured-from-invocations``."""
    source_name = table_name("orders")
    source = lab.create_table(source_name)
    broken = [True]

    def handler(event: dict[str, Any], context: Any) -> None:
        if broken[0] and "order-2" in pks(event["Records"]):
            raise RuntimeError("billing is down")

    trigger = lab.trigger(
        source_name,
        handler,
        filter_criteria={"Filters": [{"Pattern": json.dumps({"eventName": ["INSERT"]})}]},
    )
    try:
        trace = labkit.Tracer(lab, trigger)
        witness = labkit.StreamReader(lab.streams, lab.stream_arn(source_name), "LATEST")
        captured: list[list[str]] = []

        def seen(n: int) -> None:
            records = read_until(witness, at_least(n)) if n else witness.read_all()
            captured.append([r["eventName"] for r in records])

        with trace.step("Insert order-1"):
            source.put_item(Item={"pk": "order-1", "status": "new"})
        seen(1)
        with trace.step("Delete order-1 (the filter passes INSERTs only)"):
            source.delete_item(Key={"pk": "order-1"})
        seen(1)
        with trace.step("Insert order-2 (billing is down)"):
            source.put_item(Item={"pk": "order-2", "status": "new"})
        seen(1)
        with trace.step("Billing is back: no write"):
            broken[0] = False
        seen(0)
        rows = trace.execution_table().to_dict("records")
    finally:
        trigger.close()

    assert captured == [["INSERT"], ["REMOVE"], ["INSERT"], []]
    for row, names in zip(rows, captured, strict=True):
        column = row["Stream Record Captured"]
        if names:
            assert column.startswith("Yes") and all(n in column for n in names), (row, names)
        else:
            assert column == "No", row
    assert "REMOVE" in rows[1]["Stream Record Captured"]  # recorded, though never delivered
    assert rows[1]["Lambda Triggered"] == "No"
    assert rows[3]["Lambda Triggered"].startswith("Yes")  # delivered, though nothing recorded


# -- shard lineage: a parent shard before its child -------------------------------------------
STAND_IN_ARN = "arn:aws:dynamodb:us-east-1:000000000000:table/orders/stream/2024-01-01T00:00:00.000"
T0 = dt.datetime(2024, 1, 1, tzinfo=dt.UTC)


def _record(key: str, sequence_number: int) -> dict[str, Any]:
    """One record as boto3's GetRecords returns it (an INSERT of item ``key``)."""
    return {
        "eventID": f"event-{sequence_number}",
        "eventName": "INSERT",
        "eventVersion": "1.1",
        "eventSource": "aws:dynamodb",
        "awsRegion": "us-east-1",
        "dynamodb": {
            "ApproximateCreationDateTime": T0 + dt.timedelta(seconds=sequence_number),
            "Keys": {"pk": {"S": key}},
            "NewImage": {"pk": {"S": key}},
            "SequenceNumber": str(sequence_number).zfill(21),
            "SizeBytes": 10,
            "StreamViewType": "NEW_AND_OLD_IMAGES",
        },
    }


class SplitStream:
    """A stand-in for boto3's ``dynamodbstreams`` client: a stream whose shard has split.

    DynamoDB Local never splits a shard, so this serves DescribeStream, GetShardIterator and
    GetRecords (the three calls a consumer makes) for a closed parent shard and its open child,
    as the DynamoDB Streams API describes them: the child names its parent in ParentShardId,
    the parent has an EndingSequenceNumber, and GetRecords on a closed shard read to its end
    returns no NextShardIterator. Every call is logged with what the consumer had checkpointed.
    """

    def __init__(self, shards: dict[str, tuple[str | None, list[dict[str, Any]], bool]]) -> None:
        self.shards = shards  # shard id -> (parent shard id, records, closed)
        self.log: list[tuple[str, str, str | None]] = []  # (call, shard id, parent's checkpoint)
        self.checkpoints: labkit.MemoryCheckpoints | None = None

    def _note(self, call: str, shard_id: str) -> None:
        parent = self.shards[shard_id][0]
        kept = self.checkpoints.get(parent) if self.checkpoints and parent else None
        self.log.append((call, shard_id, kept))

    def describe_stream(self, StreamArn: str, **kwargs: Any) -> dict[str, Any]:
        shards = []
        for shard_id, (parent, records, closed) in self.shards.items():
            numbers = {"StartingSequenceNumber": records[0]["dynamodb"]["SequenceNumber"]}
            if closed:
                numbers["EndingSequenceNumber"] = records[-1]["dynamodb"]["SequenceNumber"]
            shard = {"ShardId": shard_id, "SequenceNumberRange": numbers}
            if parent:
                shard["ParentShardId"] = parent
            shards.append(shard)
        return {"StreamDescription": {"StreamArn": StreamArn, "Shards": shards}}

    def get_shard_iterator(
        self,
        StreamArn: str,
        ShardId: str,
        ShardIteratorType: str,
        SequenceNumber: str | None = None,
    ) -> dict[str, Any]:
        self._note("GetShardIterator", ShardId)
        numbers = [int(r["dynamodb"]["SequenceNumber"]) for r in self.shards[ShardId][1]]
        position = {
            "TRIM_HORIZON": 0,
            "LATEST": len(numbers),
            "AT_SEQUENCE_NUMBER": sum(n < int(SequenceNumber or 0) for n in numbers),
            "AFTER_SEQUENCE_NUMBER": sum(n <= int(SequenceNumber or 0) for n in numbers),
        }[ShardIteratorType]
        return {"ShardIterator": f"{ShardId}|{position}"}

    def get_records(self, ShardIterator: str, Limit: int = 1000) -> dict[str, Any]:
        shard_id, position = ShardIterator.rsplit("|", 1)
        _, records, closed = self.shards[shard_id]
        start = int(position)
        batch = copy.deepcopy(records[start : start + Limit])
        end = start + len(batch)
        if closed and end >= len(records):  # read to its end: no NextShardIterator
            self._note("GetRecords (end)", shard_id)
            return {"Records": batch}
        self._note("GetRecords", shard_id)
        return {"Records": batch, "NextShardIterator": f"{shard_id}|{end}"}


def test_a_child_shard_is_read_only_after_its_parent_is_finished():
    """DynamoDB DG, "Change data capture for DynamoDB Streams": "Because shards have a lineage
    (parent and children), an application must always process a parent shard before it
    processes a child shard. This helps ensure that the stream records are also processed in
    the correct order." The Lambda DG ("Using AWS Lambda with Amazon DynamoDB") adds that
    Lambda ensures "in-order processing at the item (partition and sort key) level".

    The parent's first delivery fails (unlimited retries, so the parent waits); the child's id
    sorts before the parent's, so only the lineage can hold the child back. Every parent record
    must be delivered successfully before any child record, and the child must not be read
    until the parent is ended and checkpointed at its last record.

    Kills mutant ``child-before-parent-finished``."""
    parent_records = [_record(k, n) for k, n in (("a", 100), ("b", 101), ("c", 102))]
    child_records = [_record(k, n) for k, n in (("a", 200), ("d", 201))]
    parent_id, child_id = "shardId-00002-parent", "shardId-00001-child"
    streams = SplitStream(
        {
            parent_id: (None, parent_records, True),
            child_id: (parent_id, child_records, False),
        }
    )
    checkpoints = labkit.MemoryCheckpoints()
    streams.checkpoints = checkpoints
    failures = [1]  # the first delivery of the parent's records fails

    def handler(event: dict[str, Any], context: Any) -> None:
        if failures[0] and any(
            r["dynamodb"]["SequenceNumber"] in parent_seqs for r in event["Records"]
        ):
            failures[0] -= 1
            raise RuntimeError("not yet")

    parent_seqs = {r["dynamodb"]["SequenceNumber"] for r in parent_records}
    trigger = labkit.Trigger(
        "orders",
        STAND_IN_ARN,
        handler,
        labkit.TriggerConfig(batch_size=2),
        streams=streams,
        checkpoints=checkpoints,
    )
    try:
        invocations = trigger.run_until_idle()
        invocations += trigger.run_until_idle()  # the parent's retry, then the child
        invocations += trigger.run_until_idle()
    finally:
        trigger.close()

    delivered = [(i.shard_id, seq(r)) for i in invocations if i.ok for r in i.records]
    expected = [(parent_id, seq(r)) for r in parent_records] + [
        (child_id, seq(r)) for r in child_records
    ]
    assert delivered == expected
    attempted = [i.shard_id for i in invocations]
    last_parent = max(n for n, s in enumerate(attempted) if s == parent_id)
    assert all(s == child_id for s in attempted[last_parent + 1 :])
    assert child_id not in attempted[: last_parent + 1]
    parent_last = parent_records[-1]["dynamodb"]["SequenceNumber"]
    parent_ended_at = next(
        n
        for n, (call, shard, _) in enumerate(streams.log)
        if (call, shard) == ("GetRecords (end)", parent_id)
    )
    child_calls = [(n, kept) for n, (_, shard, kept) in enumerate(streams.log) if shard == child_id]
    assert child_calls, "the child shard was never read"
    assert all(n > parent_ended_at and kept == parent_last for n, kept in child_calls), streams.log

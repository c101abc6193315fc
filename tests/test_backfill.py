"""Backfill then tail (lesson 16): the stream position, the parallel-scan copy, the compare.

A consumer joining a table that already holds data takes a stream position first, copies the
table, then applies the stream from the position, and ends equal to the source; started after
the copy (LATEST) it loses the changes made to the parts already copied. Stream records live 24
hours ("In DynamoDB Streams, there is a 24 hour limit on data retention", GetShardIterator, DynamoDB
API Reference), and GetShardIterator has no AT_TIMESTAMP type (TRIM_HORIZON, LATEST,
AT_SEQUENCE_NUMBER, AFTER_SEQUENCE_NUMBER), so the position is each shard's last sequence number.
All against the real DynamoDB Local.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from decimal import Decimal
from typing import Any

import pytest
from boto3.dynamodb.types import TypeDeserializer

import labkit
from labkit._backfill import take_position

_des = TypeDeserializer().deserialize


def _orders(n: int) -> list[dict[str, Any]]:
    return [{"pk": f"order-{i:02d}", "status": "placed", "version": 1} for i in range(1, n + 1)]


def _change(lab: labkit.Lab, table: str, pk: str, status: str) -> None:
    lab.table(table).update_item(
        Key={"pk": pk},
        UpdateExpression="SET #s = :s ADD version :one",
        ExpressionAttributeNames={"#s": "status"},
        ExpressionAttributeValues={":s": status, ":one": 1},
    )


def _stream_numbers(lab: labkit.Lab, table: str) -> list[str]:
    reader = labkit.StreamReader(lab.streams, lab.stream_arn(table))
    return [r["dynamodb"]["SequenceNumber"] for r in reader.read_all()]


def _applier(lab: labkit.Lab, replica: str) -> Callable[[dict[str, Any], Any], None]:
    """The lesson's apply_changes, as a plain handler: put if newer, delete if not newer."""
    table = lab.table(replica)
    conflict = table.meta.client.exceptions.ConditionalCheckFailedException

    def apply_changes(event: dict[str, Any], context: Any) -> None:
        for record in event["Records"]:
            try:
                if record["eventName"] == "REMOVE":
                    old = {k: _des(v) for k, v in record["dynamodb"]["OldImage"].items()}
                    table.delete_item(
                        Key={"pk": old["pk"]},
                        ConditionExpression="attribute_not_exists(pk) OR version <= :v",
                        ExpressionAttributeValues={":v": old["version"]},
                    )
                else:
                    new = {k: _des(v) for k, v in record["dynamodb"]["NewImage"].items()}
                    table.put_item(
                        Item=new,
                        ConditionExpression="attribute_not_exists(pk) OR version < :v",
                        ExpressionAttributeValues={":v": new["version"]},
                    )
            except conflict:
                pass

    return apply_changes


# -- the position ---------------------------------------------------------------------------
def test_the_position_is_each_shards_last_sequence_number(lab, table_name):
    orders = table_name("orders")
    lab.create_table(orders)
    empty = lab.stream_position(orders)
    assert [(s.sequence_number, s.records_read, s.closed) for s in empty.shards] == [
        (None, 0, False)
    ]
    lab.put_items(orders, _orders(3))
    position = lab.stream_position(orders)
    numbers = _stream_numbers(lab, orders)
    assert len(position.shards) == 1
    shard = position.shards[0]
    assert (shard.sequence_number, shard.records_read, shard.closed) == (numbers[-1], 3, False)
    assert position.checkpoints == {shard.shard_id: numbers[-1]}
    assert position.rows()[0]["Position (resume after)"] == f"#{int(numbers[-1])}"
    assert empty.rows()[0]["Position (resume after)"].endswith("(TRIM_HORIZON)")


def test_a_closed_shard_is_positioned_at_its_end(lab, table_name):
    """DisableStream closes the shard at once on DynamoDB Local: it gets its
    EndingSequenceNumber, nothing of it to replay."""
    orders = table_name("orders")
    lab.create_table(orders)
    lab.put_items(orders, _orders(2))
    arn = lab.stream_arn(orders)
    lab.dynamodb.update_table(TableName=orders, StreamSpecification={"StreamEnabled": False})
    position = take_position(lab.streams, orders, arn)
    ending = [
        s["SequenceNumberRange"]["EndingSequenceNumber"]
        for s in lab.streams.describe_stream(StreamArn=arn)["StreamDescription"]["Shards"]
    ]
    assert [(s.closed, s.sequence_number, s.records_read) for s in position.shards] == [
        (True, ending[0], 0)
    ]


def test_a_saved_position_starts_a_trigger_right_after_it(lab, table_name):
    orders, leases = table_name("orders"), table_name("leases")
    lab.create_table(orders)
    lab.put_items(orders, _orders(2))
    position = lab.stream_position(orders, checkpoint_table=leases, function_name="apply")
    assert (position.saved_in, position.consumer) == (leases, "apply")
    stored = {i["shardId"]: i["checkpoint"] for i in lab.items(leases)}
    assert stored == position.checkpoints
    lab.table(orders).put_item(Item={"pk": "order-03", "status": "placed", "version": 1})
    _change(lab, orders, "order-01", "paid")
    seen: list[tuple[str, str]] = []

    def apply(event: dict[str, Any], context: Any) -> None:
        seen.extend((r["eventName"], r["dynamodb"]["Keys"]["pk"]["S"]) for r in event["Records"])

    trigger = lab.trigger(orders, apply, checkpoint_table=leases)
    try:
        trigger.run_until_idle()
    finally:
        trigger.close()
    assert seen == [("INSERT", "order-03"), ("MODIFY", "order-01")]


def test_the_position_refuses_half_a_checkpoint(lab, table_name):
    orders = table_name("orders")
    lab.create_table(orders)
    with pytest.raises(labkit.TriggerError, match="together"):
        lab.stream_position(orders, checkpoint_table=table_name("leases"))


# -- the copy -------------------------------------------------------------------------------
def test_a_parallel_scan_copies_every_item_once(lab, table_name):
    orders, replica = table_name("orders"), table_name("replica")
    lab.create_table(orders, stream=None)
    lab.create_table(replica, stream=None)
    lab.put_items(orders, _orders(30))
    copy = lab.copy_table(orders, replica, total_segments=4, page_size=3)
    keys = [k for s in copy.segments for page in s.pages for k in page]
    assert sorted(keys) == [f"order-{i:02d}" for i in range(1, 31)]  # each exactly once
    assert [s.segment for s in copy.segments] == [0, 1, 2, 3]
    assert all(len(page) <= 3 for s in copy.segments for page in s.pages)
    assert copy.items == 30 and not copy.during_ran
    assert lab.compare_tables(orders, replica).equal


def test_writes_during_the_copy_are_seen_only_by_the_later_pages(lab, table_name):
    """``during`` runs once every segment has copied its first page: a first page holds the
    items as they were, a later page the items as changed."""
    orders, replica = table_name("orders"), table_name("replica")
    lab.create_table(orders, stream=None)
    lab.create_table(replica, stream=None)
    lab.put_items(orders, _orders(20))
    ran_in: list[str] = []

    def during() -> None:
        ran_in.append(threading.current_thread().name)
        for item in _orders(20):
            _change(lab, orders, item["pk"], "paid")

    copy = lab.copy_table(orders, replica, total_segments=3, page_size=2, during=during)
    assert copy.during_ran and len(ran_in) == 1
    versions = {i["pk"]: i["version"] for i in lab.items(replica)}
    first = {k for s in copy.segments for k in s.pages[0]}
    later = {k for s in copy.segments for page in s.pages[1:] for k in page}
    assert first and later, "the case needs keys on both sides"
    assert {versions[k] for k in first} == {Decimal(1)}
    assert {versions[k] for k in later} == {Decimal(2)}
    rows = copy.rows()
    assert [r["Items"] for r in rows] == [s.items for s in copy.segments]


def test_a_failing_writer_fails_the_copy_and_leaves_no_thread(lab, table_name):
    orders, replica = table_name("orders"), table_name("replica")
    lab.create_table(orders, stream=None)
    lab.create_table(replica, stream=None)
    lab.put_items(orders, _orders(6))

    def during() -> None:
        raise RuntimeError("the writer broke")

    with pytest.raises(RuntimeError, match="the writer broke"):
        lab.copy_table(orders, replica, total_segments=2, page_size=1, during=during)
    assert not [t for t in threading.enumerate() if t.name.startswith("labkit-copy-")]


@pytest.mark.parametrize(
    ("options", "match"),
    [
        ({"total_segments": 0}, "TotalSegments"),
        ({"total_segments": 101}, "one thread per segment"),
        ({"page_size": 0}, "Limit"),
        ({"during": "app_writes"}, "not a function"),
    ],
)
def test_bad_copy_options_are_refused_before_anything_is_read(lab, table_name, options, match):
    orders, replica = table_name("orders"), table_name("replica")
    lab.create_table(orders, stream=None)
    lab.create_table(replica, stream=None)
    lab.put_items(orders, _orders(2))
    with pytest.raises(labkit.TableError, match=match):
        lab.copy_table(orders, replica, **options)
    assert lab.items(replica) == []


def test_a_copy_needs_a_target_with_the_same_key(lab, table_name):
    orders, other = table_name("orders"), table_name("other")
    lab.create_table(orders, stream=None)
    lab.create_table(other, key="id", stream=None)
    with pytest.raises(labkit.TableError, match="same key"):
        lab.copy_table(orders, other)
    with pytest.raises(labkit.TableError, match="no table"):
        lab.copy_table(orders, table_name("missing"))


# -- the compare ----------------------------------------------------------------------------
def test_the_compare_names_each_difference(lab, table_name):
    orders, replica = table_name("orders"), table_name("replica")
    lab.create_table(orders, stream=None)
    lab.create_table(replica, stream=None)
    lab.put_items(orders, _orders(3))
    lab.put_items(replica, [*_orders(2), {"pk": "order-09", "status": "placed", "version": 1}])
    _change(lab, orders, "order-02", "paid")
    result = lab.compare_tables(orders, replica)
    assert not result.equal
    assert [(d.key, d.what) for d in result.differences] == [
        ("order-02", "differs in status, version"),
        ("order-03", "missing from the replica"),
        ("order-09", "in the replica only (deleted at the source)"),
    ]
    assert result.summary.startswith(f"{replica} differs from {orders}: 3 items")


# -- the whole recipe -----------------------------------------------------------------------
def _history(lab: labkit.Lab, table: str) -> None:
    """Items written before the stream existed, then the stream, then two payments."""
    lab.create_table(table, stream=None)
    lab.put_items(table, _orders(12))
    lab.dynamodb.update_table(
        TableName=table,
        StreamSpecification={"StreamEnabled": True, "StreamViewType": "NEW_AND_OLD_IMAGES"},
    )
    _change(lab, table, "order-01", "paid")
    _change(lab, table, "order-02", "paid")


def _writes_during(lab: labkit.Lab, table: str) -> Callable[[], None]:
    def app_writes() -> None:
        for item in _orders(12):  # every item changes, wherever the scan stands
            _change(lab, table, item["pk"], "paid")
        _change(lab, table, "order-06", "shipped")
        lab.table(table).put_item(Item={"pk": "order-13", "status": "placed", "version": 1})
        lab.table(table).delete_item(Key={"pk": "order-04"})
        lab.table(table).delete_item(Key={"pk": "order-10"})

    return app_writes


def test_position_first_then_copy_then_tail_ends_equal(lab, table_name):
    orders, replica, leases = table_name("orders"), table_name("replica"), table_name("leases")
    _history(lab, orders)
    lab.create_table(replica, stream=None)
    assert len(_stream_numbers(lab, orders)) == 2  # the stream cannot rebuild 12 items
    lab.stream_position(orders, checkpoint_table=leases, function_name="apply_changes")
    copy = lab.copy_table(
        orders, replica, total_segments=3, page_size=2, during=_writes_during(lab, orders)
    )
    assert not lab.compare_tables(orders, replica).equal  # the copy alone is not the table
    tail = lab.trigger(
        orders, _applier(lab, replica), checkpoint_table=leases, function_name="apply_changes"
    )
    try:
        delivered = [r for inv in tail.run_until_idle() for r in inv.records]
        assert len(delivered) == 12 + 4  # every write made during the copy, none before
        assert lab.compare_tables(orders, replica).equal
        _change(lab, orders, "order-03", "shipped")  # and it stays equal as the tail follows
        tail.run_until_idle()
        assert lab.compare_tables(orders, replica).equal
    finally:
        tail.close()
    assert copy.during_ran


def test_without_the_position_first_the_changes_during_the_copy_are_lost(lab, table_name):
    orders, replica = table_name("orders"), table_name("replica")
    _history(lab, orders)
    lab.create_table(replica, stream=None)
    copy = lab.copy_table(
        orders, replica, total_segments=3, page_size=2, during=_writes_during(lab, orders)
    )
    tail = lab.trigger(orders, _applier(lab, replica), starting_position="LATEST")
    try:
        assert tail.run_until_idle() == []
        result = lab.compare_tables(orders, replica)
        first_pages = {k for s in copy.segments for k in s.pages[0]}
        # exactly the items copied before the writes: changed (or deleted) after being read
        assert {d.key for d in result.differences} == first_pages
        _change(lab, orders, "order-13", "paid")  # later changes flow; the lost ones never come
        tail.run_until_idle()
        assert {d.key for d in lab.compare_tables(orders, replica).differences} == first_pages
    finally:
        tail.close()


# -- what DynamoDB Local lacks --------------------------------------------------------------
def test_dynamodb_local_has_no_export_and_no_point_in_time_recovery(lab, table_name):
    """AWS's other way to copy a table, ExportTableToPointInTime ("The table must have point in
    time recovery enabled", DynamoDB API Reference), is an unknown operation on DynamoDB Local,
    as are the point-in-time recovery calls: lesson 16 copies with a parallel Scan (README, Known
    differences). The calls go to the lab's endpoint only: nothing reaches S3."""
    orders = table_name("orders")
    lab.create_table(orders, stream=None)
    arn = lab.dynamodb.describe_table(TableName=orders)["Table"]["TableArn"]
    calls = {
        "ExportTableToPointInTime": lambda: lab.dynamodb.export_table_to_point_in_time(
            TableArn=arn, S3Bucket="labkit-never-used"
        ),
        "DescribeContinuousBackups": lambda: lab.dynamodb.describe_continuous_backups(
            TableName=orders
        ),
        "UpdateContinuousBackups": lambda: lab.dynamodb.update_continuous_backups(
            TableName=orders,
            PointInTimeRecoverySpecification={"PointInTimeRecoveryEnabled": True},
        ),
    }
    codes = {}
    for name, call in calls.items():
        with pytest.raises(lab.dynamodb.exceptions.ClientError) as error:
            call()
        codes[name] = error.value.response["Error"]["Code"]
    assert set(codes.values()) == {"UnknownOperationException"}, codes


def test_a_segment_that_never_reaches_its_first_page_stops_the_copy(lab, table_name, monkeypatch):
    """The segments wait for each other before ``during``; one that hangs must not leave the
    others waiting for ever, nor the copy passing for complete."""
    from labkit import _backfill

    orders, replica = table_name("orders"), table_name("replica")
    lab.create_table(orders, stream=None)
    lab.create_table(replica, stream=None)
    lab.put_items(orders, _orders(8))
    monkeypatch.setattr(_backfill, "_BARRIER_TIMEOUT_S", 0.3)
    ran: list[bool] = []

    class SlowSegmentOne:
        def __getattr__(self, name: str) -> Any:
            return getattr(lab.dynamodb, name)

        def scan(self, **kwargs: Any) -> Any:
            if kwargs["Segment"] == 1:
                threading.Event().wait(1.0)  # longer than the barrier's patience
            return lab.dynamodb.scan(**kwargs)

    with pytest.raises(labkit.TableError, match="did not all copy their first page"):
        _backfill.copy_table(
            SlowSegmentOne(),
            orders,
            replica,
            keys=["pk"],
            total_segments=2,
            page_size=1,
            during=lambda: ran.append(True),
        )
    assert ran == []
    assert not [t for t in threading.enumerate() if t.name.startswith("labkit-copy-")]

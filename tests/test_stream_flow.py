"""The core lesson's facts, on a real DynamoDB Local.

Each change is observed by two independent consumers, a trigger (as Lambda sees it) and a
``StreamReader``, and compared per key, in order, as (eventName, keys, old image, new image).
Absence of a record is shown with a sentinel: after the writes that must change nothing, a real
change is written; once the sentinel's record has arrived, any record of the earlier writes would
have arrived before it (one shard, ordered), so "only the sentinel" means "nothing else".
"""

from __future__ import annotations

import sys
from typing import Any

import pytest
from _streamcheck import (
    as_event,
    at_least,
    has_key,
    per_key,
    read_until,
    records_of,
    run_trigger_until,
    set_attr,
)

import labkit


def ignore(event: dict[str, Any], context: Any) -> None:
    """A handler that accepts every batch."""


def sequence_numbers(records: list[dict[str, Any]]) -> list[str]:
    return [r["dynamodb"]["SequenceNumber"] for r in records]


def consumers(lab: labkit.Lab, name: str, **trigger_options: Any) -> tuple[Any, Any]:
    trigger = lab.trigger(name, ignore, **trigger_options)
    reader = labkit.StreamReader(lab.streams, lab.stream_arn(name))
    return trigger, reader


# -- the four steps --------------------------------------------------------------------------
def test_insert_modify_remove_each_make_one_record(lab, table_name):
    name = table_name("orders")
    table = lab.create_table(name)
    trigger, reader = consumers(lab, name)

    table.put_item(Item={"pk": "order-1", "status": "new"})
    set_attr(table, "order-1", "status", "paid")
    table.delete_item(Key={"pk": "order-1"})

    new = {"pk": "order-1", "status": "new"}
    paid = {"pk": "order-1", "status": "paid"}
    expected = {
        ("order-1",): [
            ("INSERT", {"pk": "order-1"}, None, new),
            ("MODIFY", {"pk": "order-1"}, new, paid),
            ("REMOVE", {"pk": "order-1"}, paid, None),
        ]
    }
    via_trigger = records_of(run_trigger_until(trigger, at_least(3)))
    via_reader = read_until(reader, at_least(3))
    assert per_key(via_trigger) == expected
    assert per_key(via_reader) == expected
    # the two consumers saw the very same records, not just equal-looking ones
    assert sequence_numbers(via_trigger) == sequence_numbers(via_reader)


def _put_identical(table: Any) -> None:
    table.put_item(Item={"pk": "order-1", "status": "new"})


def _update_to_same_value(table: Any) -> None:
    set_attr(table, "order-1", "status", "new")


def _delete_missing(table: Any) -> None:
    table.delete_item(Key={"pk": "no-such-order"})


@pytest.mark.parametrize(
    "write",
    [_put_identical, _update_to_same_value, _delete_missing],
    ids=["put-identical-item", "update-to-same-value", "delete-missing-item"],
)
def test_a_write_that_changes_nothing_makes_no_record(lab, table_name, write):
    name = table_name("orders")
    table = lab.create_table(name)
    table.put_item(Item={"pk": "order-1", "status": "new"})  # a new item: this one IS an INSERT
    trigger, reader = consumers(lab, name)
    first = records_of(run_trigger_until(trigger, at_least(1)))
    assert [as_event(r)[0] for r in first] == ["INSERT"]
    assert [as_event(r)[0] for r in read_until(reader, at_least(1))] == ["INSERT"]

    write(table)
    table.put_item(Item={"pk": "sentinel"})

    expected = {("sentinel",): [("INSERT", {"pk": "sentinel"}, None, {"pk": "sentinel"})]}
    assert (
        per_key(records_of(run_trigger_until(trigger, lambda r: has_key(r, "sentinel"))))
        == expected
    )
    assert per_key(read_until(reader, lambda r: has_key(r, "sentinel"))) == expected
    # and the item is as it was
    assert table.get_item(Key={"pk": "order-1"}, ConsistentRead=True)["Item"] == {
        "pk": "order-1",
        "status": "new",
    }


# -- images per stream view type -------------------------------------------------------------
# Which images a MODIFY record carries, per view type (AWS: StreamSpecification).
IMAGES = {
    "KEYS_ONLY": {"Keys"},
    "NEW_IMAGE": {"Keys", "NewImage"},
    "OLD_IMAGE": {"Keys", "OldImage"},
    "NEW_AND_OLD_IMAGES": {"Keys", "NewImage", "OldImage"},
}


@pytest.mark.parametrize("view", list(IMAGES))
def test_modify_record_carries_the_images_of_its_view_type(lab, table_name, view):
    assert set(IMAGES) == {v.value for v in labkit.StreamViewType}
    name = table_name(view.lower().replace("_", "-"))
    table = lab.create_table(name, stream=view)
    trigger, reader = consumers(lab, name)
    table.put_item(Item={"pk": "a", "qty": 1})
    set_attr(table, "a", "qty", 2)

    old, new = {"pk": "a", "qty": 1}, {"pk": "a", "qty": 2}
    expected = (
        "MODIFY",
        {"pk": "a"},
        old if "OldImage" in IMAGES[view] else None,
        new if "NewImage" in IMAGES[view] else None,
    )
    for records in (
        read_until(reader, at_least(2)),
        records_of(run_trigger_until(trigger, at_least(2))),
    ):
        assert [r["eventName"] for r in records] == ["INSERT", "MODIFY"]
        modify = records[1]["dynamodb"]
        assert set(modify) & {"Keys", "NewImage", "OldImage"} == IMAGES[view]
        assert modify["StreamViewType"] == view
        assert as_event(records[1]) == expected


# -- the trigger delivers from where it stopped ----------------------------------------------
def test_a_second_run_with_no_writes_delivers_nothing(lab, table_name):
    name = table_name("orders")
    table = lab.create_table(name)
    trigger, _ = consumers(lab, name)
    table.put_item(Item={"pk": "a"})
    table.put_item(Item={"pk": "b"})
    delivered = run_trigger_until(trigger, at_least(2))
    assert [as_event(r)[1] for r in records_of(delivered)] == [{"pk": "a"}, {"pk": "b"}]

    assert trigger.run_until_idle() == []
    assert trigger.invocations == delivered


def test_batch_size_splits_five_records_into_two_two_one(lab, table_name):
    name = table_name("orders")
    table = lab.create_table(name)
    trigger, reader = consumers(lab, name, batch_size=2)
    for pk in "abcde":
        table.put_item(Item={"pk": pk})
    in_stream = read_until(reader, at_least(5))  # all five are readable before the run
    assert len(in_stream) == 5

    invocations = trigger.run_until_idle()
    assert [len(i.records) for i in invocations] == [2, 2, 1]
    assert [s for i in invocations for s in i.sequence_numbers] == sequence_numbers(in_stream)
    assert trigger.run_until_idle() == []


def test_latest_skips_earlier_records_and_trim_horizon_includes_them(lab, table_name):
    name = table_name("orders")
    table = lab.create_table(name)
    reader = labkit.StreamReader(lab.streams, lab.stream_arn(name))
    table.put_item(Item={"pk": "before-1"})
    table.put_item(Item={"pk": "before-2"})
    assert len(read_until(reader, at_least(2))) == 2  # both are in the stream already

    # Two functions: one function has one mapping per stream (a second replaces the first).
    latest = lab.trigger(name, ignore, starting_position="LATEST", function_name="latest")
    oldest = lab.trigger(name, ignore, starting_position="TRIM_HORIZON", function_name="oldest")
    table.put_item(Item={"pk": "after"})

    def inserted(pk: str) -> list[Any]:
        return [("INSERT", {"pk": pk}, None, {"pk": pk})]

    got_latest = records_of(run_trigger_until(latest, lambda r: has_key(r, "after")))
    got_oldest = records_of(run_trigger_until(oldest, lambda r: has_key(r, "after")))
    assert per_key(got_latest) == {("after",): inserted("after")}
    assert per_key(got_oldest) == {(pk,): inserted(pk) for pk in ("before-1", "before-2", "after")}


def test_latest_on_a_table_with_no_records_yet_delivers_the_first_ones(lab, table_name):
    # DynamoDB Local refuses an iterator taken on an empty shard once a record arrives
    # (TrimmedDataAccessException); labkit's reader recovers. Nothing may be lost or repeated.
    name = table_name("orders")
    table = lab.create_table(name)
    trigger = lab.trigger(name, ignore, starting_position="LATEST")
    for pk in ("first", "second"):
        table.put_item(Item={"pk": pk})
        got = records_of(run_trigger_until(trigger, lambda r, pk=pk: has_key(r, pk)))
        assert per_key(got) == {(pk,): [("INSERT", {"pk": pk}, None, {"pk": pk})]}
    assert trigger.run_until_idle() == []


# -- a handler that raises -------------------------------------------------------------------
def test_a_failed_batch_is_delivered_again_and_nothing_is_skipped(lab, table_name):
    name = table_name("orders")
    table = lab.create_table(name)
    broken = True

    def handler(event: dict[str, Any], context: Any) -> None:
        keys = [r["dynamodb"]["Keys"]["pk"]["S"] for r in event["Records"]]
        if broken and "c" in keys:
            raise ValueError("cannot process c")

    trigger = lab.trigger(name, handler, batch_size=2)
    reader = labkit.StreamReader(lab.streams, lab.stream_arn(name))
    for pk in "abcde":
        table.put_item(Item={"pk": pk})
    seqs = sequence_numbers(read_until(reader, at_least(5)))
    assert len(seqs) == 5

    first = trigger.run_until_idle()
    assert [(i.ok, i.sequence_numbers) for i in first] == [(True, seqs[0:2]), (False, seqs[2:4])]
    assert first[1].error == "ValueError: cannot process c"
    assert first[1].output[-1] == "ValueError: cannot process c"  # the traceback is in the log
    shard = trigger.reader.shards[first[1].shard_id]
    assert shard.checkpoint == seqs[1]  # advanced past a, b; not past the failed c, d

    again = trigger.run_until_idle()
    assert [(i.ok, i.sequence_numbers) for i in again] == [(False, seqs[2:4])]
    assert shard.checkpoint == seqs[1]

    broken = False
    rest = trigger.run_until_idle()
    assert [(i.ok, i.sequence_numbers) for i in rest] == [(True, seqs[2:4]), (True, seqs[4:5])]
    assert shard.checkpoint == seqs[4]
    delivered_ok = [s for i in trigger.invocations if i.ok for s in i.sequence_numbers]
    assert delivered_ok == seqs  # every record handled successfully exactly once, in order
    assert trigger.run_until_idle() == []


def test_a_latest_trigger_retry_does_not_go_back_before_its_start(lab, table_name):
    name = table_name("orders")
    table = lab.create_table(name)
    table.put_item(Item={"pk": "before"})
    reader = labkit.StreamReader(lab.streams, lab.stream_arn(name))
    assert len(read_until(reader, at_least(1))) == 1
    attempts: list[list[str]] = []

    def fails_once(event: dict[str, Any], context: Any) -> None:
        attempts.append([r["dynamodb"]["Keys"]["pk"]["S"] for r in event["Records"]])
        if len(attempts) == 1:
            raise RuntimeError("first attempt fails")

    trigger = lab.trigger(name, fails_once, starting_position="LATEST")
    table.put_item(Item={"pk": "after"})
    run_trigger_until(trigger, lambda r: len(attempts) >= 2)
    assert attempts == [["after"], ["after"]]


# -- the handler's output --------------------------------------------------------------------
def test_what_the_handler_prints_goes_to_the_invocation_log_not_stdout(lab, table_name, capsys):
    name = table_name("orders")
    table = lab.create_table(name)

    def chatty(event: dict[str, Any], context: Any) -> int:
        for record in event["Records"]:
            print(f"handled {record['dynamodb']['Keys']['pk']['S']}")
        print("a warning", file=sys.stderr)
        return len(event["Records"])

    trigger = lab.trigger(name, chatty)
    capsys.readouterr()
    table.put_item(Item={"pk": "a"})
    table.put_item(Item={"pk": "b"})
    invocations = run_trigger_until(trigger, at_least(2))

    handled = [f"handled {as_event(r)[1]['pk']}" for r in records_of(invocations)]
    assert handled == ["handled a", "handled b"]
    assert [line for i in invocations for line in i.logs if line.startswith("handled")] == handled
    assert all(i.output[-1] == "a warning" for i in invocations)
    assert [i.result for i in invocations] == [len(i.records) for i in invocations]
    out, err = capsys.readouterr()
    assert "handled" not in out and "handled" not in err
    assert "a warning" not in out and "a warning" not in err

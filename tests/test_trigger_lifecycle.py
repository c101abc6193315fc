"""A trigger's life: one per function and table, and a stop that leaves nothing behind.

**One mapping per function and event source.** AWS refuses a second mapping of one function to
one event source: CreateEventSourceMapping answers ``ResourceConflictException`` ("The resource
already exists", AWS Lambda API Reference, CreateEventSourceMapping, Errors; the message names
the existing mapping: "Please update or delete the existing mapping with UUID ..."). In a
notebook the usual way to make a second one is re-running the cell that makes the trigger, and
two live triggers deliver every record twice. So ``lab.trigger`` replaces the earlier trigger of
the same function (its name: ``lab.function``'s, or a callable's ``__name__``) on the same table,
as UpdateEventSourceMapping would: that API takes no ``StartingPosition``, so an updated mapping
keeps its place in the stream (Lambda DG, "Using AWS Lambda with Amazon DynamoDB": "Lambda keeps
track of the last record processed and resumes processing from that point"). Other functions on
the same stream stay allowed ("You can create multiple event source mappings to process the same
data with multiple Lambda functions", same page).

**Stopping.** ``stop()`` waits for the batch in flight (bounded by the function's timeout: a call
past it is ended as Lambda ends it, ``Task timed out after N seconds``), or says what still runs;
``start()`` again runs one poller; ``close()`` leaves no labkit thread.

Waits are bounded polls; the only times asserted are bounds that are behaviour (``stop()``
returns within ``stop_within_s``).
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Callable
from typing import Any

import pytest
from _esm import pk, pks, put_items, seq, stream_records

import labkit
from labkit import _lab

WAIT_S = 20.0


def until(condition: Callable[[], bool], timeout: float = WAIT_S) -> bool:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.02)
    return True


def threads(prefix: str = "labkit") -> list[str]:
    return sorted(t.name for t in threading.enumerate() if t.name.startswith(prefix))


def pollers(table: str) -> int:
    return threads().count(f"labkit-trigger-{table}")


# -- one trigger per function and table -------------------------------------------------------
@pytest.mark.parametrize("durable", [False, True], ids=["memory-checkpoints", "checkpoint-table"])
@pytest.mark.parametrize("kind", ["lab.function", "callable"])
def test_running_the_trigger_cell_twice_never_doubles_an_effect(
    lab, table_name, capsys, durable, kind
):
    """Before: 10 inserts made a counter of 20 (both triggers ran), even with a shared
    checkpoint table. Each run of the "cell" defines the handler anew, as a notebook does."""
    name = table_name("orders")
    checkpoints = table_name("checkpoints") if durable else None
    orders = lab.create_table(name)
    counts: Counter[str] = Counter()
    made = []
    for _ in range(2):  # the cell, run twice

        def count_orders(event: dict[str, Any], context: Any) -> None:
            counts.update(pks(event["Records"]))

        handler = (
            lab.function("count-orders", count_orders) if kind == "lab.function" else count_orders
        )
        trigger = lab.trigger(name, handler, checkpoint_table=checkpoints)
        trigger.start(idle_sleep=0.02)
        made.append(trigger)
    first, second = made
    try:
        assert "replaces the earlier one" in capsys.readouterr().out
        assert first.closed and not first.running and second.running
        assert first not in lab.triggers and second in lab.triggers
        assert "replaced" in repr(first)
        put_items(orders, *(f"o{i}" for i in range(10)))
        assert until(lambda: sum(counts.values()) >= 10), counts
        second.stop()
        second.run_until_idle()  # anything still waiting is delivered now, once
        assert counts == Counter({f"o{i}": 1 for i in range(10)})
        assert pollers(name) == 0
        with pytest.raises(labkit.TriggerError) as caught:
            first.run_until_idle()
        assert "replaced by a newer one" in caught.value.what
        assert "newer lab.trigger" in caught.value.fix
    finally:
        second.close()


def test_a_replacement_goes_on_from_where_the_earlier_trigger_was(lab, table_name, capsys):
    """Neither twice nor lost: records the earlier trigger completed are not delivered again,
    and those written before the replacement that it had not delivered are (even with
    starting_position='LATEST': an updated mapping keeps its place)."""
    name = table_name("orders")
    orders = lab.create_table(name)
    put_items(orders, "a", "b", "c")
    in_stream = stream_records(lab, name, 3)
    first_calls: list[list[str]] = []

    def billing(event: dict[str, Any], context: Any) -> None:
        first_calls.append(pks(event["Records"]))

    first = lab.trigger(name, billing, starting_position="TRIM_HORIZON")
    first.run_until_idle()
    assert first_calls == [["a", "b", "c"]]
    put_items(orders, "d", "e")  # written before the cell is run again, not yet delivered
    stream_records(lab, name, 5)
    second_calls: list[list[str]] = []

    def billing(event: dict[str, Any], context: Any) -> None:  # the cell, run again
        second_calls.append(pks(event["Records"]))

    second = lab.trigger(name, billing, starting_position="LATEST")
    try:
        (shard,) = second.reader.shards.values()
        assert shard.checkpoint == seq(in_stream[2])  # the earlier trigger's position, handed over
        put_items(orders, "f")
        stream_records(lab, name, 6)
        second.run_until_idle()
        assert second_calls == [["d", "e", "f"]]
        assert first_calls == [["a", "b", "c"]]
        assert "goes on from its checkpoint" in capsys.readouterr().out
        assert "going on from the trigger it replaced" in repr(second)
    finally:
        second.close()


def test_replacing_a_running_trigger_lets_its_batch_in_flight_finish(lab, table_name):
    """The earlier trigger is mid-batch when the cell is run again: that batch completes and
    is checkpointed, then the new trigger delivers the rest; each record exactly once."""
    name = table_name("orders")
    orders = lab.create_table(name)
    put_items(orders, *(f"o{i:02}" for i in range(12)))
    stream_records(lab, name, 12)
    counts: Counter[str] = Counter()
    busy = threading.Event()

    def project(event: dict[str, Any], context: Any) -> None:
        busy.set()
        time.sleep(0.3)
        counts.update(pks(event["Records"]))

    first = lab.trigger(name, project, batch_size=3)
    first.start(idle_sleep=0.02)
    assert busy.wait(WAIT_S)
    second = lab.trigger(name, project, batch_size=3)  # the cell, run again mid-batch
    try:
        assert pollers(name) == 0  # the earlier poller has ended, not been forgotten
        assert counts and all(n == 1 for n in counts.values())  # its batch in flight completed
        second.run_until_idle()
        assert counts == Counter({f"o{i:02}": 1 for i in range(12)})
    finally:
        second.close()


def test_other_functions_on_the_stream_and_the_function_on_another_table_stay(
    lab, table_name, capsys
):
    """Fan-out: two functions on one stream each get every record; one function on two
    tables is two mappings. Nothing is replaced, and nothing is said."""
    orders, returns = table_name("orders"), table_name("returns")
    for name in (orders, returns):
        put_items(lab.create_table(name), "a", "b")
        stream_records(lab, name, 2)
    got: dict[str, list[str]] = {"audit": [], "billing": []}

    def audit(event: dict[str, Any], context: Any) -> None:
        got["audit"].extend(pks(event["Records"]))

    def billing(event: dict[str, Any], context: Any) -> None:
        got["billing"].extend(pks(event["Records"]))

    made = [lab.trigger(orders, audit), lab.trigger(orders, billing), lab.trigger(returns, audit)]
    try:
        assert not any(t.closed for t in made)
        for trigger in made:
            trigger.run_until_idle()
        assert got == {"audit": ["a", "b", "a", "b"], "billing": ["a", "b"]}
        assert "replaces" not in capsys.readouterr().out
    finally:
        for trigger in made:
            trigger.close()


def test_a_rerun_that_is_refused_leaves_the_earlier_trigger_running(lab, table_name):
    """A mistake in the re-run cell is reported before anything is replaced."""
    name = table_name("orders")
    lab.create_table(name)

    def count_orders(event: dict[str, Any], context: Any) -> None:
        pass

    first = lab.trigger(name, count_orders).start(idle_sleep=0.02)
    try:
        with pytest.raises(labkit.InvalidTriggerOptionError):
            lab.trigger(name, count_orders, batch_size=0)
        assert first.running and not first.closed and first in lab.triggers
    finally:
        first.close()


# -- stop, start, close -----------------------------------------------------------------------
def test_stop_waits_for_the_batch_in_flight(lab, table_name):
    """Before: stop() gave up after 10 s, said running=False and left the poller delivering.
    Now it returns once the batch is done and checkpointed, and the poller is gone."""
    name = table_name("orders")
    orders = lab.create_table(name)
    started = threading.Event()

    def slow(event: dict[str, Any], context: Any) -> None:
        started.set()
        time.sleep(1.0)

    trigger = lab.trigger(name, lab.function("slow", slow, timeout=3))
    try:
        trigger.start(idle_sleep=0.02)
        put_items(orders, "a")
        assert started.wait(WAIT_S)
        began = time.monotonic()
        trigger.stop()
        assert time.monotonic() - began < trigger.stop_within_s
        assert not trigger.running and pollers(name) == 0
        (done,) = trigger.invocations
        assert done.ok and pks(done.records) == ["a"]
        (shard,) = trigger.reader.shards.values()
        assert shard.checkpoint == done.sequence_numbers[-1]
    finally:
        trigger.close()


def test_stop_with_a_handler_past_its_timeout_ends_the_call_then_the_poller(lab, table_name):
    """The function's timeout bounds the wait: the call is ended as Lambda ends it."""
    name = table_name("orders")
    orders = lab.create_table(name)
    started = threading.Event()

    def stall(event: dict[str, Any], context: Any) -> None:
        started.set()
        while True:  # pure Python: ended at its next instruction once it times out
            time.sleep(0.01)

    trigger = lab.trigger(name, lab.function("stall", stall, timeout=1), maximum_retry_attempts=0)
    try:
        trigger.start(idle_sleep=0.02)
        put_items(orders, "a")
        assert started.wait(WAIT_S)
        trigger.stop()
        assert not trigger.running and pollers(name) == 0
        assert [i.error for i in trigger.invocations] == ["Task timed out after 1.00 seconds"]
    finally:
        trigger.close()
    assert until(lambda: "labkit-function-stall" not in threads(), 5.0), threads()


def test_stop_says_what_still_runs_and_start_then_runs_one_poller(lab, table_name):
    """Before: a later start() ran a second poller beside the first (duplicates, and
    "IndexError: pop from an empty deque"). A stop that cannot wait long enough says so,
    ``running`` stays true, and start() waits for the first poller instead of adding one."""
    name = table_name("orders")
    orders = lab.create_table(name)
    counts: Counter[str] = Counter()
    started = threading.Event()

    def slow(event: dict[str, Any], context: Any) -> None:
        started.set()
        time.sleep(1.0)
        counts.update(pks(event["Records"]))

    trigger = lab.trigger(name, lab.function("slow-billing", slow, timeout=3))
    try:
        trigger.start(idle_sleep=0.02)
        put_items(orders, "a")
        assert started.wait(WAIT_S)
        with pytest.raises(labkit.TriggerError) as caught:
            trigger.stop(timeout=0.1)  # shorter than the batch in flight
        assert "1 invocation(s) of 'slow-billing' still running" in caught.value.what
        assert f"labkit-trigger-{name}" in caught.value.what
        assert trigger.running and pollers(name) == 1  # said, not hidden
        trigger.start(idle_sleep=0.02)  # waits for the first poller to finish its batch
        assert pollers(name) == 1
        trigger.start(idle_sleep=0.02)  # already polling: still one
        assert pollers(name) == 1
        put_items(orders, "b", "c")
        assert until(lambda: sum(counts.values()) >= 3), counts
        trigger.stop()
        trigger.run_until_idle()
        assert counts == Counter({"a": 1, "b": 1, "c": 1})
        assert trigger.poller_errors == []
    finally:
        trigger.close()


def test_close_leaves_no_labkit_thread(lab, table_name, capsys):
    """A second lab on the session's server, with a trigger mid-batch, a replaced trigger, a
    parallel one and a call that timed out: lab.close() ends every labkit thread."""
    other = _lab._external(lab.endpoint_url)
    before = set(threading.enumerate())
    started = threading.Event()

    def slow(event: dict[str, Any], context: Any) -> None:
        started.set()
        time.sleep(0.5)

    def stall(event: dict[str, Any], context: Any) -> None:
        while True:
            time.sleep(0.01)

    try:
        busy, lanes, stuck = table_name("busy"), table_name("lanes"), table_name("stuck")
        for name in (busy, lanes, stuck):
            put_items(other.create_table(name), "a", "b", "c", "d")
        other.trigger(busy, slow, batch_size=1).start(idle_sleep=0.02)
        other.trigger(busy, slow, batch_size=1).start(idle_sleep=0.02)  # replaces the first
        other.trigger(lanes, slow, batch_size=1, parallelization_factor=2).start(idle_sleep=0.02)
        timed_out = other.trigger(
            stuck, other.function("stall", stall, timeout=1), batch_size=4, maximum_retry_attempts=0
        )
        (call,) = timed_out.run_until_idle()
        assert call.error == "Task timed out after 1.00 seconds"
        assert started.wait(WAIT_S)
        assert any(n.startswith("labkit-lane") for n in threads()), threads()

        other.close()

        left = sorted(t.name for t in set(threading.enumerate()) - before)
        assert left == [], f"threads outlived lab.close(): {left}"
        assert "still" not in capsys.readouterr().out  # nothing left to report
    finally:
        other.close()


def test_close_names_a_timed_out_call_still_blocked_in_c(lab, table_name, capsys):
    """time.sleep is one C call: no thread can be stopped inside it. close() does not pretend:
    it names the thread, which ends when the call returns."""
    name = table_name("orders")
    put_items(lab.create_table(name), "a")

    def stuck(event: dict[str, Any], context: Any) -> None:
        time.sleep(3)

    trigger = lab.trigger(
        name, lab.function("stuck-in-c", stuck, timeout=1), maximum_retry_attempts=0
    )
    (call,) = trigger.run_until_idle()
    assert call.error == "Task timed out after 1.00 seconds"
    trigger.close()
    said = capsys.readouterr().out
    assert "'labkit-function-stuck-in-c' is still inside a call of 'stuck-in-c'" in said
    assert until(lambda: "labkit-function-stuck-in-c" not in threads(), 5.0), threads()


def test_the_mapping_is_named_as_the_checkpoint_consumer(lab, table_name):
    """One home for "which function": the name that makes two triggers the same mapping is the
    consumer of the checkpoint table too."""
    name, checkpoints = table_name("orders"), table_name("checkpoints")
    put_items(lab.create_table(name), "a")
    stream_records(lab, name, 1)
    fn = lab.function("order-totals", lambda event, context: None)
    trigger = lab.trigger(name, fn, checkpoint_table=checkpoints)
    try:
        (done,) = trigger.run_until_idle()
        stored = labkit.TableCheckpoints(
            lab.dynamodb, checkpoints, "order-totals", trigger.stream_arn
        )
        assert stored.all() == {done.shard_id: done.sequence_numbers[-1]}
        assert pk(done.records[0]) == "a"
    finally:
        trigger.close()

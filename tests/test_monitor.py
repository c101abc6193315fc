"""lk.monitor: a live view of a trigger running in the background, on the real DynamoDB Local."""

from __future__ import annotations

import threading
import time

import pytest

import labkit


def _monitor_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name.startswith("labkit-monitor-")]


def _until(condition, timeout: float = 20.0) -> bool:
    """Poll a condition with a bounded wait (no timing is asserted, only the outcome)."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.02)
    return True


@pytest.fixture
def running(lab, table_name):
    name = table_name("orders")
    lab.create_table(name)
    trigger = lab.trigger(name, lambda event, context: None, function_name="fn")
    trigger.start(idle_sleep=0.02)
    yield name, trigger
    trigger.close()


def test_monitor_updates_in_place_while_the_background_trigger_runs(lab, running):
    name, trigger = running
    monitor = labkit.monitor(trigger, interval=0.05)
    try:
        assert monitor.records_shown == 0
        assert 'data-state="running"' in monitor.counter.value
        assert "No records yet" in monitor.table.value
        lab.put_items(name, [{"pk": f"k{n}", "n": n} for n in range(5)])
        # the refresh thread, not this test, redraws the view while the trigger still runs
        assert monitor.wait(records=5) == 5
        assert trigger.running and monitor.running
        assert 'data-state="running"' in monitor.counter.value
        assert 'data-records="5"' in monitor.counter.value
        for n in range(5):
            assert f"pk=k{n}" in monitor.table.value
        assert "<table" in monitor.table.value and "INSERT" in monitor.table.value
        before = monitor.refreshes
        lab.table(name).put_item(Item={"pk": "k9", "n": 9})
        assert monitor.wait(records=6) == 6
        assert monitor.refreshes > before
        assert "pk=k9" in monitor.table.value
    finally:
        monitor.stop()
    assert not _monitor_threads()


def test_the_stop_button_stops_the_trigger_and_the_refreshing(lab, running):
    name, trigger = running
    monitor = labkit.monitor(trigger, interval=0.05)
    monitor.stop_button.click()  # what a click in the notebook does
    assert not monitor.running and not trigger.running
    assert not _monitor_threads(), "the refresh thread was left running"
    assert monitor.stop_button.disabled
    assert 'data-state="stopped"' in monitor.counter.value
    refreshes = monitor.refreshes
    lab.table(name).put_item(Item={"pk": "after-stop"})
    time.sleep(0.3)  # six refresh intervals: a live monitor would have redrawn by now
    assert monitor.refreshes == refreshes
    assert "after-stop" not in monitor.table.value


def test_the_monitor_stops_by_itself_when_the_trigger_stops(lab, running):
    name, trigger = running
    monitor = labkit.monitor(trigger, interval=0.05)
    lab.table(name).put_item(Item={"pk": "one"})
    monitor.wait(records=1)
    trigger.stop()
    assert _until(lambda: not monitor.running), "the monitor kept refreshing a stopped trigger"
    assert not _monitor_threads()
    assert 'data-state="stopped"' in monitor.counter.value
    assert 'data-records="1"' in monitor.counter.value


def test_its_plain_text_is_the_same_whatever_happened(lab, running):
    name, trigger = running
    monitor = labkit.monitor(trigger, interval=0.05)
    first = monitor._repr_mimebundle_()["text/plain"]
    lab.table(name).put_item(Item={"pk": "x"})
    monitor.wait(records=1)
    monitor.stop()
    assert monitor._repr_mimebundle_()["text/plain"] == first == str(monitor)
    assert first == f"Live monitor: {name} stream -> fn. Run this cell to watch it."
    assert "application/vnd.jupyter.widget-view+json" in monitor._repr_mimebundle_()


def test_a_monitor_needs_a_running_trigger(lab, table_name):
    name = table_name("orders")
    lab.create_table(name)
    trigger = lab.trigger(name, lambda event, context: None)
    with pytest.raises(labkit.TriggerError, match=r"not running[\s\S]*trigger\.start\(\)"):
        labkit.monitor(trigger)
    with pytest.raises(labkit.TriggerError, match="watches a trigger"):
        labkit.monitor("orders")  # type: ignore[arg-type]
    assert not _monitor_threads()


def test_wait_says_what_is_missing_when_the_records_do_not_come(lab, running):
    _, trigger = running
    monitor = labkit.monitor(trigger, interval=0.05)
    try:
        with pytest.raises(labkit.TriggerError, match=r"shows 0 of the 3 records[\s\S]*Fix:"):
            monitor.wait(records=3, timeout=0.3)
    finally:
        monitor.stop()


def test_the_monitor_shows_iterator_age_and_records_per_second(lab, running):
    """What an operator watches (issue 14): the IteratorAge of the latest batch, as
    trigger.metrics() computes it, and the records delivered per second lately."""
    name, trigger = running
    monitor = labkit.monitor(trigger, interval=0.05)
    try:
        assert monitor.operations() == (None, 0.0)
        assert 'data-iterator-age-ms=""' in monitor.counter.value
        lab.put_items(name, [{"pk": f"k{n}"} for n in range(3)])
        assert monitor.wait(records=3) == 3
        age, rate = monitor.operations()
        last = [i for i in trigger.invocations if i.iterator_age_ms is not None][-1]
        assert age == last.iterator_age_ms and 0 <= age < 60_000
        assert rate > 0
        monitor.refresh()
        assert "data-iterator-age-ms=" in monitor.counter.value
        assert "records/s" in monitor.counter.value and "IteratorAge" in monitor.counter.value
    finally:
        monitor.stop()
    assert not _monitor_threads()

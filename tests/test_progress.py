"""Progress bars: shown for a long operation (on stderr in a terminal), never for a short one."""

from __future__ import annotations

import pytest

import labkit
from labkit import _seams as _progress
from labkit._seams import Progress


class _Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_a_bar_appears_only_once_the_call_has_taken_the_delay(capsys):
    clock = _Clock()
    with Progress("copying", 10, unit="file", delay=2.0, clock=clock) as progress:
        clock.now += 1.0
        progress.update(3)
        assert not progress.shown  # one second in: a short call stays silent
        clock.now += 1.5
        progress.update(3)
        assert progress.shown
        progress.update(4)
    err = capsys.readouterr().err
    assert "copying" in err and "10/10" in err


def test_a_short_call_prints_nothing(capsys):
    clock = _Clock()
    with Progress("copying", 10, delay=2.0, clock=clock) as progress:
        for _ in range(10):
            clock.now += 0.1
            progress.update()
    assert not progress.shown
    assert capsys.readouterr() == ("", "")


def test_a_small_count_never_shows_a_bar_however_long_it_takes(capsys):
    clock = _Clock()
    with Progress("records", delay=2.0, min_count=1000, clock=clock) as progress:
        clock.now += 60
        progress.update(999)
        progress.tick()
        assert not progress.shown
        progress.update(1)  # the 1,000th record: now it is a long run of many records
        assert progress.shown
    assert "records" in capsys.readouterr().err


def test_tick_shows_a_wait_with_no_count_once_it_is_long(capsys):
    clock = _Clock()
    with Progress("Installing DynamoDB Local", 3, unit="step", clock=clock) as progress:
        progress.tick()
        assert not progress.shown
        clock.now += _progress.DELAY_S
        progress.tick()
        assert progress.shown
    assert "Installing DynamoDB Local" in capsys.readouterr().err


@pytest.fixture
def no_delay(monkeypatch):
    """Every call counts as long, so only the count decides (the real delay is 2 s)."""
    monkeypatch.setattr(_progress, "DELAY_S", 0.0)


@pytest.mark.usefixtures("no_delay")
def test_put_items_shows_a_bar_for_thousands_of_items(lab, table_name, capsys):
    name = table_name("many")
    lab.create_table(name, stream=None)
    assert lab.put_items(name, ({"pk": f"item-{n:04}", "n": n} for n in range(1200))) == 1200
    err = capsys.readouterr().err
    assert f"put_items {name}" in err and "1200/1200" in err
    assert len(lab.items(name)) == 1200


@pytest.mark.usefixtures("no_delay")
def test_put_items_of_a_few_items_stays_silent(lab, table_name, capsys):
    name = table_name("few")
    lab.create_table(name)
    assert lab.put_items(name, [{"pk": f"item-{n}"} for n in range(20)]) == 20
    assert capsys.readouterr() == ("", "")
    assert [i["pk"] for i in lab.items(name)] == sorted(f"item-{n}" for n in range(20))


@pytest.mark.usefixtures("no_delay")
def test_a_long_run_until_idle_shows_records_delivered(lab, table_name, capsys):
    name = table_name("orders")
    lab.create_table(name)
    lab.put_items(name, [{"pk": f"o{n:04}"} for n in range(1100)])
    capsys.readouterr()
    trigger = lab.trigger(name, lambda event, context: None, batch_size=500)
    delivered = trigger.run_until_idle()
    assert sum(len(i.records) for i in delivered) == 1100
    err = capsys.readouterr().err
    assert f"run_until_idle {name}" in err and "1100" in err


@pytest.mark.usefixtures("no_delay")
def test_a_short_run_until_idle_stays_silent(lab, table_name, capsys):
    name = table_name("orders")
    lab.create_table(name)
    lab.put_items(name, [{"pk": "a"}, {"pk": "b"}])
    trigger = lab.trigger(name, lambda event, context: None)
    assert len(trigger.run_until_idle()) == 1
    assert capsys.readouterr() == ("", "")


def test_put_items_refuses_what_is_not_an_item(lab, table_name):
    name = table_name("t")
    lab.create_table(name)
    with pytest.raises(labkit.TableError, match=r"needs items as dicts[\s\S]*Fix:"):
        lab.put_items(name, ["order-1"])  # type: ignore[list-item]

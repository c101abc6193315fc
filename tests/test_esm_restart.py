"""Durable checkpoints: a consumer that stops (or is killed) resumes where it left off.

A trigger made with ``checkpoint_table=`` keeps, per consumer (the handler's ``__name__``) and
shard, the last sequence number it completed. Lambda keeps the same position for an event source
mapping: "Lambda keeps track of the last record processed and resumes processing from that point
when the mapping is reenabled" (Lambda DG, "Using AWS Lambda with Amazon DynamoDB", Enabled), and
it "checkpoints to the highest sequence number of a batch only when the batch is a complete
success" (Lambda DG, "Configuring partial batch response with DynamoDB and Lambda"): records are
processed at least once, never skipped.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from _esm import pks, put_items, seq, seqs, stream_records, trigger_factory

import labkit

ROOT = Path(__file__).resolve().parents[1]
BATCH = 5
DEADLINE_S = 30.0

# The consumer process: connects to the test session's DynamoDB Local (it starts none), attaches
# a handler named "consumer" with a checkpoint table, and appends "<pk> <sequence number>" to a
# file for each record it handles. "forever" polls until killed; "drain" exits once a run finds
# nothing left.
CONSUMER = """
import sys, time
from labkit import _lab

url, table, checkpoints, out, mode = sys.argv[1:6]
lab = _lab._external(url)

def consumer(event, context):
    for record in event["Records"]:
        with open(out, "a") as f:
            f.write(record["dynamodb"]["Keys"]["pk"]["S"] + " "
                    + record["dynamodb"]["SequenceNumber"] + "\\n")
        time.sleep(0.03)

trigger = lab.trigger(table, consumer, batch_size=BATCH_SIZE, checkpoint_table=checkpoints)
while True:
    if not trigger.run_until_idle() and mode == "drain":
        break
    time.sleep(0.02)
trigger.close()
lab.close()
""".replace("BATCH_SIZE", str(BATCH))


@pytest.fixture
def make_trigger(lab: labkit.Lab) -> Iterator[Callable[..., labkit.Trigger]]:
    yield from trigger_factory(lab)


def lines(path: Path) -> list[tuple[str, str]]:
    if not path.exists():
        return []
    return [tuple(line.split()) for line in path.read_text().splitlines() if line]  # type: ignore[misc]


def stored_checkpoint(lab: labkit.Lab, table: str, consumer: str) -> str | None:
    items = lab.dynamodb.scan(TableName=table, ConsistentRead=True)["Items"]
    mine = [i for i in items if i["consumer"]["S"] == consumer]
    assert len(mine) <= 1, mine  # one shard, one checkpoint
    return mine[0]["checkpoint"]["S"] if mine else None


def test_a_consumer_killed_mid_run_is_resumed_by_a_new_process(lab, table_name, tmp_path):
    """Lambda DG, "Using AWS Lambda with Amazon DynamoDB" (Enabled: "Lambda keeps track of the
    last record processed and resumes processing from that point") and "Configuring partial
    batch response with DynamoDB and Lambda" (a checkpoint only after a batch's complete
    success): after a SIGKILL, a new process resumes right after the stored checkpoint; every
    record is handled at least once, none is skipped, and only the batch in flight is handled
    twice."""
    name, checkpoints = table_name("orders"), table_name("checkpoints")
    table = lab.create_table(name)
    put_items(table, *(f"order-{n:02}" for n in range(30)))
    in_stream = seqs(stream_records(lab, name, 30))
    script, out = tmp_path / "consumer.py", tmp_path / "handled.txt"
    script.write_text(CONSUMER)
    path = os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])
    env = {**os.environ, "PYTHONPATH": path}

    def consumer(mode: str) -> subprocess.Popen[bytes]:
        with (tmp_path / f"{mode}.log").open("wb") as log:  # the child keeps its own copy
            return subprocess.Popen(
                [sys.executable, str(script), lab.endpoint_url, name, checkpoints, str(out), mode],
                cwd=ROOT,
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
            )

    first = consumer("forever")
    try:
        deadline = time.monotonic() + DEADLINE_S
        while len(lines(out)) < 2 * BATCH - 2 and first.poll() is None:
            assert time.monotonic() < deadline, (tmp_path / "forever.log").read_text()
            time.sleep(0.01)
    finally:
        first.send_signal(signal.SIGKILL)
        first.wait(timeout=DEADLINE_S)
    assert first.returncode == -signal.SIGKILL, (tmp_path / "forever.log").read_text()
    before = lines(out)
    assert 2 * BATCH - 2 <= len(before) < len(in_stream)  # killed mid-run, as intended
    assert [s for _, s in before] == in_stream[: len(before)]  # in order, from the start

    checkpoint = stored_checkpoint(lab, checkpoints, "consumer")
    assert checkpoint is not None and checkpoint in in_stream[: len(before)]
    resume_at = in_stream.index(checkpoint) + 1
    assert len(before) - resume_at <= BATCH  # at most the batch in flight was not checkpointed

    second = consumer("drain")
    try:
        second.wait(timeout=DEADLINE_S)
    finally:
        if second.poll() is None:
            second.kill()
            second.wait()
    assert second.returncode == 0, (tmp_path / "drain.log").read_text()
    after = lines(out)[len(before) :]
    assert [s for _, s in after] == in_stream[resume_at:]  # right after the checkpoint, in order
    handled = [s for _, s in before + after]
    assert set(handled) == set(in_stream)  # none skipped
    assert len(handled) - len(in_stream) == len(before) - resume_at <= BATCH  # duplicates bounded
    assert stored_checkpoint(lab, checkpoints, "consumer") == in_stream[-1]


def collector(into: list[list[str]]) -> Callable[[dict[str, Any], Any], None]:
    """A handler named "billing" that records the keys of each batch it gets."""

    def billing(event: dict[str, Any], context: Any) -> None:
        into.append(pks(event["Records"]))

    return billing


def test_a_second_trigger_on_the_same_checkpoint_table_resumes_after_the_first(
    lab, table_name, make_trigger
):
    """Lambda DG, "Using AWS Lambda with Amazon DynamoDB" (Enabled): the mapping "keeps track of
    the last record processed and resumes processing from that point"."""
    name, checkpoints = table_name("orders"), table_name("checkpoints")
    table = lab.create_table(name)
    put_items(table, "a", "b", "c")
    stream_records(lab, name, 3)
    first_calls: list[list[str]] = []
    first = make_trigger(name, collector(first_calls), checkpoint_table=checkpoints)
    first.run_until_idle()
    assert first_calls == [["a", "b", "c"]]
    first.close()

    put_items(table, "d", "e")
    in_stream = stream_records(lab, name, 5)
    second_calls: list[list[str]] = []
    second = make_trigger(name, collector(second_calls), checkpoint_table=checkpoints)
    second.run_until_idle()
    assert second_calls == [["d", "e"]]
    assert stored_checkpoint(lab, checkpoints, "billing") == seq(in_stream[-1])


def test_each_consumer_has_its_own_position_in_the_checkpoint_table(lab, table_name, make_trigger):
    """Lambda DG, "Using AWS Lambda with Amazon DynamoDB": "You can create multiple event source
    mappings to process the same data with multiple Lambda functions"; each keeps its own
    position, so a consumer of another name starts at TRIM_HORIZON."""
    name, checkpoints = table_name("orders"), table_name("checkpoints")
    table = lab.create_table(name)
    put_items(table, "a", "b")
    stream_records(lab, name, 2)
    billing_calls: list[list[str]] = []
    make_trigger(name, collector(billing_calls), checkpoint_table=checkpoints).run_until_idle()
    audit_calls: list[list[str]] = []

    def audit(event: dict[str, Any], context: Any) -> None:
        audit_calls.append(pks(event["Records"]))

    make_trigger(name, audit, checkpoint_table=checkpoints).run_until_idle()
    assert billing_calls == audit_calls == [["a", "b"]]


def test_latest_with_a_stored_checkpoint_resumes_from_the_checkpoint(lab, table_name, make_trigger):
    """Lambda DG, "Using AWS Lambda with Amazon DynamoDB": StartingPosition LATEST applies to a
    new mapping ("Process new records that are added to the stream"); a mapping that already
    has a position resumes from the last record processed (Enabled), so records written while
    the consumer was away are not skipped."""
    name, checkpoints = table_name("orders"), table_name("checkpoints")
    table = lab.create_table(name)
    put_items(table, "a", "b")
    stream_records(lab, name, 2)
    first_calls: list[list[str]] = []
    make_trigger(name, collector(first_calls), checkpoint_table=checkpoints).run_until_idle()
    assert first_calls == [["a", "b"]]

    put_items(table, "c", "d")  # while no consumer runs
    stream_records(lab, name, 4)
    second_calls: list[list[str]] = []
    latest = make_trigger(
        name, collector(second_calls), starting_position="LATEST", checkpoint_table=checkpoints
    )
    put_items(table, "e")
    stream_records(lab, name, 5)
    latest.run_until_idle()
    assert second_calls == [["c", "d", "e"]]


def test_a_failed_batch_is_not_checkpointed_so_the_next_consumer_gets_it(
    lab, table_name, make_trigger
):
    """Lambda DG, "Configuring partial batch response with DynamoDB and Lambda": "by default
    Lambda checkpoints to the highest sequence number of a batch only when the batch is a
    complete success": a batch that failed when the consumer stopped is delivered again."""
    name, checkpoints = table_name("orders"), table_name("checkpoints")
    table = lab.create_table(name)
    put_items(table, "a", "b", "c", "d")
    in_stream = stream_records(lab, name, 4)

    def billing(event: dict[str, Any], context: Any) -> None:
        if "c" in pks(event["Records"]):
            raise ValueError("cannot bill c yet")

    first = make_trigger(name, billing, batch_size=2, checkpoint_table=checkpoints)
    assert [(pks(i.records), i.ok) for i in first.run_until_idle()] == [
        (["a", "b"], True),
        (["c", "d"], False),
    ]
    first.close()
    assert stored_checkpoint(lab, checkpoints, "billing") == seq(in_stream[1])

    calls: list[list[str]] = []
    make_trigger(
        name, collector(calls), batch_size=2, checkpoint_table=checkpoints
    ).run_until_idle()
    assert calls == [["c", "d"]]
    assert stored_checkpoint(lab, checkpoints, "billing") == seq(in_stream[-1])

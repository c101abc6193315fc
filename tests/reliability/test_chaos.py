"""Chaos: a background replicator is killed, stalled, stopped and started, and its trigger cell is
run again, while writes go on. Nothing is lost, and nothing is repeated beyond the redelivery of
a batch that at-least-once delivery allows.

A driver writes random inserts, updates and deletes over 200 keys (``test_hard_kills.Writer``) to
a source table, while a consumer process (``_chaos_consumer.py``) replicates them to a target
table with a trigger polling in the background (``trigger.start()``), a checkpoint table and an
idempotent handler. At moments spread over the run (when the consumer has handled a given share
of the writes), in a random order, the driver:

* **kills** the consumer with SIGKILL and starts a new one, which resumes after the checkpoint
  the killed one left ("Lambda keeps track of the last record processed and resumes processing
  from that point", Lambda DG, "Using AWS Lambda with Amazon DynamoDB");
* **stalls** the handler past its timeout halfway through a batch: the call ends with ``Task
  timed out after 1.00 seconds`` and the batch is retried, as Lambda retries a failed batch
  until it succeeds (its default ``MaximumRetryAttempts`` of -1);
* **stops and starts** the trigger: ``stop()`` lets the batch in flight finish, and ``start()``
  runs one poller again;
* **re-runs the trigger cell**: the function is defined again and the same trigger made again,
  which replaces the running one (one mapping per function and stream, as on AWS) and goes on
  from its checkpoint.

Then it checks and prints:

* **records lost: 0**: the target equals the source item for item, and every sequence number
  of the stream (read by an independent ``StreamReader``) is in the consumer's logs; each
  process handled a contiguous stretch of the stream, in order, starting after the checkpoint
  its predecessor left;
* **duplicates**, by cause: the batch in flight at a kill (at most ``batch_size`` per kill),
  the part of the stalled batch applied before the stall (redelivered by its retry; at most
  ``batch_size``), and **beyond that: 0**: a stop and start, or a re-run cell, repeats nothing;
* **threads and processes left: 0**: one poller after every fault; after ``lab.close()`` the
  last consumer has no labkit thread; no consumer process remains; the soak variant's own
  DynamoDB Local is gone once closed.

The default variant (``make test``) makes 600 writes with one fault of each kind on the
session's DynamoDB Local; the soak variant (``make soak``) makes 5,000 writes with four of each
on a DynamoDB Local of its own.
"""

from __future__ import annotations

import itertools
import json
import os
import random
import signal
import subprocess
import sys
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from _streamcheck import at_least, read_until

import labkit
from labkit import _lab

from .test_hard_kills import SEED, Writer, stored_checkpoint, without_bookkeeping

ROOT = Path(__file__).resolve().parents[2]
CONSUMER = Path(__file__).with_name("_chaos_consumer.py")
BATCH = 10
FAULTS = ("kill", "stall", "restart", "rerun")
QUICK_WRITES, QUICK_EACH = 600, 1
SOAK_WRITES, SOAK_EACH = 5_000, 4


@dataclass(frozen=True)
class Line:
    """One line of a consumer's log: a record handled, or a marker ``# <fault> ...``."""

    seq: str = ""
    pk: str = ""
    marker: str = ""


def read_log(path: Path) -> list[Line]:
    if not path.exists():
        return []
    out = []
    for text in path.read_text().split("\n")[:-1]:  # a line being written is left out
        if text.startswith("# "):
            out.append(Line(marker=text[2:].split()[0]))
        else:
            pk, seq, _event, _outcome = text.split()
            out.append(Line(seq=seq, pk=pk))
    return out


@dataclass
class Consumer:
    """One consumer process, its log and its answers."""

    number: int
    folder: Path
    process: subprocess.Popen[bytes]
    answers_read: int = 0

    @property
    def log(self) -> Path:
        return self.folder / f"run-{self.number:02}.log"

    @property
    def replies(self) -> Path:
        return self.folder / f"run-{self.number:02}.replies"

    def output(self) -> str:
        path = self.folder / f"run-{self.number:02}.out"
        return path.read_text(errors="replace")[-4000:] if path.exists() else ""

    def send(self, command: str) -> None:
        assert self.process.stdin is not None
        self.process.stdin.write(f"{command}\n".encode())
        self.process.stdin.flush()

    def answer(self, deadline_s: float) -> str:
        """The next line it answers (bounded wait; a consumer that died fails the test)."""
        deadline = time.monotonic() + deadline_s
        while True:
            lines = self.replies.read_text().splitlines() if self.replies.exists() else []
            if len(lines) > self.answers_read:
                self.answers_read += 1
                return lines[self.answers_read - 1]
            assert self.process.poll() is None, f"consumer {self.number} ended:\n{self.output()}"
            assert time.monotonic() < deadline, f"consumer {self.number} did not answer"
            time.sleep(0.01)


@dataclass
class Fault:
    kind: str
    run: int  # the consumer it was done to
    handled_before: int  # distinct records in all logs when it came
    answer: str = ""
    checkpoint: str | None = None  # for a kill: the checkpoint the killed process left


@dataclass
class Result:
    writes: int
    ops: Counter[str]
    faults: list[Fault] = field(default_factory=list)
    in_stream: list[str] = field(default_factory=list)
    runs: list[list[Line]] = field(default_factory=list)
    finish: dict[str, Any] = field(default_factory=dict)
    consumers_left: list[int] = field(default_factory=list)
    seconds: float = 0.0


def consumer_pids() -> list[int]:
    """Processes running the consumer script, found by command line in /proc."""
    pids = []
    for entry in Path("/proc").glob("[0-9]*/cmdline"):
        try:
            args = entry.read_bytes().decode(errors="replace").split("\0")
        except OSError:
            continue
        if str(CONSUMER) in args:
            pids.append(int(entry.parent.name))
    return pids


def run_chaos(
    lab: labkit.Lab, names: dict[str, str], tmp_path: Path, writes: int, each: int
) -> Result:
    began = time.monotonic()
    deadline_s = 60.0 + writes / 25
    source = lab.create_table(names["source"])
    lab.create_table(names["target"], stream=None)
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]),
    }
    rng = random.Random(SEED + writes)
    faults = [kind for kind in FAULTS for _ in range(each)]
    rng.shuffle(faults)
    step = writes / (len(faults) + 1)
    targets = [round(step * (k + 1) + rng.uniform(-step / 3, step / 3)) for k in range(len(faults))]

    def start(number: int) -> Consumer:
        args = [
            sys.executable,
            str(CONSUMER),
            lab.endpoint_url,
            names["source"],
            names["target"],
            names["checkpoints"],
            str(tmp_path / f"run-{number:02}.log"),
            str(tmp_path / f"run-{number:02}.replies"),
            str(BATCH),
        ]
        with (tmp_path / f"run-{number:02}.out").open("wb") as out:
            process = subprocess.Popen(
                args, cwd=ROOT, env=env, stdin=subprocess.PIPE, stdout=out, stderr=out
            )
        consumer = Consumer(number, tmp_path, process)
        assert consumer.answer(deadline_s) == "started pollers=1", consumer.output()
        return consumer

    writer = Writer(source, writes, SEED)
    result = Result(writes, writer.ops)
    consumers: list[Consumer] = []
    try:
        writer.start()
        consumers.append(start(0))
        seen: set[str] = set()
        for kind, target in zip(faults, targets, strict=True):
            current = consumers[-1]
            deadline = time.monotonic() + deadline_s
            while len(seen | {line.seq for line in read_log(current.log)} - {""}) < target:
                assert current.process.poll() is None, current.output()
                assert writer.error is None, writer.error
                assert time.monotonic() < deadline, f"consumer stalled:\n{current.output()}"
                time.sleep(0.005)
            handled = len(seen | {line.seq for line in read_log(current.log)} - {""})
            fault = Fault(kind, current.number, handled)
            if kind == "kill":
                time.sleep(rng.uniform(0, 0.05))  # mid-batch, or between batches
                current.process.send_signal(signal.SIGKILL)
                current.process.wait(timeout=deadline_s)
                assert current.process.returncode == -signal.SIGKILL, current.output()
                seen |= {line.seq for line in read_log(current.log)} - {""}
                fault.checkpoint = stored_checkpoint(lab, names["checkpoints"])
                consumers.append(start(len(consumers)))
            else:
                current.send(kind)
                fault.answer = current.answer(deadline_s)
            result.faults.append(fault)

        writer.join(timeout=deadline_s)
        assert not writer.is_alive() and writer.error is None, writer.error
        reader = labkit.StreamReader(lab.streams, lab.stream_arn(names["source"]))
        records = read_until(reader, at_least(writes), timeout=deadline_s)
        records += reader.read_all()
        result.in_stream = [r["dynamodb"]["SequenceNumber"] for r in records]
        assert len(result.in_stream) == writes, (len(result.in_stream), writes)

        last = consumers[-1]
        last.send("finish")
        answer = last.answer(deadline_s)
        assert answer.startswith("finish "), answer
        result.finish = json.loads(answer.removeprefix("finish "))
        last.process.wait(timeout=deadline_s)
        assert last.process.returncode == 0, last.output()
    finally:
        writer.halt.set()
        for consumer in consumers:
            if consumer.process.poll() is None:
                consumer.process.kill()
                consumer.process.wait()
            if consumer.process.stdin is not None:
                consumer.process.stdin.close()
        writer.join(timeout=deadline_s)
    result.runs = [read_log(c.log) for c in consumers]
    result.consumers_left = consumer_pids()
    result.seconds = time.monotonic() - began
    return result


# -- the checks ------------------------------------------------------------------------------
@dataclass
class Duplicates:
    per_kill: list[int]
    per_stall: list[int]
    beyond: list[tuple[int, str]]  # (run, sequence number) repeated with no kill or stall


def count_duplicates(result: Result) -> Duplicates:
    """Each repeated record, by cause: the kill that ended the run which handled it before, or
    the stall between its two handlings in one run; anything else is beyond at-least-once."""
    kills = [f for f in result.faults if f.kind == "kill"]
    per_kill = [0] * len(kills)
    per_stall: list[int] = []
    beyond: list[tuple[int, str]] = []
    earlier: set[str] = set()
    for run, lines in enumerate(result.runs):
        first_at: dict[str, int] = {}
        stalls_at: list[int] = []  # line numbers of this run's stall markers
        for n, line in enumerate(lines):
            if line.marker == "stall":
                stalls_at.append(n)
                per_stall.append(0)
            elif line.marker:
                continue
            elif line.seq in first_at:
                between = [s for s in stalls_at if first_at[line.seq] < s < n]
                if between:
                    stall_number = len(per_stall) - len(stalls_at) + stalls_at.index(between[-1])
                    per_stall[stall_number] += 1
                else:
                    beyond.append((run, line.seq))
            else:
                first_at[line.seq] = n
                if line.seq in earlier:
                    per_kill[run - 1] += 1  # the kill that ended the previous run
        earlier |= first_at.keys()
    return Duplicates(per_kill, per_stall, beyond)


def check(lab: labkit.Lab, names: dict[str, str], result: Result) -> Duplicates:
    in_stream = result.in_stream
    position = {seq: n for n, seq in enumerate(in_stream)}

    # Records lost: none. The target equals the source, and every record was handled.
    source = {item["pk"]: item for item in lab.items(names["source"])}
    target_all = {item["pk"]: item for item in lab.items(names["target"])}
    target = {pk: without_bookkeeping(i) for pk, i in target_all.items() if not i.get("_deleted")}
    differ = sorted(pk for pk in source.keys() | target.keys() if source.get(pk) != target.get(pk))
    assert not differ, [(pk, source.get(pk), target.get(pk)) for pk in differ[:5]]
    logged = {line.seq for run in result.runs for line in run if not line.marker}
    assert logged - position.keys() == set(), "a record that is not in the stream was handled"
    lost = [seq for seq in in_stream if seq not in logged]
    assert not lost, f"{len(lost)} record(s) lost, first {lost[:5]}"

    # Each process handled a contiguous stretch of the stream, in order (through its stops,
    # starts, re-runs and stalls), starting right after the checkpoint its predecessor left.
    kills = [f for f in result.faults if f.kind == "kill"]
    for run, lines in enumerate(result.runs):
        firsts = list(dict.fromkeys(line.seq for line in lines if not line.marker))
        assert firsts, f"run {run} handled nothing"
        start = position[firsts[0]]
        assert firsts == in_stream[start : start + len(firsts)], f"run {run}: a gap or disorder"
        if run == 0:
            assert start == 0
        else:
            kept = kills[run - 1].checkpoint
            assert start == (0 if kept is None else position[kept] + 1), (run, kept)

    # Duplicates: only the redelivery of a batch, after a kill or a stall.
    duplicates = count_duplicates(result)
    beyond = duplicates.beyond
    assert not beyond, f"{len(beyond)} record(s) repeated with no kill or stall: {beyond[:5]}..."
    assert all(0 <= d <= BATCH for d in duplicates.per_kill + duplicates.per_stall), duplicates
    assert len(duplicates.per_stall) >= sum(f.kind == "stall" for f in result.faults)

    # One poller after every fault; nothing left behind.
    for fault in result.faults:
        if fault.kind == "stall":
            assert fault.answer == "stall done pollers=1", fault
        elif fault.kind == "restart":
            assert fault.answer == "restart stopped=0 pollers=1", fault
        elif fault.kind == "rerun":
            assert fault.answer == "rerun pollers=1", fault
    assert result.finish == {"threads": [], "poller_errors": []}, result.finish
    assert result.consumers_left == [], f"consumer processes left: {result.consumers_left}"
    return duplicates


def report(result: Result, duplicates: Duplicates) -> str:
    kinds = Counter(f.kind for f in result.faults)
    repeated = sum(duplicates.per_kill) + sum(duplicates.per_stall) + len(duplicates.beyond)
    return "\n".join(
        [
            f"{result.writes} writes ({dict(result.ops)}) replicated through "
            f"{', '.join(f'{kinds[k]} {k}' for k in FAULTS)} in {result.seconds:.1f} s, "
            f"batch_size {BATCH}:",
            "  records lost: 0",
            f"  duplicates: {repeated} (redelivered batches): after kills "
            f"{duplicates.per_kill}, after stalls {duplicates.per_stall}; beyond at-least-once "
            f"redelivery of a batch: {len(duplicates.beyond)}",
            f"  pollers after each fault: 1; labkit threads left after lab.close(): "
            f"{len(result.finish['threads'])}; consumer processes left: "
            f"{len(result.consumers_left)}",
            "  faults in order: "
            + ", ".join(f"{f.kind}@{f.handled_before}" for f in result.faults),
        ]
    )


def test_chaos_loses_nothing_and_repeats_only_redelivered_batches(lab, table_name, tmp_path):
    names = {label: table_name(label) for label in ("source", "target", "checkpoints")}
    result = run_chaos(lab, names, tmp_path, QUICK_WRITES, QUICK_EACH)
    print(report(result, check(lab, names, result)))


def dynamodb_local_on(port: int) -> list[int]:
    """Pids of processes running DynamoDB Local (Java or its guard) for ``port``."""
    found = []
    for entry in Path("/proc").glob("[0-9]*/cmdline"):
        try:
            args = entry.read_bytes().decode(errors="replace").split("\0")
        except OSError:
            continue
        if any("DynamoDBLocal" in a for a in args) and any(
            a == "-port" and b == str(port) for a, b in itertools.pairwise(args)
        ):
            found.append(int(entry.parent.name))
    return found


@pytest.mark.soak
@pytest.mark.dynamodb_local
def test_chaos_loses_nothing_and_repeats_only_redelivered_batches_soak(tmp_path):
    names = {
        label: f"chaos.{uuid.uuid4().hex[:8]}.{label}"
        for label in ("source", "target", "checkpoints")
    }
    own = _lab._launch(None)  # a fresh server: see the ``fresh_lab`` fixture for why
    assert own.server is not None
    port = own.server.port
    try:
        result = run_chaos(own, names, tmp_path, SOAK_WRITES, SOAK_EACH)
        duplicates = check(own, names, result)
    finally:
        own.close()
    deadline = time.monotonic() + 5
    while dynamodb_local_on(port) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert dynamodb_local_on(port) == [], "the soak's DynamoDB Local outlived its lab"
    print(report(result, duplicates) + "\n  DynamoDB Local processes left: 0")

"""Hard kills lose nothing: a consumer SIGKILLed again and again still replicates every write.

A driver writes inserts, updates and deletes over 200 item keys (random operations, fixed seed)
to a source table, while a consumer in its own process (``_replicator.py``) copies every change
to a target table through ``lab.trigger(..., checkpoint_table=...)``. The driver kills the
consumer with SIGKILL at random moments, each time once it has made progress, and starts a new
one. Afterwards:

* the target table equals the source table, item for item (the handler is idempotent: each
  record is applied with a write conditional on the stored sequence number being lower);
* no record was skipped: every sequence number of the stream, read by an independent
  ``StreamReader``, is in the consumer's logs, and each new process resumed right after the
  checkpoint its predecessor stored (never beyond it);
* duplicates are counted per kill (printed) and bounded: only records of the batch in flight when
  the process died, at most ``batch_size`` per kill;
* within each process run, records were handled in stream order, so per item key in order.

This is Lambda's contract for stream event sources: "Lambda keeps track of the last record
processed and resumes processing from that point" (Lambda DG, "Using AWS Lambda with Amazon
DynamoDB") and "checkpoints to the highest sequence number of a batch only when the batch is a
complete success" ("Configuring partial batch response with DynamoDB and Lambda"), so records
are delivered at least once and the function must be idempotent. ``tests/test_esm_restart.py``
checks one kill in detail; this test checks many, under concurrent writes.

The default variant (``make test``) makes 1,000 writes and ``$LABKIT_SOAK_KILLS`` kills (3 if
unset) on the session's DynamoDB Local; the soak variant (``make soak``) makes 5,000 writes and
``$LABKIT_SOAK_KILLS`` kills (20 if unset) on a DynamoDB Local of its own.
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from _streamcheck import at_least, read_until

import labkit

ROOT = Path(__file__).resolve().parents[2]
REPLICATOR = Path(__file__).with_name("_replicator.py")
BATCH = 10
KEYS = 200
SEED = 20240611
QUICK_WRITES, SOAK_WRITES = 1_000, 5_000


def kills_from_env(default: int) -> int:
    raw = os.environ.get("LABKIT_SOAK_KILLS", "").strip()
    if not raw:
        return default
    if not raw.isdigit() or int(raw) < 1:
        raise ValueError(
            f"LABKIT_SOAK_KILLS={raw!r} is not a number of kills: it must be a whole number "
            "from 1. Set it like LABKIT_SOAK_KILLS=20, or unset it for the default."
        )
    return int(raw)


QUICK_KILLS, SOAK_KILLS = kills_from_env(3), kills_from_env(20)


# -- the driver's writes ---------------------------------------------------------------------
class Writer(threading.Thread):
    """Writes ``count`` random changes over ``KEYS`` keys, each of which makes exactly one
    stream record: a put always changes ``v``, an update always sets ``v``, and only an item
    that exists is deleted (deleting a missing item, or writing an unchanged one, makes none)."""

    def __init__(self, table: Any, count: int, seed: int) -> None:
        super().__init__(name="soak-writer", daemon=True)
        self.table, self.count, self.seed = table, count, seed
        self.written = 0
        self.ops: Counter[str] = Counter()
        self.error: BaseException | None = None
        self.halt = threading.Event()

    def run(self) -> None:
        try:
            self._write()
        except BaseException as exc:  # shown by the test
            self.error = exc

    def _write(self) -> None:
        rng = random.Random(self.seed)
        keys = [f"k{n:03}" for n in range(KEYS)]
        present: set[str] = set()
        for i in range(self.count):
            if self.halt.is_set():
                return
            pk = rng.choice(keys)
            if pk in present:
                op = rng.choices(("put", "update", "delete"), weights=(3, 4, 2))[0]
            else:
                op = rng.choice(("put", "update"))  # an update of a missing item inserts it
            if op == "put":
                self.table.put_item(
                    Item={
                        "pk": pk,
                        "v": i,
                        "name": f"{pk} version {i}",
                        "tags": {f"t{i % 5}", f"t{i % 3 + 5}"},
                        "doc": {"n": i % 7, "list": [i, str(i), i % 2 == 0]},
                    }
                )
            elif op == "update" and rng.random() < 0.3:
                self.table.update_item(
                    Key={"pk": pk},
                    UpdateExpression="SET v = :v REMOVE #name",
                    ExpressionAttributeNames={"#name": "name"},
                    ExpressionAttributeValues={":v": i},
                )
            elif op == "update":
                self.table.update_item(
                    Key={"pk": pk},
                    UpdateExpression="SET v = :v, note = :note ADD hits :one",
                    ExpressionAttributeValues={":v": i, ":note": f"note {i}", ":one": 1},
                )
            else:
                self.table.delete_item(Key={"pk": pk})
            if op == "delete":
                present.discard(pk)
            else:
                present.add(pk)
            self.ops[op] += 1
            self.written = i + 1


# -- the consumer's logs ---------------------------------------------------------------------
@dataclass(frozen=True)
class Line:
    pk: str
    seq: str
    event: str
    outcome: str  # "applied", or "stale": already applied (a duplicate, or an older record)


def read_log(path: Path) -> list[Line]:
    """The complete lines of a run's log (a line being written when we look is left out)."""
    if not path.exists():
        return []
    return [Line(*line.split()) for line in path.read_text().split("\n")[:-1]]


@dataclass
class Kill:
    logged_before: int  # distinct records in all logs when the kill landed
    backlog: int  # records written but not yet logged by then
    checkpoint: str | None  # the checkpoint the killed process left


@dataclass
class Result:
    writes: int
    ops: Counter[str]
    in_stream: list[str]  # sequence numbers, in stream order
    last_of_key: dict[str, str]  # each item key's last sequence number
    runs: list[list[Line]]
    kills: list[Kill] = field(default_factory=list)
    seconds: float = 0.0


def stored_checkpoint(lab: labkit.Lab, table: str) -> str | None:
    items = lab.dynamodb.scan(TableName=table, ConsistentRead=True)["Items"]
    mine = [i for i in items if i["consumer"]["S"] == "replicator"]
    assert len(mine) <= 1, mine  # DynamoDB Local has one shard per stream
    return mine[0]["checkpoint"]["S"] if mine else None


def run_with_kills(
    lab: labkit.Lab, names: dict[str, str], tmp_path: Path, writes: int, kills: int
) -> Result:
    """Write ``writes`` changes while a consumer process is killed ``kills`` times, then let a
    last consumer finish; returns what happened, for the test to check."""
    began = time.monotonic()
    deadline_s = 60.0 + writes / 25  # generous: a stuck consumer fails, a slow one does not
    source = lab.create_table(names["source"])
    lab.create_table(names["target"], stream=None)
    stop = tmp_path / "stop"
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]),
    }
    rng = random.Random(SEED + kills)
    # Kill number k once the logs hold about k/(kills+1) of the writes (jittered), so that each
    # kill comes after progress, and each leaves work for the next process: mid-run.
    step = writes / (kills + 1)
    targets = [round(step * (k + 1) + rng.uniform(-step / 3, step / 3)) for k in range(kills)]

    def log_of(run: int) -> Path:
        return tmp_path / f"run-{run:02}.log"

    def output_of(run: int) -> str:
        path = tmp_path / f"run-{run:02}.out"
        return path.read_text(errors="replace")[-4000:] if path.exists() else ""

    def start(run: int) -> subprocess.Popen[bytes]:
        args = [
            sys.executable,
            str(REPLICATOR),
            lab.endpoint_url,
            names["source"],
            names["target"],
            names["checkpoints"],
            str(log_of(run)),
            str(BATCH),
            str(stop),
        ]
        with (tmp_path / f"run-{run:02}.out").open("wb") as out:  # the child keeps its own copy
            return subprocess.Popen(args, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT)

    writer = Writer(source, writes, SEED)
    result = Result(writes, writer.ops, [], {}, [])
    process: subprocess.Popen[bytes] | None = None
    try:
        writer.start()
        seen: set[str] = set()
        for run, target in enumerate(targets):
            process = start(run)
            deadline = time.monotonic() + deadline_s
            while len(seen | {line.seq for line in read_log(log_of(run))}) < target:
                assert process.poll() is None, f"consumer {run} ended:\n{output_of(run)}"
                assert writer.error is None, writer.error
                assert time.monotonic() < deadline, f"consumer {run} stalled:\n{output_of(run)}"
                time.sleep(0.005)
            time.sleep(rng.uniform(0, 0.05))  # a random moment: mid-batch, or between batches
            assert process.poll() is None, f"consumer {run} ended early:\n{output_of(run)}"
            process.send_signal(signal.SIGKILL)
            process.wait(timeout=deadline_s)
            assert process.returncode == -signal.SIGKILL, output_of(run)
            seen |= {line.seq for line in read_log(log_of(run))}
            assert len(seen) < writes, "the kill came after the last record: not mid-run"
            kill = Kill(len(seen), writer.written - len(seen), None)
            kill.checkpoint = stored_checkpoint(lab, names["checkpoints"])
            result.kills.append(kill)

        writer.join(timeout=deadline_s)
        assert not writer.is_alive() and writer.error is None, writer.error
        # An independent consumer of the stream: the reference for what the stream holds.
        reader = labkit.StreamReader(lab.streams, lab.stream_arn(names["source"]))
        records = read_until(reader, at_least(writes), timeout=deadline_s)
        records += reader.read_all()  # nothing more may come: one record per write
        result.in_stream = [r["dynamodb"]["SequenceNumber"] for r in records]
        result.last_of_key = {
            r["dynamodb"]["Keys"]["pk"]["S"]: r["dynamodb"]["SequenceNumber"] for r in records
        }
        assert len(result.in_stream) == writes, (len(result.in_stream), writes)

        stop.touch()  # the last consumer exits once a run started after this finds nothing
        process = start(kills)
        try:
            process.wait(timeout=deadline_s)
        except subprocess.TimeoutExpired:
            pytest.fail(f"the last consumer did not finish:\n{output_of(kills)}")
        assert process.returncode == 0, output_of(kills)
    finally:
        writer.halt.set()
        if process is not None and process.poll() is None:
            process.kill()
            process.wait()
        writer.join(timeout=deadline_s)
    result.runs = [read_log(log_of(run)) for run in range(kills + 1)]
    result.seconds = time.monotonic() - began
    return result


# -- the checks ------------------------------------------------------------------------------
def without_bookkeeping(item: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in item.items() if k not in ("_seq", "_deleted")}


def check(lab: labkit.Lab, names: dict[str, str], result: Result) -> list[int]:
    """Assert that nothing was lost and little repeated; returns the duplicates per kill."""
    in_stream, runs = result.in_stream, result.runs
    position = {seq: n for n, seq in enumerate(in_stream)}

    # The target equals the source, item for item; each target item (or tombstone) carries the
    # last sequence number of its key in the stream.
    source = {item["pk"]: item for item in lab.items(names["source"])}
    target_all = {item["pk"]: item for item in lab.items(names["target"])}
    target = {pk: without_bookkeeping(i) for pk, i in target_all.items() if not i.get("_deleted")}
    differ = sorted(pk for pk in source.keys() | target.keys() if source.get(pk) != target.get(pk))
    assert not differ, [(pk, source.get(pk), target.get(pk)) for pk in differ[:5]]
    assert {pk: int(i["_seq"]) for pk, i in target_all.items()} == {
        pk: int(seq) for pk, seq in result.last_of_key.items()
    }

    # Nothing skipped, nothing invented.
    logged = [line.seq for run in runs for line in run]
    assert set(logged) - position.keys() == set()
    missing = [seq for seq in in_stream if seq not in set(logged)]
    assert not missing, f"{len(missing)} record(s) never handled, first {missing[:5]}"

    # Within each process run: per item key in order (and in fact the stream's order, without
    # a gap: a run handles a contiguous stretch of the stream).
    spans: list[tuple[int, int]] = []
    for n, run in enumerate(runs):
        last: dict[str, int] = {}
        for line in run:
            assert line.pk not in last or int(line.seq) > last[line.pk], (n, line)
            last[line.pk] = int(line.seq)
        assert run, f"run {n} handled nothing"
        first = position[run[0].seq]
        assert [line.seq for line in run] == in_stream[first : first + len(run)], n
        spans.append((first, first + len(run)))

    # Each new process starts right after the checkpoint its predecessor left, which is never
    # beyond what that one handled; what it handles again is the batch in flight at the kill.
    assert spans[0][0] == 0 and spans[-1][1] == len(in_stream)
    duplicates = []
    for k, kill in enumerate(result.kills):
        resume_at = 0 if kill.checkpoint is None else position[kill.checkpoint] + 1
        assert spans[k + 1][0] == resume_at, (k, spans, kill)
        assert resume_at <= spans[k][1], f"kill {k}: resumed beyond what was handled: a gap"
        duplicates.append(spans[k][1] - resume_at)
    assert all(0 <= d <= BATCH for d in duplicates), duplicates
    assert len(logged) - len(in_stream) == sum(duplicates) <= len(result.kills) * BATCH
    return duplicates


def report(result: Result, duplicates: list[int]) -> str:
    stale = [sum(line.outcome == "stale" for line in run) for run in result.runs]
    lines = [
        f"{result.writes} writes ({dict(result.ops)}), {len(result.kills)} SIGKILLs, "
        f"batch_size {BATCH}: {sum(duplicates)} duplicate deliveries in "
        f"{result.seconds:.1f} s",
        f"  duplicates per kill: {duplicates}",
        f"  stale applies per run (the idempotent write refused an already applied record): "
        f"{stale}",
    ]
    for k, (kill, dup) in enumerate(zip(result.kills, duplicates, strict=True)):
        lines.append(
            f"  kill {k + 1}: {kill.logged_before}/{result.writes} handled, "
            f"{kill.backlog} written but not yet handled; checkpoint "
            f"{kill.checkpoint}; {dup} handled again"
        )
    return "\n".join(lines)


def test_hard_kills_lose_nothing(lab, table_name, tmp_path):
    names = {label: table_name(label) for label in ("source", "target", "checkpoints")}
    result = run_with_kills(lab, names, tmp_path, QUICK_WRITES, QUICK_KILLS)
    duplicates = check(lab, names, result)
    print(report(result, duplicates))


@pytest.mark.soak
@pytest.mark.dynamodb_local
def test_hard_kills_lose_nothing_soak(fresh_lab, tmp_path):
    names = {
        label: f"soak.{uuid.uuid4().hex[:8]}.{label}"
        for label in ("source", "target", "checkpoints")
    }
    result = run_with_kills(fresh_lab, names, tmp_path, SOAK_WRITES, SOAK_KILLS)
    duplicates = check(fresh_lab, names, result)
    print(report(result, duplicates))

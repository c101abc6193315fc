"""Write-to-handler latency in live mode (``trigger.start()``), on a fresh DynamoDB Local.

1,000 PutItems at a steady 100 a second; for each, the time from the write's return to the first
line of the handler invocation that gets its record (p50, p95, p99). Then sparser writes (200 at
10 a second, 20 at 1 a second), where the poller's idle back-off decides the wait, and what the
trigger costs while nothing is written (calls a second, CPU). For reference, a bare GetRecords
loop with no sleep (the backend's floor: how soon a record can be seen at all). AWS Lambda polls
a shard about four times a second: about 125 ms of waiting on average.

Run with `make bench` (or `python bench/latency.py`). Prints a Markdown table and writes
bench/results/latency.{json,md}. Options: --writes, --rate, --sparse, --idle-sleep (see --help).
"""

from __future__ import annotations

import argparse
import threading
import time
from typing import Any

from _common import (
    CallCounter,
    CpuMeter,
    fresh_lab,
    markdown_table,
    p50,
    percentile,
    summary_row,
    write_results,
)

from labkit._lab import Lab

TABLE, FLOOR_TABLE = "latency", "latency_floor"
TARGET_P50_MS, TARGET_P99_MS = 10.0, 50.0
IDLE_S = 3.0


def _pk(record: dict[str, Any]) -> str:
    return str(record["dynamodb"]["Keys"]["pk"]["S"])


def steady_writes(lab: Lab, prefix: str, count: int, rate: float, table: str) -> dict[str, float]:
    """``count`` PutItems, one every 1/rate s; the time each returned, by key."""
    returned: dict[str, float] = {}
    put = lab.dynamodb.put_item
    began = time.perf_counter()
    for i in range(count):
        delay = began + i / rate - time.perf_counter()
        if delay > 0:
            time.sleep(delay)
        key = f"{prefix}-{i:05d}"
        put(TableName=table, Item={"pk": {"S": key}, "n": {"N": str(i)}})
        returned[key] = time.perf_counter()
    return returned


def wait_for(seen: dict[str, float], keys: list[str], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while any(k not in seen for k in keys) and time.monotonic() < deadline:
        time.sleep(0.01)


def latencies_ms(returned: dict[str, float], seen: dict[str, float]) -> list[float]:
    return [(seen[k] - t) * 1000 for k, t in returned.items() if k in seen]


def trigger_run(
    lab: Lab, writes: int, rate: float, idle_sleep: float, table: str, *, idle: bool
) -> dict[str, Any]:
    """The trigger in live mode: latencies, calls and CPU while writing, and while idle."""
    seen: dict[str, float] = {}

    def handler(event: dict[str, Any], context: Any) -> None:
        now = time.perf_counter()  # the handler's first line
        for record in event["Records"]:
            seen.setdefault(_pk(record), now)

    calls = CallCounter(getattr(lab, "trigger_streams", lab.streams))
    lab.dynamodb.put_item(TableName=table, Item={"pk": {"S": "warm-up"}})
    trigger = lab.trigger(table, handler, function_name="latency")
    trigger.start(idle_sleep=idle_sleep)
    try:
        wait_for(seen, ["warm-up"], 30)
        first = len(trigger.invocations)
        before, cpu = calls.snapshot(), CpuMeter(lab)
        returned = steady_writes(lab, "t", writes, rate, table)
        wait_for(seen, list(returned), 30)
        busy, busy_calls = cpu.read(), calls.snapshot() - before
        quiet: dict[str, Any] | None = None
        if idle:
            time.sleep(0.6)  # let the back-off reach its longest pause
            before, cpu = calls.snapshot(), CpuMeter(lab)
            time.sleep(IDLE_S)
            quiet, idle_calls = cpu.read(), calls.snapshot() - before
            quiet["calls_per_s"] = {k: v / quiet["wall_s"] for k, v in idle_calls.items()}
    finally:
        trigger.close()
        calls.close()
    delivered = [len(i.records) for i in trigger.invocations[first:]]
    return {
        "kind": "trigger",
        "writes": writes,
        "rate_per_s": rate,
        "latency_ms": latencies_ms(returned, seen),
        "missing": sum(k not in seen for k in returned),
        "invocations": len(delivered),
        "records_per_invocation": sum(delivered) / max(len(delivered), 1),
        "busy": {**busy, "calls_per_s": {k: v / busy["wall_s"] for k, v in busy_calls.items()}},
        "idle": quiet,
        "poller_errors": list(trigger.poller_errors),
    }


def floor_run(lab: Lab, writes: int, rate: float) -> dict[str, Any]:
    """A bare GetRecords loop with no sleep (Limit 1000) over the same kind of writes."""
    seen: dict[str, float] = {}
    streams = lab.streams
    arn = lab.stream_arn(FLOOR_TABLE)
    shard = streams.describe_stream(StreamArn=arn)["StreamDescription"]["Shards"][0]["ShardId"]
    # a record first: on DynamoDB Local an iterator taken on an empty shard breaks (README)
    lab.dynamodb.put_item(TableName=FLOOR_TABLE, Item={"pk": {"S": "floor-start"}})
    iterator = streams.get_shard_iterator(
        StreamArn=arn, ShardId=shard, ShardIteratorType="TRIM_HORIZON"
    )["ShardIterator"]
    while True:  # read to the end of what is there
        resp = streams.get_records(ShardIterator=iterator, Limit=1000)
        iterator = resp["NextShardIterator"]
        if not resp["Records"]:
            break
    stop = threading.Event()
    polls = [0]

    def poll() -> None:
        nonlocal iterator
        while not stop.is_set():
            resp = streams.get_records(ShardIterator=iterator, Limit=1000)
            now = time.perf_counter()
            polls[0] += 1
            for record in resp["Records"]:
                seen.setdefault(str(record["dynamodb"]["Keys"]["pk"]["S"]), now)
            iterator = resp["NextShardIterator"]

    thread = threading.Thread(target=poll, daemon=True)
    thread.start()
    try:
        cpu = CpuMeter(lab)
        returned = steady_writes(lab, "f", writes, rate, FLOOR_TABLE)
        wait_for(seen, list(returned), 30)
        busy = cpu.read()
    finally:
        stop.set()
        thread.join(10)
    return {
        "kind": "floor",
        "writes": writes,
        "rate_per_s": rate,
        "latency_ms": latencies_ms(returned, seen),
        "missing": sum(k not in seen for k in returned),
        "busy": {**busy, "calls_per_s": {"GetRecords": polls[0] / busy["wall_s"]}},
    }


def stats(latency_ms: list[float]) -> dict[str, float]:
    return {
        "p50": p50(latency_ms),
        "p95": percentile(latency_ms, 95),
        "p99": percentile(latency_ms, 99),
        "max": max(latency_ms) if latency_ms else float("nan"),
    }


def calls(part: dict[str, Any]) -> str:
    per_s = part["calls_per_s"]
    return ", ".join(f"{k} {v:.0f}/s" for k, v in sorted(per_s.items())) or "none"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--writes", type=int, default=1000)
    parser.add_argument("--rate", type=float, default=100.0, help="writes a second")
    parser.add_argument(
        "--sparse",
        default="200@10,20@1",
        help="sparser live runs, as WRITES@RATE,... (the idle back-off matters there); '' for none",
    )
    parser.add_argument(
        "--floor-writes", type=int, default=500, help="writes for the bare GetRecords loop"
    )
    parser.add_argument("--idle-sleep", type=float, default=0.05, help="start(idle_sleep=...)")
    parser.add_argument("--no-floor", action="store_true", help="skip the bare GetRecords loop")
    args = parser.parse_args()
    plans = [(args.writes, args.rate)]
    for plan in filter(None, args.sparse.split(",")):
        count, rate = plan.split("@")
        plans.append((int(count), float(rate)))

    runs: list[dict[str, Any]] = []
    tables = [f"{TABLE}_{i}" for i in range(len(plans))]
    with fresh_lab() as lab:
        # Every table first: a table made after records piled up is slower (bench/slowdown.py).
        for table in [FLOOR_TABLE, *tables]:
            lab.create_table(table)
        if not args.no_floor:
            floor = floor_run(lab, args.floor_writes, args.rate)
            runs.append({"reader": "bare GetRecords loop, no sleep (floor)", **floor})
        for i, ((writes, rate), table) in enumerate(zip(plans, tables, strict=True)):
            live = trigger_run(lab, writes, rate, args.idle_sleep, table, idle=i == 0)
            runs.append({"reader": f"trigger.start(idle_sleep={args.idle_sleep:g})", **live})
    for run in runs:
        run["stats_ms"] = stats(run["latency_ms"])

    rows = [
        [
            run["reader"],
            f"{run['writes']:,} at {run['rate_per_s']:g}/s",
            *(f"{run['stats_ms'][k]:.1f}" for k in ("p50", "p95", "p99", "max")),
            calls(run["busy"]),
            f"{run['busy']['python_cpu_pct']:.0f}% / {run['busy']['java_cpu_pct']:.0f}%",
        ]
        for run in runs
    ]
    live_runs = [run for run in runs if run["kind"] == "trigger"]
    idle = live_runs[0]["idle"]
    notes = [
        f"{run['writes']:,} at {run['rate_per_s']:g}/s: {run['invocations']} invocations, "
        f"{run['records_per_invocation']:.2f} records each, {run['missing']} write(s) never "
        "seen" + (f", poller errors: {run['poller_errors']}" if run["poller_errors"] else "")
        for run in live_runs
    ]
    text = "\n".join(
        [
            "Write-to-handler latency on a fresh DynamoDB Local: ms from a PutItem's return to "
            "the first line of the handler invocation that gets its record",
            "",
            markdown_table(
                [
                    "reader",
                    "writes",
                    "p50 (ms)",
                    "p95 (ms)",
                    "p99 (ms)",
                    "max (ms)",
                    "calls while writing",
                    "CPU python / java",
                ],
                rows,
            ),
            "",
            f"Trigger idle for {IDLE_S:g} s: {calls(idle)}; CPU python "
            f"{idle['python_cpu_pct']:.0f}%, java {idle['java_cpu_pct']:.0f}% (100% = one core). "
            + "; ".join(notes)
            + f". Targets: p50 < {TARGET_P50_MS:g} ms, p99 < {TARGET_P99_MS:g} ms. "
            "AWS Lambda polls about 4 times a second: ~125 ms average wait.",
        ]
    )
    summary = []
    for run in live_runs:
        at = f"{run['writes']:,} writes at {run['rate_per_s']:g}/s"
        ok = not run["missing"]
        summary += [
            summary_row(
                f"live latency p50, {at}",
                f"{run['stats_ms']['p50']:.1f} ms",
                f"< {TARGET_P50_MS:g} ms",
                ok and run["stats_ms"]["p50"] < TARGET_P50_MS,
            ),
            summary_row(f"live latency p95, {at}", f"{run['stats_ms']['p95']:.1f} ms"),
            summary_row(
                f"live latency p99, {at}",
                f"{run['stats_ms']['p99']:.1f} ms",
                f"< {TARGET_P99_MS:g} ms",
                ok and run["stats_ms"]["p99"] < TARGET_P99_MS,
            ),
        ]
    for run in runs:
        if run["kind"] == "floor":
            summary.append(
                summary_row("floor: bare GetRecords loop p50", f"{run['stats_ms']['p50']:.1f} ms")
            )
    summary.append(
        summary_row(
            "idle trigger: calls, CPU",
            f"{calls(idle)}; python {idle['python_cpu_pct']:.0f}%, "
            f"java {idle['java_cpu_pct']:.0f}%",
        )
    )
    data = {"idle_sleep_s": args.idle_sleep, "idle_measured_s": IDLE_S, "runs": runs}
    write_results("latency", text, data, summary)


if __name__ == "__main__":
    main()

"""Throughput against the backend's own limit, on a fresh DynamoDB Local.

20,000 stream records (BatchWriteItem, 25 items a call, into a table with a stream); then, over
those same records and on the same server:

1. the raw rate: a tight GetRecords loop (Limit 1000) from the start of the shard, no processing;
2. a new trigger (TRIM_HORIZON, batch_size 100) with a no-op handler, ``run_until_idle()``;
3. the same, live: ``start()`` until every record has been delivered;
4. once, a trigger whose handler writes every record's new image to a target table with
   BatchWriteItem, 25 items a call (the target has no stream, so it adds no stream records).

Each trigger run comes right after a raw run of its own and its ratio is taken against that one
(the machine is shared: a ratio compares runs made side by side); 2 and 3 are repeated in three
rounds and the median ratio is reported. Target: the no-op handler at least 80% of raw. Run with
`make bench` (or `python bench/throughput.py`); prints a Markdown table and writes
bench/results/throughput.{json,md}.
"""

from __future__ import annotations

import argparse
import statistics
import threading
import time
from typing import Any

from _common import (
    CallCounter,
    CpuMeter,
    fresh_lab,
    markdown_table,
    summary_row,
    write_results,
)

from labkit._lab import Lab

SOURCE, TARGET = "throughput_source", "throughput_target"
TARGET_RATIO = 0.80


def fill(lab: Lab, count: int) -> float:
    """``count`` new items, 25 a BatchWriteItem; returns the seconds it took."""
    began = time.perf_counter()
    for first in range(0, count, 25):
        requests = [
            {
                "PutRequest": {
                    "Item": {
                        "pk": {"S": f"item-{i:06d}"},
                        "n": {"N": str(i)},
                        "status": {"S": "new"},
                        "note": {"S": "a small item, as in the lessons"},
                    }
                }
            }
            for i in range(first, min(first + 25, count))
        ]
        write_all(lab, SOURCE, requests)
    return time.perf_counter() - began


def write_all(lab: Lab, table: str, requests: list[dict[str, Any]]) -> None:
    """One BatchWriteItem, repeated for any unprocessed items."""
    pending = {table: requests}
    while pending:
        pending = lab.dynamodb.batch_write_item(RequestItems=pending).get("UnprocessedItems")


def raw_read(lab: Lab, count: int) -> float:
    """Seconds for a tight GetRecords loop (Limit 1000) to read ``count`` records."""
    streams = lab.streams
    arn = lab.stream_arn(SOURCE)
    began = time.perf_counter()
    shard = streams.describe_stream(StreamArn=arn)["StreamDescription"]["Shards"][0]["ShardId"]
    iterator = streams.get_shard_iterator(
        StreamArn=arn, ShardId=shard, ShardIteratorType="TRIM_HORIZON"
    )["ShardIterator"]
    seen = 0
    while seen < count:
        resp = streams.get_records(ShardIterator=iterator, Limit=1000)
        seen += len(resp["Records"])
        iterator = resp["NextShardIterator"]
    return time.perf_counter() - began


def count_items(lab: Lab, table: str) -> int:
    total, kwargs = 0, {"TableName": table, "Select": "COUNT"}
    while True:
        page = lab.dynamodb.scan(**kwargs)
        total += page["Count"]
        if "LastEvaluatedKey" not in page:
            return total
        kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]


def noop(event: dict[str, Any], context: Any) -> None:
    return None


def make_copier(lab: Lab) -> Any:
    client = lab.dynamodb

    def copy_to_target(event: dict[str, Any], context: Any) -> None:
        requests = [
            {"PutRequest": {"Item": r["dynamodb"]["NewImage"]}}
            for r in event["Records"]
            if "NewImage" in r["dynamodb"]
        ]
        for first in range(0, len(requests), 25):
            pending = {TARGET: requests[first : first + 25]}
            while pending:
                pending = client.batch_write_item(RequestItems=pending).get("UnprocessedItems")

    return copy_to_target


def trigger_run(
    lab: Lab, handler: Any, count: int, *, live: bool, batch_size: int
) -> dict[str, Any]:
    """Seconds for a new trigger (TRIM_HORIZON) to deliver ``count`` records."""
    calls = CallCounter(getattr(lab, "trigger_streams", lab.streams))
    delivered = [0]
    done = threading.Event()

    def counted(event: dict[str, Any], context: Any) -> Any:
        delivered[0] += len(event["Records"])
        if delivered[0] >= count:
            done.set()
        return handler(event, context)

    trigger = lab.trigger(SOURCE, counted, batch_size=batch_size, function_name=handler.__name__)
    cpu = CpuMeter(lab)
    began = time.perf_counter()
    if live:
        trigger.start()
        done.wait(600)  # no polling here: the poller thread keeps the GIL to itself
        took = time.perf_counter() - began
        trigger.stop()
    else:
        trigger.run_until_idle()
        took = time.perf_counter() - began
    usage = cpu.read()
    trigger.close()
    calls.close()
    return {
        "seconds": took,
        "records": delivered[0],
        "invocations": len(trigger.invocations),
        "calls": dict(calls.counts),
        "python_cpu_pct": usage["python_cpu_pct"],
        "java_cpu_pct": usage["java_cpu_pct"],
        "poller_errors": list(trigger.poller_errors),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--records", type=int, default=20_000)
    parser.add_argument("--batch-size", type=int, default=100, help="the trigger's batch_size")
    parser.add_argument("--rounds", type=int, default=3, help="rounds of raw+no-op, raw+live")
    args = parser.parse_args()
    count = args.records

    rounds: list[dict[str, Any]] = []
    with fresh_lab() as lab:
        lab.create_table(SOURCE)
        lab.create_table(TARGET, stream=None)
        fill_s = fill(lab, count)
        raw_read(lab, count)  # warm-up: the first pass over a stream is the slowest
        # Interleaved, so that a machine that gets busier or quieter meanwhile (it is shared)
        # moves both sides of each ratio alike.
        for _ in range(args.rounds):
            one: dict[str, Any] = {}
            for key, live in (("noop", False), ("noop_live", True)):
                one[f"{key}_raw_s"] = raw_read(lab, count)  # its own raw run, just before it
                one[key] = trigger_run(lab, noop, count, live=live, batch_size=args.batch_size)
            one["raw_s"] = one["noop_raw_s"]
            rounds.append(one)
        copy_raw_s = raw_read(lab, count)
        copy = trigger_run(lab, make_copier(lab), count, live=False, batch_size=args.batch_size)
        copied = count_items(lab, TARGET)

    def rate(run: dict[str, Any]) -> float:
        return float(run["records"]) / float(run["seconds"])

    raw_all = [r[f"{key}_raw_s"] for r in rounds for key in ("noop", "noop_live")]
    raw_rate = statistics.median(count / s for s in raw_all)
    labels = {
        "noop": "trigger, no-op handler, run_until_idle()",
        "noop_live": "trigger, no-op handler, live start()",
        "copy": "trigger, handler copies each record to a table (BatchWriteItem of 25)",
    }
    ratios = {
        key: statistics.median(rate(r[key]) / (count / r[f"{key}_raw_s"]) for r in rounds)
        for key in ("noop", "noop_live")
    }
    ratios["copy"] = rate(copy) / (count / copy_raw_s)

    def calls(run: dict[str, Any]) -> str:
        made = ", ".join(f"{v:,} {k}" for k, v in sorted(run["calls"].items()))
        return f"{run['invocations']:,} invocations; {made}"

    def cpu(run: dict[str, Any]) -> str:
        return f"{run['python_cpu_pct']:.0f}% / {run['java_cpu_pct']:.0f}%"

    n = len(rounds)
    rows = [
        [
            f"raw GetRecords loop, Limit 1000 (median of {len(raw_all)})",
            f"{statistics.median(raw_all):.2f}",
            f"{raw_rate:,.0f}",
            "1.00",
            f"{-(-count // 1000)} GetRecords",
            "",
        ]
    ]
    for key in ("noop", "noop_live"):
        runs = [r[key] for r in rounds]
        middle = sorted(runs, key=rate)[n // 2]
        rows.append(
            [
                f"{labels[key]} (median of {n})",
                f"{middle['seconds']:.2f}",
                f"{rate(middle):,.0f}",
                f"{ratios[key]:.2f}",
                calls(middle),
                cpu(middle),
            ]
        )
    rows.append(
        [
            labels["copy"],
            f"{copy['seconds']:.2f}",
            f"{rate(copy):,.0f}",
            f"{ratios['copy']:.2f}",
            calls(copy),
            cpu(copy),
        ]
    )
    complete = all(
        run["records"] == count for r in rounds for run in (r["noop"], r["noop_live"])
    ) and (copy["records"] == count and copied == count)
    per_round = "; ".join(
        f"raw {r['noop_raw_s']:.2f} s, no-op {r['noop']['seconds']:.2f} s "
        f"({r['noop_raw_s'] / r['noop']['seconds']:.2f}), raw {r['noop_live_raw_s']:.2f} s, "
        f"live {r['noop_live']['seconds']:.2f} s "
        f"({r['noop_live_raw_s'] / r['noop_live']['seconds']:.2f})"
        for r in rounds
    )
    text = "\n".join(
        [
            f"Throughput over {count:,} stream records on a fresh DynamoDB Local "
            f"(trigger batch_size={args.batch_size}; filled in {fill_s:.1f} s, "
            f"{count / fill_s:,.0f} items/s with BatchWriteItem)",
            "",
            markdown_table(
                ["reader", "seconds", "records/s", "ratio of raw", "calls", "CPU python / java"],
                rows,
            ),
            "",
            f"Rounds: {per_round}. Each trigger run is compared with a raw run made just before "
            f"it (the machine is shared); a ratio is the median over the rounds. The copy's raw "
            f"run took {copy_raw_s:.2f} s. Items in the target table afterwards: {copied:,} of "
            f"{count:,}. Target: no-op handler at least {TARGET_RATIO:.0%} of raw.",
        ]
    )
    summary = [
        summary_row("raw GetRecords rate (Limit 1000)", f"{raw_rate:,.0f} records/s"),
        summary_row(
            "no-op handler (run_until_idle), ratio of raw",
            f"{ratios['noop']:.2f}",
            f">= {TARGET_RATIO:.2f}",
            ratios["noop"] >= TARGET_RATIO and complete,
        ),
        summary_row(
            "no-op handler (live start()), ratio of raw",
            f"{ratios['noop_live']:.2f}",
            f">= {TARGET_RATIO:.2f}",
            ratios["noop_live"] >= TARGET_RATIO and complete,
        ),
        summary_row(
            "handler copying to a table, ratio of raw",
            f"{ratios['copy']:.2f} ({rate(copy):,.0f} records/s)",
        ),
    ]
    data = {
        "records": count,
        "batch_size": args.batch_size,
        "fill_s": fill_s,
        "raw_records_per_s": raw_rate,
        "ratios": ratios,
        "rounds": rounds,
        "copy": copy,
        "copy_raw_s": copy_raw_s,
        "copied": copied,
        "complete": complete,
    }
    write_results("throughput", text, data, summary)


if __name__ == "__main__":
    main()

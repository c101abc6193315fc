"""Does DynamoDB Local slow down as stream records pile up on one server?

It was reported, on this kind of machine, that PutItem's median grows with the stream records a
server holds, whatever the table: 2.3 ms after 10,000 records, 16.6 ms after 40,000, about 30 ms
after 57,000, and that deleting tables does not help. This benchmark measures the curve on one
fresh server (warmed up first on a table without a stream): it adds records in steps
(BatchWriteItem, 25 items a call, into one table with a stream) and at each step measures:

* PutItem into the table that holds the records (100 writes), and into two tables created at
  that step: one with a stream, one without (50 writes each);
* an idle poll (GetRecords at the end of a shard, the call a live trigger makes most often) on
  the big table's stream and on the new table's;
* a full read (GetRecords, Limit 1000, from the start of the big shard) and DescribeStream.

That is why every benchmark starts its own in-memory server (``_common.fresh_lab``) and creates
its tables before writing. Run with `make bench` (or `python bench/slowdown.py --max 40000
--step 10000`); prints a Markdown table and writes bench/results/slowdown.{json,md}.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable
from typing import Any

from _common import fresh_lab, markdown_table, p50, percentile, summary_row, write_results

from labkit._lab import Lab

TABLE = "slowdown"
REPORTED_MS = {10_000: 2.3, 40_000: 16.6, 57_000: 30.0}  # PutItem p50, as reported


def sample_ms(call: Callable[[int], Any], count: int) -> list[float]:
    out = []
    for i in range(count):
        began = time.perf_counter()
        call(i)
        out.append((time.perf_counter() - began) * 1000)
    return out


def add_records(lab: Lab, first: int, count: int) -> float:
    """``count`` new items (so ``count`` stream records); returns items/s."""
    began = time.perf_counter()
    for start in range(first, first + count, 25):
        requests = [
            {"PutRequest": {"Item": {"pk": {"S": f"fill-{i:06d}"}, "n": {"N": str(i)}}}}
            for i in range(start, min(start + 25, first + count))
        ]
        pending: Any = {TABLE: requests}
        while pending:
            pending = lab.dynamodb.batch_write_item(RequestItems=pending).get("UnprocessedItems")
    return count / (time.perf_counter() - began)


def end_of_shard(lab: Lab, arn: str) -> tuple[str, float]:
    """An iterator after the newest record of the stream's shard, and the seconds the reading
    of the whole shard to get there took."""
    streams = lab.streams
    shard = streams.describe_stream(StreamArn=arn)["StreamDescription"]["Shards"][0]["ShardId"]
    began = time.perf_counter()
    iterator = streams.get_shard_iterator(
        StreamArn=arn, ShardId=shard, ShardIteratorType="TRIM_HORIZON"
    )["ShardIterator"]
    while True:
        resp = streams.get_records(ShardIterator=iterator, Limit=1000)
        iterator = resp["NextShardIterator"]
        if not resp["Records"]:
            return iterator, time.perf_counter() - began


def idle_polls_ms(lab: Lab, iterator: str, count: int) -> list[float]:
    """GetRecords at the end of a shard (nothing new), ``count`` times."""
    at = {"iterator": iterator}

    def poll(i: int) -> None:
        at["iterator"] = lab.streams.get_records(ShardIterator=at["iterator"], Limit=1000)[
            "NextShardIterator"
        ]

    return sample_ms(poll, count)


def measure(lab: Lab, step: int, arn: str, shard: str) -> dict[str, Any]:
    streams = lab.streams

    def put_into(table: str) -> Callable[[int], None]:
        def put(i: int) -> None:
            lab.dynamodb.put_item(TableName=table, Item={"pk": {"S": f"probe-{step}-{i}"}})

        return put

    puts = sample_ms(put_into(TABLE), 100)
    # Tables created now, after the records piled up: with a stream, and without one.
    fresh, plain = f"{TABLE}_{step}", f"{TABLE}_{step}_no_stream"
    lab.create_table(fresh)
    lab.create_table(plain, stream=None)
    fresh_puts = sample_ms(put_into(fresh), 50)
    plain_puts = sample_ms(put_into(plain), 50)
    fresh_end, _ = end_of_shard(lab, lab.stream_arn(fresh))
    fresh_idle = idle_polls_ms(lab, fresh_end, 50)

    big_end, read_all_s = end_of_shard(lab, arn)
    idle = idle_polls_ms(lab, big_end, 50)

    def full_read(i: int) -> None:
        iterator = streams.get_shard_iterator(
            StreamArn=arn, ShardId=shard, ShardIteratorType="TRIM_HORIZON"
        )["ShardIterator"]
        streams.get_records(ShardIterator=iterator, Limit=1000)

    full = sample_ms(full_read, 5)
    describe = sample_ms(lambda i: streams.describe_stream(StreamArn=arn), 20)
    return {
        "put_p50_ms": p50(puts),
        "put_p95_ms": percentile(puts, 95),
        "new_table_put_p50_ms": p50(fresh_puts),
        "new_table_put_p95_ms": percentile(fresh_puts, 95),
        "new_table_no_stream_put_p50_ms": p50(plain_puts),
        "new_table_idle_poll_p50_ms": p50(fresh_idle),
        "idle_poll_p50_ms": p50(idle),
        "full_read_p50_ms": p50(full),
        "describe_p50_ms": p50(describe),
        "read_whole_stream_s": read_all_s,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--max", type=int, default=40_000, help="records at the last step")
    parser.add_argument("--step", type=int, default=10_000)
    args = parser.parse_args()

    points: list[dict[str, Any]] = []
    with fresh_lab() as lab:
        lab.create_table(TABLE)
        # Warm the JVM first, on a table without a stream (so no stream records): otherwise
        # the first step measures a cold server, not an empty one.
        lab.create_table(f"{TABLE}_warm_up", stream=None)
        for i in range(500):
            lab.dynamodb.put_item(TableName=f"{TABLE}_warm_up", Item={"pk": {"S": f"w{i}"}})
        lab.dynamodb.put_item(TableName=TABLE, Item={"pk": {"S": "first"}})
        arn = lab.stream_arn(TABLE)
        shard = lab.streams.describe_stream(StreamArn=arn)["StreamDescription"]["Shards"][0][
            "ShardId"
        ]
        records, filled = 1, 0
        for target in range(0, args.max + 1, args.step):
            rate = None
            if target > records:
                rate = add_records(lab, filled, target - records)
                filled += target - records
                records = target
            point = {
                "records": records,
                "fill_items_per_s": rate,
                **measure(lab, target, arn, shard),
            }
            records += 150  # the probe PutItems
            points.append(point)
            print(
                f"  {point['records']:>6,} records: PutItem p50 {point['put_p50_ms']:.2f} ms",
                flush=True,
            )

    rows = [
        [
            f"{p['records']:,}",
            f"{p['put_p50_ms']:.2f}",
            f"{p['new_table_put_p50_ms']:.2f} / {p['new_table_put_p95_ms']:.2f}",
            f"{p['new_table_no_stream_put_p50_ms']:.2f}",
            f"{p['idle_poll_p50_ms']:.2f}",
            f"{p['new_table_idle_poll_p50_ms']:.2f}",
            f"{p['full_read_p50_ms']:.1f}",
            f"{p['describe_p50_ms']:.2f}",
            f"{p['read_whole_stream_s']:.2f}",
            "" if p["fill_items_per_s"] is None else f"{p['fill_items_per_s']:,.0f}",
        ]
        for p in points
    ]
    first, last = points[0], points[-1]
    growth = last["new_table_put_p50_ms"] / first["new_table_put_p50_ms"]
    reported = ", ".join(f"{ms:g} ms at {n:,}" for n, ms in REPORTED_MS.items())
    verdict = (
        f"Reproduced here for tables created after the records piled up: PutItem p50 on a new "
        f"table with a stream went from {first['new_table_put_p50_ms']:.2f} ms to "
        f"{last['new_table_put_p50_ms']:.2f} ms ({growth:.1f}x), while the table holding the "
        f"records stayed at {last['put_p50_ms']:.2f} ms and a new table without a stream at "
        f"{last['new_table_no_stream_put_p50_ms']:.2f} ms."
        if growth >= 2
        else f"Not reproduced by this workload: PutItem p50 on a new table went from "
        f"{first['new_table_put_p50_ms']:.2f} ms to {last['new_table_put_p50_ms']:.2f} ms."
    )
    text = "\n".join(
        [
            "DynamoDB Local as stream records pile up on one fresh server (one table; ms "
            "unless noted)",
            "",
            markdown_table(
                [
                    "stream records",
                    "PutItem p50, table holding them",
                    "PutItem p50 / p95, table made now",
                    "PutItem p50, table made now, no stream",
                    "idle GetRecords p50, table holding them",
                    "idle GetRecords p50, table made now",
                    "GetRecords 1000 p50",
                    "DescribeStream p50",
                    "read whole stream (s)",
                    "fill items/s",
                ],
                rows,
            ),
            "",
            f"Reported earlier (PutItem p50): {reported}. {verdict} So every benchmark "
            "starts its own server and creates its tables before it writes anything.",
        ]
    )
    summary = [
        summary_row(
            f"PutItem p50 at {p['records']:,} stream records",
            f"{p['new_table_put_p50_ms']:.2f} ms on a table made then, "
            f"{p['put_p50_ms']:.2f} ms on the table holding them",
        )
        for p in points
    ]
    data = {"points": points, "reported_put_p50_ms": REPORTED_MS, "growth": growth}
    write_results("slowdown", text, data, summary)


if __name__ == "__main__":
    main()

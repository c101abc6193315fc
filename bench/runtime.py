"""Runtime overhead per invocation: what the Lambda runtime around a handler costs.

Real stream records are read once from a fresh DynamoDB Local; then, with no server in the way
(bench/overhead.py's stand-in streams client serves those records from memory), a trigger with
``batch_size`` 1 delivers each record in an invocation of its own, so the per-invocation cost
dominates: reading and shaping the record, the event, the context, and the runtime around the
handler (on this version: the execution environment's worker thread, the function's environment
variables switched in, the output captured with START/END/REPORT lines, the response size
check, the memory figure of the REPORT line).

Measured, as microseconds per invocation (best of several runs):

* ``direct``: the no-op handler called in a plain loop with the events labkit built (the floor);
* ``callable``: a trigger whose function is a Python callable (``lab.trigger(table, handler)``);
* ``module``: a trigger whose function is ``"module.handler"`` loaded from a code folder (only
  on a labkit that has ``Function``; the module has a module-level boto3 client, as on AWS).

The runtime's overhead is ``callable - direct``. Run it on two versions to compare: this file
works on labkit before and after the runtime (``PYTHONPATH=<checkout> python bench/runtime.py``);
``make bench`` runs it on the current one and writes bench/results/runtime.{json,md}.
"""

from __future__ import annotations

import argparse
import gc
import tempfile
import time
from pathlib import Path
from typing import Any

from _common import markdown_table, summary_row, write_results
from overhead import MemoryStreams, real_records

from labkit.esm._options import TriggerConfig
from labkit.esm._trigger import Trigger

TABLE = "overhead"
MODULE = """import os

import boto3

table = boto3.resource("dynamodb", region_name="us-east-1").Table(os.environ["TARGET_TABLE"])


def handler(event, context):
    return None
"""


def noop(event: dict[str, Any], context: Any) -> None:
    return None


def best(run: Any, repeats: int) -> float:
    """The best of ``repeats`` timings of ``run()``, in seconds (garbage collected before)."""
    fastest = float("inf")
    for _ in range(repeats):
        gc.collect()
        began = time.perf_counter()
        run()
        fastest = min(fastest, time.perf_counter() - began)
    return fastest


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--records", type=int, default=1000)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--no-write", action="store_true", help="print only")
    args = parser.parse_args()
    records, arn, shard = real_records(args.records)
    count = len(records)
    events: list[dict[str, Any]] = []

    def trigger_run(handler: Any) -> None:
        trigger = Trigger(
            TABLE,
            arn,
            handler,
            TriggerConfig(batch_size=1),
            streams=MemoryStreams(records, shard),
        )
        try:
            trigger.run_until_idle()
            done = trigger.invocations
            assert len(done) == count and all(i.ok for i in done), "not every invocation ran"
        finally:
            trigger.close()

    def keep(event: dict[str, Any], context: Any) -> None:
        events.append(event)

    trigger_run(keep)
    context = object()

    def direct() -> None:
        for event in events:
            noop(event, context)

    per = {
        "direct": best(direct, args.repeats) / count * 1e6,
        "callable": best(lambda: trigger_run(noop), args.repeats) / count * 1e6,
    }
    try:
        from labkit.esm._function import Function  # the runtime's Function (not before it)
    except ImportError:
        Function = None  # type: ignore[assignment,misc]
    if Function is not None:
        with tempfile.TemporaryDirectory() as folder:
            (Path(folder) / "bench_noop.py").write_text(MODULE)
            function = Function(
                "bench-noop",
                "bench_noop.handler",
                code=Path(folder),
                environment={"TARGET_TABLE": "target"},
            )
            per["module"] = best(lambda: trigger_run(function), args.repeats) / count * 1e6
    overhead = per["callable"] - per["direct"]
    rows = [
        ["no-op handler called directly with the same events (floor)", per["direct"]],
        ["trigger, batch_size 1, function = Python callable", per["callable"]],
    ]
    if "module" in per:
        rows.append(
            ["trigger, batch_size 1, function = 'module.handler' (code folder)", per["module"]]
        )
    text = "\n".join(
        [
            f"Per-invocation cost, {count:,} real stream records, one per invocation, served "
            f"from memory (best of {args.repeats} runs)",
            "",
            markdown_table(
                ["what runs", "µs per invocation", "invocations/s"],
                [[name, f"{us:.1f}", f"{1e6 / us:,.0f}"] for name, us in rows],
            ),
            "",
            f"Overhead of a trigger invocation over a direct call: {overhead:.0f} µs.",
        ]
    )
    print(text)
    if args.no_write:
        return
    summary = [
        summary_row("trigger cost per invocation (batch_size 1, no server)", f"{overhead:.0f} µs")
    ]
    data = {"records": count, "repeats": args.repeats, "us_per_invocation": per}
    write_results("runtime", text, data, summary)


if __name__ == "__main__":
    main()

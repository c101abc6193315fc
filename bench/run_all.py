"""Run every benchmark in bench/ in sequence, then write bench/results/summary.md.

A benchmark is any bench/*.py but this file and the helpers whose names start with "_". Each runs
in its own Python process (and starts its own DynamoDB Local), one after the other, never two at
once. Each writes bench/results/<name>.json with ``summary`` rows (see ``_common.summary_row``);
this script gathers them into one table (benchmark, measure, value, target, holds?) under the
machine it ran on and how busy that machine was.

`make bench` runs this. `python bench/run_all.py latency throughput` runs only those.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from _common import OUT, busy_processes, machine, markdown_table

HERE = Path(__file__).resolve().parent


def benchmarks() -> list[Path]:
    return sorted(
        p for p in HERE.glob("*.py") if p.name != Path(__file__).name and not p.name.startswith("_")
    )


def run(path: Path) -> tuple[int, float]:
    print(f"\n== {path.stem} ==", flush=True)
    began = time.perf_counter()
    code = subprocess.run([sys.executable, str(path)], cwd=HERE.parent, check=False).returncode
    took = time.perf_counter() - began
    print(f"== {path.stem}: {'ok' if code == 0 else f'FAILED (exit {code})'}, {took:.0f} s")
    return code, took


def summary_rows(name: str, code: int, took: float) -> list[list[str]]:
    holds = {True: "yes", False: "**no**", None: ""}
    if code != 0:
        return [[name, "the benchmark failed", f"exit status {code}", "", "**no**"]]
    try:
        data: dict[str, Any] = json.loads((OUT / f"{name}.json").read_text())
    except (OSError, ValueError) as exc:
        return [[name, "results", f"unreadable: {exc}", "", ""]]
    rows = [
        [
            name,
            str(row.get("measure", "")),
            str(row.get("value", "")),
            str(row.get("target", "")),
            holds.get(row.get("holds"), str(row.get("holds"))),
        ]
        for row in data.get("summary") or []
    ]
    return rows or [[name, "results", f"see {name}.md", "", ""]]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("names", nargs="*", help="run only these benchmarks (file stems)")
    args = parser.parse_args()
    chosen = [p for p in benchmarks() if not args.names or p.stem in args.names]
    unknown = set(args.names) - {p.stem for p in benchmarks()}
    if unknown:
        sys.exit(f"run_all: no benchmark named {', '.join(sorted(unknown))} in {HERE}")

    load_before, busy_before = os.getloadavg(), busy_processes()
    print(f"Benchmarks: {', '.join(p.stem for p in chosen)}")
    print(f"Load average before: {' '.join(f'{x:.2f}' for x in load_before)}")
    began = time.perf_counter()
    results = [(path.stem, *run(path)) for path in chosen]
    total = time.perf_counter() - began
    load_after = os.getloadavg()

    about = machine()
    rows = [row for name, code, took in results for row in summary_rows(name, code, took)]
    times = ", ".join(f"{name} {took:.0f} s" for name, _, took in results)
    text = "\n".join(
        [
            "# Benchmark summary",
            "",
            f"Machine: {about['cpu']}, {about['cores']} cores, {about['ram_gb']} GB RAM; "
            f"{about['os']}; Python {about['python']}; Java {about['java']}; "
            f"DynamoDB Local {about['dynamodb_local']}.",
            "",
            f"Run on {time.strftime('%Y-%m-%d %H:%M %Z')} in {total:.0f} s ({times}). "
            f"Load average before: {' '.join(f'{x:.2f}' for x in load_before)}, after: "
            f"{' '.join(f'{x:.2f}' for x in load_after)}. Busiest processes before: "
            f"{'; '.join(busy_before) or 'unknown'}.",
            "",
            markdown_table(["benchmark", "measure", "value", "target", "holds?"], rows),
            "",
            "Each benchmark's full table is in bench/results/<benchmark>.md, its data in "
            "<benchmark>.json.",
        ]
    )
    OUT.mkdir(exist_ok=True)
    (OUT / "summary.md").write_text(text + "\n")
    print("\n" + text)
    if any(code != 0 for _, code, _ in results):
        sys.exit(1)


if __name__ == "__main__":
    main()

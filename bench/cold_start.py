"""Backend cold start: from `lk.start()` to the first successful call, on fresh servers.

Run with `make bench`. Prints a Markdown table and writes bench/results/cold_start.{json,md}.
The fuller suite (latency, throughput, workbook run time) is planned in the issues.
"""

from __future__ import annotations

import json
import platform
import statistics
import time
from pathlib import Path

from labkit._install import find_dynamodb_local
from labkit._java import find_java
from labkit._lab import Lab
from labkit._server import LocalServer, free_port

RUNS = 5
OUT = Path(__file__).with_name("results")


def one_start() -> tuple[float, float]:
    """Seconds to a listening port, and to the first answered ListTables."""
    began = time.perf_counter()
    server = LocalServer(find_dynamodb_local(), find_java(), free_port())
    server.start()
    listening = time.perf_counter() - began
    lab = Lab(server.endpoint_url, server)
    try:
        lab.dynamodb.list_tables(Limit=1)
        return listening, time.perf_counter() - began
    finally:
        lab.close()


def main() -> None:
    samples = [one_start() for _ in range(RUNS)]
    listen = [s[0] for s in samples]
    first = [s[1] for s in samples]
    java = find_java()
    result = {
        "machine": f"{platform.machine()}, {platform.system()} {platform.release()}",
        "java": f"{java.version} ({java.source})",
        "dynamodb_local": find_dynamodb_local().version,
        "runs": RUNS,
        "listening_s": {"median": statistics.median(listen), "min": min(listen)},
        "first_call_s": {"median": statistics.median(first), "min": min(first)},
    }
    table = "\n".join([
        f"Cold start of DynamoDB Local {result['dynamodb_local']} on Java {result['java']}, "
        f"{RUNS} runs ({result['machine']})",
        "",
        "| measure | median (s) | min (s) |",
        "|---|---|---|",
        f"| port accepts connections | {statistics.median(listen):.2f} | {min(listen):.2f} |",
        f"| first ListTables answered | {statistics.median(first):.2f} | {min(first):.2f} |",
    ])
    OUT.mkdir(exist_ok=True)
    (OUT / "cold_start.json").write_text(json.dumps(result, indent=2) + "\n")
    (OUT / "cold_start.md").write_text(table + "\n")
    print(table)


if __name__ == "__main__":
    main()

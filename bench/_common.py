"""What the benchmarks share: a fresh DynamoDB Local each, percentiles, call counts, CPU time,
the machine they ran on, and the results files (bench/results/<name>.json and .md).

Every benchmark starts its own in-memory DynamoDB Local (``fresh_lab``) and closes it at the end,
so no benchmark runs on a server that another one has filled with stream records, and every
ratio a benchmark reports is measured in one run against one server. A benchmark's JSON carries
``summary`` rows (measure, value, target, holds) that ``run_all.py`` collects into
bench/results/summary.md.
"""

from __future__ import annotations

import json
import os
import platform
import re
import statistics
import subprocess
import time
from collections import Counter
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from labkit._lab import Lab, _launch

# LABKIT_BENCH_OUT sends the results elsewhere (for experiments that must not overwrite them).
OUT = Path(os.environ.get("LABKIT_BENCH_OUT") or Path(__file__).with_name("results"))


@contextmanager
def fresh_lab() -> Iterator[Lab]:
    """A new in-memory DynamoDB Local for one benchmark; always closed afterwards."""
    lab = _launch(None)
    try:
        yield lab
    finally:
        lab.close()


def percentile(values: Sequence[float], p: float) -> float:
    """The p-th percentile (0-100), linear between the two nearest ranks."""
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    rank = (len(ordered) - 1) * p / 100
    low = int(rank)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


def p50(values: Sequence[float]) -> float:
    return statistics.median(values) if values else float("nan")


class CallCounter:
    """Counts the API calls a boto3 client makes, by operation (GetRecords, DescribeStream...)."""

    def __init__(self, client: Any) -> None:
        self.counts: Counter[str] = Counter()
        self.client = client
        client.meta.events.register("before-call", self._count)

    def close(self) -> None:
        self.client.meta.events.unregister("before-call", self._count)

    def _count(self, model: Any, **_: Any) -> None:
        self.counts[model.name] += 1

    def snapshot(self) -> Counter[str]:
        return Counter(self.counts)


def cpu_seconds(pid: int | None) -> float:
    """User + system CPU seconds used so far by process ``pid`` (all its threads)."""
    if pid is None:
        return float("nan")
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return float("nan")
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


class CpuMeter:
    """CPU used by this Python process and by the lab's Java server over a stretch of time."""

    def __init__(self, lab: Lab) -> None:
        self.java_pid = lab.server.java_pid if lab.server is not None else None
        self.began = time.perf_counter()
        self.python0 = time.process_time()
        self.java0 = cpu_seconds(self.java_pid)

    def read(self) -> dict[str, float]:
        wall = time.perf_counter() - self.began
        return {
            "wall_s": wall,
            "python_cpu_pct": 100 * (time.process_time() - self.python0) / wall,
            "java_cpu_pct": 100 * (cpu_seconds(self.java_pid) - self.java0) / wall,
        }


def machine() -> dict[str, Any]:
    """The machine a run used: CPU model, cores, RAM, OS, Python, Java, DynamoDB Local, load."""
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    ram_gb = float("nan")
    try:
        meminfo = Path("/proc/meminfo").read_text()
        if found := re.search(r"MemTotal:\s+(\d+) kB", meminfo):
            ram_gb = int(found.group(1)) / 1024 / 1024
    except OSError:
        pass
    system = f"{platform.system()} {platform.release()}"
    try:
        release = Path("/etc/os-release").read_text()
        if found := re.search(r'^PRETTY_NAME="?([^"\n]+)"?', release, re.M):
            system = f"{found.group(1)} ({system})"
    except OSError:
        pass
    try:
        from labkit.backend._install import find_dynamodb_local
        from labkit.backend._java import find_java

        java_rt = find_java()
        java = f"{java_rt.version} ({java_rt.source})"
        local = find_dynamodb_local().version
    except Exception as exc:  # the report says why, the benchmark itself fails later
        java, local = f"unknown ({exc})", "unknown"
    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "ram_gb": round(ram_gb, 1),
        "os": system,
        "python": platform.python_version(),
        "java": java,
        "dynamodb_local": local,
        "load_average": [round(x, 2) for x in os.getloadavg()],
    }


def busy_processes(limit: int = 5) -> list[str]:
    """The processes using the most CPU right now (the machine is shared: say who else ran)."""
    try:
        out = subprocess.run(
            ["ps", "-eo", "pcpu,comm", "--sort=-pcpu", "--no-headers"],
            capture_output=True,
            text=True,
            timeout=5,
            check=False,
        ).stdout
    except (OSError, subprocess.SubprocessError):
        return []
    return [" ".join(line.split()) for line in out.splitlines()[:limit]]


def markdown_table(header: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(str(cell) for cell in row) + " |" for row in rows]
    return "\n".join(lines)


def summary_row(measure: str, value: str, target: str = "", holds: bool | None = None) -> dict:
    """One row of bench/results/summary.md (``holds`` None: there is no target)."""
    return {"measure": measure, "value": value, "target": target, "holds": holds}


def write_results(name: str, text: str, data: dict[str, Any], summary: list[dict]) -> None:
    """Print ``text`` (Markdown) and write bench/results/<name>.md and <name>.json."""
    data = {"benchmark": name, "machine": machine(), **data, "summary": summary}
    OUT.mkdir(exist_ok=True)
    (OUT / f"{name}.json").write_text(json.dumps(data, indent=2, default=str) + "\n")
    (OUT / f"{name}.md").write_text(text.rstrip() + "\n")
    print(text.rstrip())


def ms(seconds: float) -> str:
    return f"{seconds * 1000:.1f}"

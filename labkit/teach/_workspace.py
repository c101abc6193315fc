"""The learner's workspace: a private, git-ignored copy of the learner notebooks.

``make lab`` (``python -m labkit lab``) opens JupyterLab on the workspace, never on the tracked
files of ``notebooks/learner/``: whatever a learner writes, runs or saves stays there.

What is copied (the *upstream*, from ``notebooks/learner/``): each lesson ``NN-topic.ipynb``,
the contents page ``README.md`` and the code folder's ``functions/README.md``. What is not:
quizzes and exercises, which labkit reads from the project (``lk.quiz("quizzes/...")`` falls back
to ``notebooks/quizzes/``, ``lk.check`` reads ``notebooks/exercises/``), so a corrected quiz or
exercise reaches the learner with nothing to merge. The lessons' own relative paths keep working
because the workspace has the learner folder's shape: a kernel's working directory is the
workspace, ``%%writefile functions/<module>.py`` writes into ``<workspace>/functions/``, and
``lab.function`` reads from there.

How a newer version of a lesson arrives (:func:`sync`, at every ``make lab``). The workspace
remembers, in ``.labkit/state.json``, the *fingerprint* of the version it last received of each
file. For a notebook the fingerprint covers its cells' types and sources only, so running a
lesson (outputs, execution counts, kernel metadata) does not count as changing it; editing,
adding or deleting a cell does. Then, for each upstream file:

* missing from the workspace: copied;
* upstream unchanged since it was received: left alone;
* upstream changed, workspace copy untouched: replaced by the new version;
* upstream changed, workspace copy changed by the learner: left alone, and the new version is
  written beside it as ``NN-topic.new.ipynb`` (``README.new.md``), with a message. The learner
  keeps theirs (deleting the ``.new`` file: it is not offered again), copies cells across, or
  resets the lesson.

:func:`reset` (``python -m labkit reset 05``, ``make reset LESSON=05``) puts the newest version of
one lesson in place, after moving the learner's copy to ``backups/NN-topic.<time>.ipynb``.

Nothing here ever overwrites a file whose content the learner changed, and nothing writes outside
the workspace. Files the learner makes (their functions, their own notebooks, JupyterLab's
``.ipynb_checkpoints/``) are never touched.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import functools
import hashlib
import json
import os
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from .._errors import LabError
from .._paths import workspace_dir
from ._notebooks import NOTEBOOKS, lessons

__all__ = ["LEARNER", "ResetReport", "SyncReport", "fingerprint", "reset", "sync", "upstream"]

LEARNER = NOTEBOOKS / "learner"
STATE = Path(".labkit") / "state.json"
BACKUPS = "backups"
# The files of the learner folder that are generated (notebooks/learner/functions/*.py are not:
# they are written when the learner copies run under nbval, and are git-ignored).
_EXTRA = ("README.md", "functions/README.md")


def upstream(source: Path = LEARNER) -> list[str]:
    """The files a workspace receives, relative to ``source``: lessons first, in order."""
    return [p.name for p in lessons(source)] + [
        name for name in _EXTRA if (source / name).is_file()
    ]


def fingerprint(path: Path) -> str:
    """What counts as the file's content: a notebook's cell types and sources, else its bytes."""
    data = path.read_bytes()
    if path.suffix == ".ipynb":
        try:
            cells = json.loads(data)["cells"]
            data = json.dumps(
                [[c["cell_type"], _text(c.get("source", ""))] for c in cells], ensure_ascii=False
            ).encode()
        except (ValueError, KeyError, TypeError):
            pass  # not a notebook JupyterLab could open: compare bytes
    return hashlib.sha256(data).hexdigest()


def _text(source: str | list[str]) -> str:
    return "".join(source) if isinstance(source, list) else source


def _beside(name: str) -> str:
    """``05-x.ipynb`` -> ``05-x.new.ipynb``; ``README.md`` -> ``README.new.md``."""
    path = Path(name)
    return str(path.with_name(f"{path.stem}.new{path.suffix}"))


@dataclass
class SyncReport:
    """What :func:`sync` did, for the terminal (``str()``) and for tests."""

    workspace: Path
    copied: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    offered: list[str] = field(default_factory=list)  # a .new version written beside
    pending: list[str] = field(default_factory=list)  # a .new version still waiting
    blocked: list[str] = field(default_factory=list)  # the .new file itself holds edits

    def lines(self) -> list[str]:
        where = self.workspace
        out = [
            f"your workspace is {where}: your notebooks and functions live there, and nothing "
            "you do in it changes the project's files."
        ]
        if self.copied:
            out.append(f"copied {_names(self.copied)} into it.")
        if self.updated:
            out.append(
                f"updated {', '.join(self.updated)} to the newest version (you had not changed "
                f"{'it' if len(self.updated) == 1 else 'them'})."
            )
        for name in self.offered + self.pending:
            out.append(
                f"{name} has a newer version, and you have changed your copy, so yours is left "
                f"as it is and the new version is beside it: {_beside(name)}. Keep yours (delete "
                f"{_beside(name)}), copy what you need from it, or start this lesson again with "
                f"`make reset LESSON={name[:2]}` (your copy is kept in {BACKUPS}/)."
                if name.endswith(".ipynb")
                else f"{name} has a newer version beside your edited copy: {_beside(name)}."
            )
        for name in self.blocked:
            out.append(
                f"{name} has a newer version, but {_beside(name)} holds your edits, so it was not "
                f"written. Rename {_beside(name)} to keep them, then run `make lab` again."
            )
        return out

    def __str__(self) -> str:
        return "\n".join(f"labkit: {line}" for line in self.lines())


def _names(names: list[str]) -> str:
    """A few names in full; many as a count (the first run copies every lesson)."""
    if len(names) <= 3:
        return ", ".join(names)
    others = [name for name in names if not name.endswith(".ipynb")]
    return f"{len(names) - len(others)} lessons" + "".join(f", {name}" for name in others)


@dataclass(frozen=True)
class ResetReport:
    lesson: str
    backup: Path | None  # the learner's copy, kept; None when there was none (or it was upstream's)

    def __str__(self) -> str:
        kept = f" Your copy is kept as {self.backup}." if self.backup else ""
        return f"labkit: {self.lesson} is the newest version again.{kept}"


class _State:
    """``.labkit/state.json``: per file, the fingerprint received and the one offered beside."""

    def __init__(self, workspace: Path) -> None:
        self.path = workspace / STATE
        try:
            self.files: dict[str, dict[str, str]] = json.loads(self.path.read_text())["files"]
        except (OSError, ValueError, KeyError, TypeError):
            self.files = {}  # unknown: every edited-looking copy is treated as the learner's

    def get(self, name: str, key: str) -> str | None:
        return self.files.get(name, {}).get(key)

    def set(self, name: str, **values: str | None) -> None:
        entry = self.files.setdefault(name, {})
        for key, value in values.items():
            if value is None:
                entry.pop(key, None)
            else:
                entry[key] = value

    def save(self) -> None:
        _write(
            self.path, (json.dumps({"version": 1, "files": self.files}, indent=1) + "\n").encode()
        )


@functools.cache
def _umask() -> int:
    mask = os.umask(0o022)  # the only way to read it; put back at once
    os.umask(mask)
    return mask


def _write(path: Path, data: bytes) -> None:
    """Write whole or not at all (an interrupted ``make lab`` never leaves half a notebook)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".part")
    try:
        os.chmod(tmp, 0o666 & ~_umask())  # as an ordinary new file (mkstemp makes it 0600)
        with os.fdopen(fd, "wb") as out:
            out.write(data)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def sync(workspace: Path | None = None, source: Path = LEARNER) -> SyncReport:
    """Bring the newest learner notebooks into the workspace without overwriting the learner's work.

    Introduced in README.md ("Two commands").
    """
    workspace = Path(workspace) if workspace is not None else workspace_dir()
    if not source.is_dir():
        raise LabError(
            f"There are no learner notebooks at {source}.",
            "run `python -m labkit notebooks` in the project folder to generate them.",
        )
    workspace.mkdir(parents=True, exist_ok=True)
    state = _State(workspace)
    report = SyncReport(workspace)
    for name in upstream(source):
        new, mine = source / name, workspace / name
        theirs = fingerprint(new)
        if not mine.exists():
            _write(mine, new.read_bytes())
            state.set(name, base=theirs, offered=None)
            report.copied.append(name)
            continue
        if theirs == state.get(name, "base"):
            continue  # nothing new upstream
        current = fingerprint(mine)
        if current == theirs:
            state.set(name, base=theirs, offered=None)  # same content already (reset by hand)
        elif state.get(name, "base") is not None and current == state.get(name, "base"):
            _write(mine, new.read_bytes())
            state.set(name, base=theirs, offered=None)
            report.updated.append(name)
        else:
            _offer(workspace, name, new, theirs, state, report)
    # the code folder the lessons' %%writefile cells write into must exist before the first one
    (workspace / "functions").mkdir(exist_ok=True)
    state.save()
    return report


def _offer(
    workspace: Path, name: str, new: Path, theirs: str, state: _State, report: SyncReport
) -> None:
    """The learner changed their copy: put the new version beside it, never over it."""
    beside = workspace / _beside(name)
    offered = state.get(name, "offered")
    if beside.exists():
        held = fingerprint(beside)
        if held == theirs:
            report.pending.append(name)
            return
        if held != offered:
            report.blocked.append(name)  # the learner works in the .new file: leave it
            return
    elif offered == theirs:
        return  # offered before and deleted by the learner: they keep their copy
    _write(beside, new.read_bytes())
    state.set(name, offered=theirs)
    report.offered.append(name)


def _lesson_named(spec: str, source: Path) -> str:
    """The lesson file a learner means by ``05``, ``5``, ``05-transform-and-enrich(.ipynb)``."""
    wanted = spec.strip().removesuffix(".ipynb")
    names = [n for n in upstream(source) if n.endswith(".ipynb")]
    for name in names:
        stem = name.removesuffix(".ipynb")
        if wanted == stem or (wanted.isdigit() and int(wanted) == int(stem[:2])):
            return name
    raise LabError(
        f"There is no lesson {spec!r} to reset." if spec.strip() else "Which lesson to reset?",
        f"name it by its number, one of {', '.join(n[:2] for n in names)}: "
        "`make reset LESSON=05` (or `python -m labkit reset 05`).",
    )


def reset(lesson: str, workspace: Path | None = None, source: Path = LEARNER) -> ResetReport:
    """Start one lesson again from its newest version; the learner's copy is moved to backups/.

    ``lesson`` is its number (``"05"``) or file name. Introduced in README.md ("Two commands").
    """
    workspace = Path(workspace) if workspace is not None else workspace_dir()
    name = _lesson_named(lesson, source)
    new, mine = source / name, workspace / name
    state = _State(workspace)
    backup = None
    if mine.exists() and mine.read_bytes() != new.read_bytes():
        stamp = dt.datetime.now().strftime("%Y%m%d-%H%M%S")
        backup = workspace / BACKUPS / f"{mine.stem}.{stamp}{mine.suffix}"
        for n in range(2, 100):  # two resets within a second keep both copies
            if not backup.exists():
                break
            backup = workspace / BACKUPS / f"{mine.stem}.{stamp}-{n}{mine.suffix}"
        backup.parent.mkdir(parents=True, exist_ok=True)
        os.replace(mine, backup)
    _write(mine, new.read_bytes())
    (workspace / _beside(name)).unlink(missing_ok=True)
    state.set(name, base=fingerprint(new), offered=None)
    state.save()
    return ResetReport(name, backup)

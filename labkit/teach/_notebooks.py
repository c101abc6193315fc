"""Generated parts of the workbook: navigation, the table of contents, and learner copies.

``python -m labkit notebooks`` (re)writes them from the lesson notebooks, the one source:

* each lesson ends with a navigation cell (previous, contents, next), marked in its metadata;
* ``notebooks/README.md``, the contents page (the page ``make lab`` opens on), lists the lessons
  with their titles, time estimates (:func:`minutes`) and first sentence;
* ``notebooks/learner/`` holds the learner copies: every cell tagged ``solution`` is replaced by
  its stub (``metadata.labkit.stub``, or a comment asking for an answer), outputs are cleared.
  ``make lab`` copies them into the learner's own workspace (``_workspace.py``) and opens that:
  these tracked files are never run or saved by a learner.

``python -m labkit notebooks --check`` changes nothing and exits 1 if anything is out of date.
"""

from __future__ import annotations

import copy
import json
import math
import re
from pathlib import Path
from typing import Any

import nbformat

__all__ = ["SOLUTION_TAG", "generate", "learner_copy", "lessons", "minutes"]

NOTEBOOKS = Path(__file__).resolve().parents[2] / "notebooks"
SOLUTION_TAG = "solution"
_LESSON = re.compile(r"^\d\d-[a-z0-9-]+\.ipynb$")
_STUB = "# Your answer here: replace this line, then run the check below.\n"


def lessons(folder: Path = NOTEBOOKS) -> list[Path]:
    """The lesson notebooks, in order (``NN-name.ipynb``)."""
    return sorted(p for p in folder.iterdir() if _LESSON.match(p.name))


def _title(nb: Any) -> tuple[str, str]:
    """The lesson's title (its first heading) and first sentence after it."""
    for cell in nb.cells:
        if cell.cell_type == "markdown" and cell.source.startswith("# "):
            head, _, rest = cell.source.partition("\n")
            first = rest.strip().split("\n\n")[0].replace("\n", " ")
            sentence = first.split(". ")[0].rstrip(".:") + "."
            return head[2:].strip(), sentence
    return "(untitled)", ""


def _nav_source(order: list[Path], index: int, titles: dict[Path, str]) -> str:
    parts = []
    if index > 0:
        prev = order[index - 1]
        parts.append(f"← Previous: [{titles[prev]}]({prev.name})")
    parts.append("[Contents](README.md)")
    if index + 1 < len(order):
        nxt = order[index + 1]
        parts.append(f"Next: [{titles[nxt]}]({nxt.name}) →")
    return "---\n" + " · ".join(parts)


def _with_navigation(nb: Any, source: str) -> Any:
    nb = copy.deepcopy(nb)
    cells = [c for c in nb.cells if not c.get("metadata", {}).get("labkit", {}).get("nav")]
    cell = nbformat.v4.new_markdown_cell(source)
    cell.metadata["labkit"] = {"nav": True}
    cell.id = "labkit-navigation"
    nb.cells = [*cells, cell]
    return nb


def learner_copy(nb: Any) -> Any:
    """The notebook without solutions or outputs: what a learner starts from."""
    nb = copy.deepcopy(nb)
    for cell in nb.cells:
        if cell.cell_type != "code":
            continue
        if SOLUTION_TAG in cell.metadata.get("tags", []):
            cell.source = cell.metadata.get("labkit", {}).get("stub", _STUB)
            cell.metadata["tags"] = [t for t in cell.metadata["tags"] if t != SOLUTION_TAG]
            cell.metadata["tags"].append("exercise")
        cell.outputs = []
        cell.execution_count = None
    return nb


# The time estimate's rates (see minutes()).
WORDS_PER_MINUTE = 150  # technical prose read with care: below the 200-250 of ordinary reading
MINUTES_PER_CODE_CELL = 0.5  # run it, read the code and what it shows
MINUTES_PER_EXERCISE = 5  # read the task, plus MINUTES_PER_CASE for each case its check runs
MINUTES_PER_CASE = 3
MINUTES_PER_QUESTION = 1
_FENCE = re.compile(r"```.*?```", re.DOTALL)  # a Mermaid diagram is looked at, not read
_CHECK = re.compile(r"""lk\.check\(\s*["']([^"']+)["']""")
_QUIZ = re.compile(r"""lk\.quiz\(\s*["']([^"']+)["']""")
_QUESTIONS_IF_UNKNOWN = 4


def minutes(nb: Any, folder: Path = NOTEBOOKS) -> int:
    """How long a lesson takes a learner, in minutes, for the contents page.

    ``metadata.labkit.minutes`` in the lesson, when its author set it. Otherwise computed from
    the lesson, so that it follows the lesson as it changes: its prose at 150 words a minute
    (Markdown cells, without the navigation cell and diagrams' source), half a minute per code
    cell (run it, read it and what it shows), each exercise 5 minutes plus 3 per case its check
    runs (``notebooks/exercises/<id>.json``), each quiz question a minute
    (``notebooks/quizzes/...``), rounded up to 5 minutes. For example lesson 12: about 1,560
    words (10.4), 26 code cells (13), an exercise of 5 cases (20), 4 questions (4): 47.4, so 50.
    """
    set_by_author = nb.metadata.get("labkit", {}).get("minutes")
    if set_by_author is not None:
        return int(set_by_author)
    total = 0.0
    for cell in nb.cells:
        if cell.cell_type == "markdown" and not cell.metadata.get("labkit", {}).get("nav"):
            total += len(_FENCE.sub("", cell.source).split()) / WORDS_PER_MINUTE
        elif cell.cell_type == "code":
            total += MINUTES_PER_CODE_CELL
            for exercise_id in _CHECK.findall(cell.source):
                cases = _count(folder / "exercises" / f"{exercise_id}.json", "cases", 3)
                total += MINUTES_PER_EXERCISE + MINUTES_PER_CASE * cases
            for quiz in _QUIZ.findall(cell.source):
                questions = _count(folder / quiz, "questions", _QUESTIONS_IF_UNKNOWN)
                total += MINUTES_PER_QUESTION * questions
    return max(5, math.ceil(total / 5) * 5)


def _count(path: Path, key: str, unknown: int) -> int:
    """How many entries the JSON file's list ``key`` holds (``unknown`` if it cannot say)."""
    try:
        entries = json.loads(path.read_text())[key]
    except (OSError, ValueError, KeyError, TypeError):
        return unknown
    return len(entries) if isinstance(entries, list) else unknown


def _duration(total: int) -> str:
    """``total`` minutes, to the half hour: "12 hours", "12.5 hours" (or minutes, under one)."""
    if total < 60:
        return f"{total} minutes"
    hours = int(total / 30 + 0.5) / 2  # half up (round() would take 2.5 to 2)
    return f"{hours:g} hour{'' if hours == 1 else 's'}"


def _contents(
    order: list[Path], titles: dict[Path, tuple[str, str]], times: dict[Path, int]
) -> str:
    lines = [
        # for maintainers only: an HTML comment is not shown by Markdown Preview
        "<!-- Generated by `python -m labkit notebooks` from the lessons; do not edit by hand. "
        "Time estimates: labkit/teach/_notebooks.py, minutes(). -->",
        "# DynamoDB Streams Lab: contents",
        "",
        f"{len(order)} lessons, about {_duration(sum(times.values()))} in all. Open a lesson "
        "and run it with **Run → Run All Cells**. Each lesson's time is an estimate: reading "
        "it, running its cells, its exercise and its quiz.",
        "",
    ]
    for path in order:
        title, sentence = titles[path]
        lines.append(f"- [{title}]({path.name}) · *about {times[path]} min*: {sentence}")
    return "\n".join(lines) + "\n"


FUNCTIONS_README = """# functions/

The code folder of the lessons' Lambda functions. A lesson writes each function's module here
(`%%writefile functions/<module>.py`) and runs it by its handler string, `"<module>.handler"`, as
Lambda does: the file here is the file you would deploy. Generated by `python -m labkit notebooks`.
"""


def _dump(nb: Any) -> str:
    return nbformat.writes(nb) + "\n"


def generate(folder: Path = NOTEBOOKS, *, check: bool = False) -> list[Path]:
    """Write (or with ``check``, only list) every generated file that is out of date."""
    order = lessons(folder)
    books = {p: nbformat.read(p, as_version=4) for p in order}
    titles = {p: _title(nb) for p, nb in books.items()}
    short = {p: t[0] for p, t in titles.items()}
    contents = _contents(order, titles, {p: minutes(nb, folder) for p, nb in books.items()})
    wanted: dict[Path, str] = {
        folder / "README.md": contents,
        folder / "learner" / "README.md": contents,
        # the code folder a lesson's %%writefile cells write functions into (lab.function's
        # default, ./functions): it must exist before the first %%writefile runs
        folder / "functions" / "README.md": FUNCTIONS_README,
        folder / "learner" / "functions" / "README.md": FUNCTIONS_README,
    }
    for i, path in enumerate(order):
        source = _with_navigation(books[path], _nav_source(order, i, short))
        wanted[path] = _dump(source)
        wanted[folder / "learner" / path.name] = _dump(learner_copy(source))
    stale = [p for p, text in wanted.items() if not p.exists() or p.read_text() != text]
    if not check:
        for path in stale:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(wanted[path])
    return stale

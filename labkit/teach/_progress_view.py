"""``lk.progress()``: what the learner has done, lesson by lesson, from their results.

Computed from the learner's results (:func:`labkit.teach._results.recorded`) against everything
there is to do (:func:`labkit.teach._results.catalogue`): per lesson, exercises passed, quiz
questions right, and right at the first try. Shown as a one-line summary with a table (the
lab's table style), then a picture (a PNG, with the same table as its text): two outputs, so that
nbval compares the text and never the pixels (see ``_picture``). An attempt at something no
longer in the workbook (a question renamed since) is not counted.

Introduced in notebooks/16-backfill-then-tail.ipynb.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from . import _results
from ._display import LabTable, cell_text, lab_table
from ._picture import COLOURS, Picture, new_figure

if TYPE_CHECKING:
    from matplotlib.figure import Figure

__all__ = ["LessonProgress", "Progress", "ProgressPicture", "progress"]

_COLUMNS = ["Lesson", "Exercises passed", "Quiz right", "Right at the first try"]
_FIRST_TRY = "#0072B2"  # COLOURS["series"]'s blue: right at the first try
_LATER = "#56B4E9"  # the lighter blue: right, after a wrong answer
_TODO = "#E8E8E8"  # what is left to do


@dataclass(frozen=True)
class LessonProgress:
    """One lesson: its exercises and quiz questions, and how many of each are done."""

    lesson: str
    name: str
    exercises: int
    passed: int
    questions: int
    right: int
    first_try: int

    @property
    def complete(self) -> bool:
        return self.passed == self.exercises and self.right == self.questions


def _lesson_names() -> dict[str, str]:
    """``"01"`` -> ``"01 · The stream processing flow"``: each lesson's own title (its first
    heading, as the contents page shows it), else its notebook's name."""
    from ._quiz import NOTEBOOKS

    names: dict[str, str] = {}
    for path in sorted(NOTEBOOKS.glob("[0-9][0-9]-*.ipynb")):
        names.setdefault(path.name[:2], _title(path))
    return names


def _title(path: Path) -> str:
    fallback = f"{path.name[:2]} {path.stem[3:].replace('-', ' ')}"
    try:
        cells = json.loads(path.read_text(encoding="utf-8"))["cells"]
    except (OSError, ValueError, KeyError):
        return fallback
    for cell in cells:
        source = "".join(cell.get("source", ""))
        if cell.get("cell_type") == "markdown" and source.startswith("# "):
            return source.partition("\n")[0][2:].strip() or fallback
    return fallback


def _of(done: int, total: int) -> str:
    return f"{done} of {total}" if total else "none in this lesson"


@dataclass(frozen=True)
class Progress:
    """What a learner has done, lesson by lesson: a summary, a table and a picture.

    Introduced in notebooks/16-backfill-then-tail.ipynb.
    """

    lessons: tuple[LessonProgress, ...]
    kept: bool  # True: a results file in the workspace; False: this session's memory only

    @classmethod
    def compute(
        cls,
        attempts: Iterable[_results.Attempt],
        items: Iterable[_results.Item],
        *,
        kept: bool = True,
    ) -> Progress:
        folded = {(s.kind, s.item): s for s in _results.status(attempts)}
        names = _lesson_names()
        by_lesson: dict[str, list[_results.Item]] = {}
        for item in items:
            by_lesson.setdefault(item.lesson, []).append(item)
        lessons = []
        for lesson, its in sorted(by_lesson.items()):
            checks = [folded.get(("check", i.item)) for i in its if i.kind == "check"]
            quiz = [folded.get(("quiz", i.item)) for i in its if i.kind == "quiz"]
            lessons.append(
                LessonProgress(
                    lesson=lesson,
                    name=names.get(lesson, lesson),
                    exercises=len(checks),
                    passed=sum(s is not None and s.passed for s in checks),
                    questions=len(quiz),
                    right=sum(s is not None and s.passed for s in quiz),
                    first_try=sum(s is not None and s.first_try for s in quiz),
                )
            )
        return cls(tuple(lessons), kept)

    # -- what it says -------------------------------------------------------------------------
    def totals(self) -> LessonProgress:
        def total(field: str) -> int:
            return sum(getattr(lesson, field) for lesson in self.lessons)

        fields = ("exercises", "passed", "questions", "right", "first_try")
        return LessonProgress("", "Total", *(total(f) for f in fields))

    def summary(self) -> str:
        """One line: exercises passed, quiz questions right (and at the first try), lessons
        complete; or, with nothing recorded, what to do."""
        t = self.totals()
        where = "" if self.kept else " (kept for this session only: no workspace, see `make lab`)"
        if t.passed == 0 and t.right == 0:
            return (
                "Nothing done yet: pass a lesson's lk.check(...) and answer its quiz with Check, "
                f"and it shows here{where}."
            )
        complete = sum(lesson.complete for lesson in self.lessons)
        return (
            f"{t.passed} of {t.exercises} exercises passed; {t.right} of {t.questions} quiz "
            f"questions right, {t.first_try} at the first try; {complete} of "
            f"{len(self.lessons)} lessons complete{where}."
        )

    def table(self) -> LabTable:
        """One row per lesson, then the total."""
        rows = [
            {
                "Lesson": lesson.name,
                "Exercises passed": _of(lesson.passed, lesson.exercises),
                "Quiz right": _of(lesson.right, lesson.questions),
                "Right at the first try": _of(lesson.first_try, lesson.questions),
            }
            for lesson in (*self.lessons, self.totals())
        ]
        return lab_table(rows, _COLUMNS)

    def picture(self) -> ProgressPicture:
        return ProgressPicture(self)

    # -- display ------------------------------------------------------------------------------
    def _ipython_display_(self) -> None:
        from IPython.display import display

        text = f"{self.summary()}\n{self.table()!r}"
        page = f"<p>{cell_text(self.summary())}</p>{self.table()._repr_html_()}"
        display({"text/html": page, "text/plain": text}, raw=True)
        display(self.picture())

    def __repr__(self) -> str:
        return f"{self.summary()}\n{self.table()!r}"


class ProgressPicture(Picture):
    """Each lesson as bars: exercises passed, quiz questions right (first try, later), of all.

    Introduced in notebooks/16-backfill-then-tail.ipynb.
    """

    title = "Your progress, lesson by lesson"

    def __init__(self, progress: Progress) -> None:
        self.progress = progress

    def table(self) -> LabTable:
        return self.progress.table()

    def figure(self) -> Figure:
        lessons = self.progress.lessons
        figure = new_figure(7.0, 0.8 + 0.42 * max(len(lessons), 1))
        ax = figure.add_subplot()
        height = 0.36
        for row, lesson in enumerate(lessons):
            y = -row
            # The quiz, above: right at the first try, right later, left to do.
            if lesson.questions:
                first = lesson.first_try / lesson.questions
                later = (lesson.right - lesson.first_try) / lesson.questions
                ax.barh(y + height / 2, 1, height, color=_TODO)
                ax.barh(y + height / 2, first, height, color=_FIRST_TRY)
                ax.barh(y + height / 2, later, height, left=first, color=_LATER)
                ax.text(
                    1.01,
                    y + height / 2,
                    f"quiz {lesson.right}/{lesson.questions}",
                    va="center",
                    fontsize=7,
                )
            # The exercises, below.
            if lesson.exercises:
                done = lesson.passed / lesson.exercises
                ax.barh(y - height / 2, 1, height, color=_TODO)
                ax.barh(y - height / 2, done, height, color=COLOURS["success"])
                ax.text(
                    1.01,
                    y - height / 2,
                    f"exercises {lesson.passed}/{lesson.exercises}",
                    va="center",
                    fontsize=7,
                )
        ax.set_yticks(
            [-row for row in range(len(lessons))], [lesson.name for lesson in lessons], fontsize=7
        )
        ax.set_xlim(0, 1.22)
        ax.set_xticks([0, 0.25, 0.5, 0.75, 1], ["0%", "25%", "50%", "75%", "100%"], fontsize=7)
        ax.set_ylim(-len(lessons) + 0.4, 0.6)
        for side in ("top", "right"):
            ax.spines[side].set_visible(False)
        from matplotlib.patches import Patch

        ax.legend(
            handles=[
                Patch(color=COLOURS["success"], label="exercises passed"),
                Patch(color=_FIRST_TRY, label="quiz: right at the first try"),
                Patch(color=_LATER, label="quiz: right later"),
                Patch(color=_TODO, label="not yet"),
            ],
            loc="upper center",
            bbox_to_anchor=(0.5, -0.06 if len(lessons) > 3 else -0.15),
            ncols=4,
            fontsize=7,
            frameon=False,
        )
        ax.set_title(self.title, fontsize=9, loc="left")
        return figure


def progress() -> Progress:
    """What you have done, lesson by lesson: exercises passed (``lk.check``), quiz questions right
    (the Check button) and right at the first try, from your results file in the workspace.

    Introduced in notebooks/16-backfill-then-tail.ipynb.
    """
    return Progress.compute(
        _results.recorded(), _results.catalogue(), kept=_results.results_path() is not None
    )

"""A lesson goes on when the learner's answer does not pass yet: on the reference, saying so.

Some lessons use the learner's answer after its check: lesson 12 runs the learner's order
pipeline through the whole execution sample, lesson 11 deploys the learner's filter. With an
unfinished answer (the learner copy's stub, or a wrong one), "Run All" would run it through the
rest of the lesson, and the prose would describe a run the tables do not show. So the lesson
asks the check for the answer to go on with, ``result.yours_or_reference()``:

* the check passed: the learner's own answer;
* it did not: the reference solution, with a notice in the cell's output saying that the rest of
  the lesson runs on it, and to Restart & Run All once the check passes. When the check later
  passes in the same kernel, its result says the same (:func:`note_for`).

The reference solution is the lesson's own solution cell, the one source: the code cell tagged
``solution`` above the lesson's ``lk.check("<id>", ...)`` in ``notebooks/NN-*.ipynb`` (the
learner copy has the stub in its place; ``tests/exercise_answers/`` holds the same code for the
tests). A handler written as a module (``%%writefile functions/order_pipeline.py``) is written
beside the learner's as ``<module>_reference.py`` in the same code folder, and its handler string
(``"order_pipeline_reference.handler"``) is returned, so what the lesson shows (the function's
``Handler``, its file) is what really ran; the learner's file is never touched. Any other answer
(a ``filter_criteria`` dict, a ``transform`` function) is the value the solution cell defines,
run with the imports of the cells above it.
"""

from __future__ import annotations

import ast
import functools
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import nbformat

from .._errors import QuizError
from ._notebooks import NOTEBOOKS, SOLUTION_TAG, lessons

__all__ = ["Reference", "answer_to_run", "note_for", "reference"]

_STATE: dict[str, str] = {}  # exercise id -> "reference": this kernel went on with it
_RESTART = (
    "run Kernel → Restart Kernel and Run All Cells, so that the whole lesson runs on yours from "
    "the start"
)


@dataclass(frozen=True)
class Reference:
    """An exercise's reference solution, as the lesson's solution cell has it."""

    exercise_id: str
    lesson: str  # the lesson's file name
    name: str  # what the lesson passes to lk.check: a variable, or "module.function"
    source: str  # the solution cell (a %%writefile cell's body, without its first line)
    module: str | None  # the module a %%writefile cell writes, else None
    imports: str  # the import statements of the code cells above it


def _check_call(source: str, exercise_id: str) -> str | None:
    """The answer's name in ``lk.check("<exercise_id>", name)`` in a cell, if there is one."""
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return None
    for node in ast.walk(tree):
        if (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and node.func.attr == "check"
            and len(node.args) >= 2
            and isinstance(node.args[0], ast.Constant)
            and node.args[0].value == exercise_id
        ):
            answer = node.args[1]
            if isinstance(answer, ast.Name):
                return answer.id
            if isinstance(answer, ast.Constant) and isinstance(answer.value, str):
                return answer.value
    return None


def _imports(cells: list[Any]) -> str:
    lines = []
    for cell in cells:
        if cell.source.lstrip().startswith("%"):
            continue  # a cell magic is not Python
        try:
            body = ast.parse(cell.source).body
        except SyntaxError:
            continue
        lines += [ast.unparse(n) for n in body if isinstance(n, ast.Import | ast.ImportFrom)]
    return "\n".join(lines)


@functools.cache
def reference(exercise_id: str, folder: Path = NOTEBOOKS) -> Reference:
    """The reference solution of ``exercise_id``, from the lesson that checks it."""
    for path in lessons(folder):
        code = [c for c in nbformat.read(path, as_version=4).cells if c.cell_type == "code"]
        for i, cell in enumerate(code):
            name = _check_call(cell.source, exercise_id)
            if name is None:
                continue
            for j in range(i - 1, -1, -1):
                if SOLUTION_TAG in code[j].metadata.get("tags", []):
                    source, module = code[j].source, None
                    first, _, body = source.partition("\n")
                    if first.startswith("%%writefile"):
                        source, module = body, Path(first.split()[-1]).stem
                    return Reference(
                        exercise_id, path.name, name, source, module, _imports(code[:j])
                    )
    raise QuizError(
        f"No lesson in {folder} has a reference solution for exercise {exercise_id!r}.",
        "tag the lesson's solution cell 'solution', above its lk.check cell "
        "(notebooks/exercises/README.md).",
    )


def answer_to_run(result: Any) -> Any:
    """The answer a lesson goes on with after ``result`` (a ``CheckResult``): the learner's if
    it passed, else the reference solution, with a notice in the cell's output."""
    exercise_id = result.exercise.id
    if result.passed:
        if _STATE.get(exercise_id) == "reference":  # not restarted since
            _notice(
                f"This cell now uses your answer, but the lesson's tables still hold what the "
                f"reference solution did before: for a clean run, {_RESTART}.",
                good=True,
            )
        return result.submitted
    ref = reference(exercise_id)
    if ref.module is not None:
        code = Path(result.code) if result.code is not None else Path.cwd() / "functions"
        code.mkdir(parents=True, exist_ok=True)
        module = f"{ref.module}_reference"
        (code / f"{module}.py").write_text(ref.source)
        value: Any = f"{module}.{ref.name.rsplit('.', 1)[-1]}"
        what, where = "function", f" ({_shown(code / f'{module}.py')}, beside yours)"
    else:
        namespace: dict[str, Any] = {"__name__": f"labkit_reference_{exercise_id}"}
        exec(compile(ref.imports, f"{ref.lesson}:imports", "exec"), namespace)
        exec(compile(ref.source, f"{ref.lesson}:solution", "exec"), namespace)
        value = namespace[ref.name]
        what, where = f"`{ref.name}`", ""
    _STATE[exercise_id] = "reference"
    _notice(
        f"Your answer does not pass the check yet, so from here on this lesson runs on the "
        f"reference solution's {what}{where}: the tables and the text below show what a "
        f"finished answer does, not yours. Once your check passes, {_RESTART}.",
        good=False,
    )
    return value


def note_for(exercise_id: str, passed: bool) -> str:
    """What a check's result adds when the lesson already went on with the reference."""
    if passed and _STATE.get(exercise_id) == "reference":
        return (
            f"Your answer passes. The rest of this lesson ran on the reference solution: "
            f"{_RESTART}."
        )
    return ""


def _shown(path: Path) -> str:
    try:
        return str(path.relative_to(Path.cwd()))
    except ValueError:
        return str(path)


class _Notice:
    """A notice that renders as a coloured box in JupyterLab and as one line in a terminal."""

    def __init__(self, text: str, good: bool) -> None:
        self.text, self.good = text, good

    def _repr_html_(self) -> str:
        from html import escape

        colour = "#1e8e3e" if self.good else "#b06000"
        background = "#e6f4ea" if self.good else "#fef7e0"
        return (
            f'<div class="labkit-reference-notice" style="border-left:4px solid {colour};'
            f'background:{background};padding:6px 10px;margin:4px 0">'
            f"<b>{'Your answer' if self.good else 'Reference solution'}:</b> "
            f"{escape(self.text)}</div>"
        )

    def __repr__(self) -> str:
        return f"labkit: {self.text}"


def _notice(text: str, *, good: bool) -> None:
    notice = _Notice(text, good)
    shell = sys.modules.get("IPython")
    if shell is not None and shell.get_ipython() is not None:  # type: ignore[attr-defined]
        from IPython.display import display

        display(notice)
    else:
        print(repr(notice), flush=True)

"""Every learner stub fails its exercise's check.

``make test-notebooks`` runs the learner copies (notebooks/learner/) under ``--nbval-lax``, which
proves only that no cell raises: a stub that leaked the solution, or one that happens to satisfy
every case, would pass there. Here each exercise's stub is taken from its learner copy, run, and
graded with ``lk.check`` on DynamoDB Local; the check must fail, or the learner has nothing to do.

How a stub is found (as ``python -m labkit notebooks`` writes the copies): the lesson's cell tagged
``solution`` keeps its cell id in the learner copy, its source becomes ``metadata.labkit.stub`` and
its tag becomes ``exercise``. The answer's name is the one the learner copy passes to
``lk.check("<exercise id>", <name>)``; a handler written the AWS way is passed by its handler
string, ``lk.check("<exercise id>", "module.handler")``, and its stub is the cell that writes the
module, ``%%writefile functions/module.py``.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import nbformat
import pytest

import labkit as lk

NOTEBOOKS = Path(__file__).resolve().parents[1] / "notebooks"
LEARNER = NOTEBOOKS / "learner"
EXERCISE_IDS = sorted(p.stem for p in (NOTEBOOKS / "exercises").glob("*.json"))


@dataclass(frozen=True)
class Stub:
    notebook: Path
    cell_id: str
    source: str
    name: str  # what the check cell passes to lk.check
    imports: str  # the import statements of the cells above the stub


def _check_calls(source: str) -> list[tuple[str, str]]:
    """(exercise id, answer name) for each ``lk.check("id", name)`` in a cell."""
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return []
    calls = []
    for node in ast.walk(tree):
        if (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and node.func.attr == "check"
            and isinstance(node.func.value, ast.Name)
            and node.func.value.id == "lk"
            and len(node.args) >= 2
            and isinstance(node.args[0], ast.Constant)
            and isinstance(node.args[0].value, str)
        ):
            answer = node.args[1]
            if isinstance(answer, ast.Name):
                calls.append((node.args[0].value, answer.id))
            elif isinstance(answer, ast.Constant) and isinstance(answer.value, str):
                calls.append((node.args[0].value, answer.value))
    return calls


def _written_module(source: str) -> tuple[str, str] | None:
    """(module name, its source) when a cell is ``%%writefile <folder>/<module>.py``."""
    first, _, body = source.partition("\n")
    parts = first.split()
    if len(parts) == 2 and parts[0] == "%%writefile" and parts[1].endswith(".py"):
        return Path(parts[1]).stem, body
    return None


def _defines(source: str, name: str) -> bool:
    """Whether a cell binds ``name`` at its top level (def, class or assignment), or, for a
    handler string ``module.function``, writes that module."""
    written = _written_module(source)
    if written is not None:
        return "." in name and name.rsplit(".", 1)[0] == written[0]
    if "." in name:
        return False
    for node in ast.parse(source).body:
        defs = ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef
        if isinstance(node, defs) and node.name == name:
            return True
        targets = []
        if isinstance(node, ast.Assign):
            targets = node.targets
        elif isinstance(node, ast.AnnAssign | ast.AugAssign):
            targets = [node.target]
        if any(isinstance(t, ast.Name) and t.id == name for t in targets):
            return True
    return False


def _imports(cells: list[Any]) -> str:
    """The top-level imports of these code cells (what a stub may use, e.g. ``json``)."""
    lines = []
    for cell in cells:
        if cell.source.startswith("%"):  # a cell magic (%%writefile ...) is not Python
            continue
        for node in ast.parse(cell.source).body:
            if isinstance(node, ast.Import | ast.ImportFrom):
                lines.append(ast.unparse(node))
    return "\n".join(lines)


def _find_stubs() -> dict[str, list[Stub]]:
    """exercise id -> the stubs graded with it, across every learner copy."""
    found: dict[str, list[Stub]] = {}
    for path in sorted(LEARNER.glob("*.ipynb")):
        code = [c for c in nbformat.read(path, as_version=4).cells if c.cell_type == "code"]
        for i, cell in enumerate(code):
            for exercise_id, name in _check_calls(cell.source):
                stub = next(
                    (
                        c
                        for c in reversed(code[:i])
                        if "exercise" in c.metadata.get("tags", []) and _defines(c.source, name)
                    ),
                    None,
                )
                assert stub is not None, (
                    f"{path.name}: lk.check({exercise_id!r}, {name}) has no cell tagged "
                    f"'exercise' above it that defines {name}: the solution cell of the lesson "
                    f"needs the tag 'solution' and a metadata.labkit.stub defining {name}"
                )
                where = code.index(stub)
                found.setdefault(exercise_id, []).append(
                    Stub(path, stub.id, stub.source, name, _imports(code[:where]))
                )
    return found


STUBS = _find_stubs()


def _solution_cell(stub: Stub) -> Any:
    lesson = nbformat.read(NOTEBOOKS / stub.notebook.name, as_version=4)
    return next((c for c in lesson.cells if c.get("id") == stub.cell_id), None)


def test_every_exercise_has_a_learner_stub():
    assert EXERCISE_IDS, "no exercise files"
    missing = [e for e in EXERCISE_IDS if e not in STUBS]
    assert not missing, f"exercises with no lk.check on a learner stub: {missing}"
    unknown = sorted(set(STUBS) - set(EXERCISE_IDS))
    assert not unknown, f"learner copies check exercises with no file: {unknown}"


@pytest.mark.parametrize("exercise_id", EXERCISE_IDS)
def test_the_stub_replaces_the_lesson_solution(exercise_id):
    for stub in STUBS.get(exercise_id, []):
        solution = _solution_cell(stub)
        assert solution is not None, f"{stub.notebook.name}: no lesson cell {stub.cell_id}"
        assert "solution" in solution.metadata.get("tags", []), stub.cell_id
        assert solution.metadata["labkit"]["stub"] == stub.source, (
            f"{stub.notebook.name}: the learner copy is stale; run `python -m labkit notebooks`"
        )
        assert solution.source.strip() != stub.source.strip(), "the stub is the solution"


@pytest.mark.parametrize("exercise_id", EXERCISE_IDS)
def test_the_learner_stub_fails_its_check(lab, exercise_id, tmp_path):
    stubs = STUBS.get(exercise_id)
    assert stubs, f"no learner stub for {exercise_id}"
    for stub in stubs:
        written = _written_module(stub.source)
        if written is not None:  # the stub writes the function's module, as on AWS
            (tmp_path / f"{written[0]}.py").write_text(written[1])
            result = lk.check(exercise_id, stub.name, lab=lab, code=tmp_path)
            assert result.results, f"{exercise_id}: the check ran no case"
            assert not result.passed, (
                f"{stub.notebook.name}: the unfinished function passes {exercise_id}, so the "
                f"learner has nothing to do:\n{result!r}"
            )
            continue
        namespace: dict[str, Any] = {"__name__": f"learner_stub_{exercise_id}"}
        exec(compile(stub.imports, f"{stub.notebook.name}:imports", "exec"), namespace)
        exec(compile(stub.source, f"{stub.notebook.name}:{stub.cell_id}", "exec"), namespace)
        assert stub.name in namespace, f"{stub.notebook.name}: the stub defines no {stub.name}"
        result = lk.check(exercise_id, namespace[stub.name], lab=lab)
        assert result.results, f"{exercise_id}: the check ran no case"
        assert not result.passed, (
            f"{stub.notebook.name}: the unfinished answer passes {exercise_id}, so the learner "
            f"has nothing to do:\n{result!r}"
        )

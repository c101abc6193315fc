"""Every exercise: its file is valid, the reference solution passes on DynamoDB Local, and a
typical wrong answer fails with the hint for its mistake."""

from __future__ import annotations

import importlib.util
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

import labkit
from labkit.teach._check import EXERCISES, Exercise, load_exercise

ANSWER_DIR = Path(__file__).resolve().parent / "exercise_answers"


ALSO_PASSES: list[tuple[str, int, Any]] = []  # (exercise id, index, another answer that passes)


def _load_answers() -> dict[str, tuple[Any, Any, str]]:
    """exercise id -> (reference answer, typical wrong answer, the case the wrong one fails),
    from the modules in tests/exercise_answers/ (one per exercise). A module's optional
    ``ALSO_PASSES`` (other answers the check must accept) goes to ``ALSO_PASSES``."""
    answers: dict[str, tuple[Any, Any, str]] = {}
    for path in sorted(ANSWER_DIR.glob("ex*.py")):
        spec = importlib.util.spec_from_file_location(f"exercise_answers.{path.stem}", path)
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        assert module.EXERCISE not in answers, f"two answer modules for {module.EXERCISE}"
        answers[module.EXERCISE] = (module.REFERENCE, module.WRONG, module.FAILING_CASE)
        for index, other in enumerate(getattr(module, "ALSO_PASSES", ())):
            ALSO_PASSES.append((module.EXERCISE, index, other))
    return answers


ANSWERS = _load_answers()


def _deployable(answer: Any, folder: Path, name: str) -> tuple[Any, Path | None]:
    """An answer given as a module's source (a handler exercise, written the AWS way) is written
    to ``folder/<name>.py`` and passed as its handler string, as a lesson's %%writefile does."""
    if isinstance(answer, str) and "def handler(" in answer:
        folder.mkdir(parents=True, exist_ok=True)
        (folder / f"{name}.py").write_text(answer)
        return f"{name}.handler", folder
    return answer, None


def test_every_exercise_file_is_valid_and_has_answers_here():
    files = sorted(EXERCISES.glob("*.json"))
    assert files, "no exercise files"
    for path in files:
        exercise = load_exercise(path.stem)
        assert exercise.id == path.stem
        assert exercise.id in ANSWERS, f"add a reference and a wrong answer for {exercise.id}"


@pytest.mark.parametrize("exercise_id", sorted(ANSWERS))
def test_the_reference_solution_passes(lab, exercise_id, tmp_path):
    answer, code = _deployable(ANSWERS[exercise_id][0], tmp_path / "functions", "reference")
    result = labkit.check(exercise_id, answer, lab=lab, code=code)
    assert result.passed, repr(result)


@pytest.mark.parametrize(
    ("exercise_id", "answer"),
    [(exercise_id, answer) for exercise_id, _, answer in ALSO_PASSES],
    ids=[f"{exercise_id}-{index}" for exercise_id, index, _ in ALSO_PASSES],
)
def test_another_accepted_form_passes(lab, exercise_id, answer, tmp_path):
    """A check grades what comes out, so an answer written another way passes too: for a filter
    exercise, the top-level eventName form that AWS's examples use, beside the reference's form
    inside the dynamodb key (the Lambda guide, "Using event filtering with a DynamoDB event
    source": "DynamoDB event source mappings only support filtering on the dynamodb key")."""
    answer, code = _deployable(answer, tmp_path / "functions", "other")
    result = labkit.check(exercise_id, answer, lab=lab, code=code)
    assert result.passed, repr(result)


@pytest.mark.parametrize("exercise_id", sorted(ANSWERS))
def test_a_typical_wrong_answer_fails_with_its_hint(lab, exercise_id, tmp_path):
    _, wrong, failing_case = ANSWERS[exercise_id]
    answer, code = _deployable(wrong, tmp_path / "functions", "wrong")
    result = labkit.check(exercise_id, answer, lab=lab, code=code)
    assert not result.passed
    failed = {r.name: r for r in result.results if not r.passed}
    assert failing_case in failed
    table = result.table()
    row = table[table["Case"] == failing_case].iloc[0]
    assert row["Result"] == "FAIL" and row["Hint"] == failed[failing_case].hint != ""


def test_a_malformed_exercise_is_a_clear_error():
    with pytest.raises(labkit.QuizError) as caught:
        Exercise.from_dict({"id": "x", "title": "t", "kind": "guess", "cases": []}, "x.json")
    assert "kind 'guess'" in str(caught.value) and "Fix:" in str(caught.value)


def test_check_refuses_an_unknown_exercise():
    with pytest.raises(labkit.QuizError) as caught:
        labkit.check("99-no-such-exercise", lambda r: None)
    assert "01-keep-real-orders" in str(caught.value)


def test_a_transform_exercise_needs_a_function(lab):
    answer: Callable[..., Any] | dict = {"Filters": []}
    with pytest.raises(labkit.QuizError):
        labkit.check("01-keep-real-orders", answer, lab=lab)

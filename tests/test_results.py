"""The learner's results file (labkit/teach/_results.py): appended, read back, folded per item."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from labkit.teach import _results


@pytest.fixture
def workspace(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    (tmp_path / ".labkit").mkdir()
    (tmp_path / ".labkit" / "state.json").write_text("{}")
    lesson = tmp_path / "sub"
    lesson.mkdir()
    monkeypatch.chdir(lesson)
    monkeypatch.delenv("LABKIT_RESULTS", raising=False)
    monkeypatch.setenv("LABKIT_LEARNER", "alice")
    return tmp_path


def test_a_kernel_inside_a_workspace_appends_to_its_file(workspace: Path) -> None:
    _results.record("check", "01", "01-keep-real-orders", False)
    _results.record("check", "01", "01-keep-real-orders", True)
    _results.record("quiz", "01", "01-stream-processing-flow#q", True, choice="Step 2")
    lines = (workspace / ".labkit" / "results.jsonl").read_text().splitlines()
    assert [json.loads(line)["passed"] for line in lines] == [False, True, True]
    assert json.loads(lines[2])["choice"] == "Step 2"
    assert {json.loads(line)["learner"] for line in lines} == {"alice"}


def test_status_folds_attempts_and_keeps_first_try(workspace: Path) -> None:
    _results.record("check", "01", "ex", False)
    _results.record("check", "01", "ex", True)
    _results.record("quiz", "01", "q#a", True)
    by_item = {s.item: s for s in _results.status(_results.recorded())}
    assert (by_item["ex"].attempts, by_item["ex"].passed, by_item["ex"].first_try) == (
        2,
        True,
        False,
    )
    assert (by_item["q#a"].attempts, by_item["q#a"].first_try) == (1, True)


def test_a_torn_line_is_skipped_and_nothing_else_lost(workspace: Path) -> None:
    _results.record("check", "01", "ex", True)
    path = workspace / ".labkit" / "results.jsonl"
    with open(path, "a") as out:
        out.write('{"at": "2026-12-06T1')  # a kernel killed mid-write
    _results.record("check", "02", "ex2", True)
    assert [a.item for a in _results.read(path)] == ["ex", "ex2"]


def test_outside_a_workspace_results_stay_in_memory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("LABKIT_RESULTS", raising=False)
    before = len(_results.recorded())
    _results.record("check", "01", "ex", True)
    assert len(_results.recorded()) == before + 1
    assert not list(tmp_path.rglob("*.jsonl"))


def test_labkit_results_names_the_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    target = tmp_path / "r" / "mine.jsonl"
    monkeypatch.setenv("LABKIT_RESULTS", str(target))
    monkeypatch.setenv("JUPYTERHUB_USER", "bob")
    monkeypatch.delenv("LABKIT_LEARNER", raising=False)
    _results.record("quiz", "03", "x#y", False)
    assert _results.read(target)[0].learner == "bob"


def test_catalogue_lists_every_exercise_and_question() -> None:
    items = _results.catalogue()
    exercises = {i.item for i in items if i.kind == "check"}
    notebooks = Path(_results.__file__).resolve().parents[2] / "notebooks"
    assert exercises == {p.stem for p in (notebooks / "exercises").glob("[0-9][0-9]-*.json")}
    questions = sum(
        len(json.loads(p.read_text())["questions"])
        for p in (notebooks / "quizzes").glob("[0-9][0-9]-*.json")
    )
    assert sum(i.kind == "quiz" for i in items) == questions

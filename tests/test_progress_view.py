"""``lk.progress()``: per lesson, exercises passed, quiz questions right and right at the first try,
computed from a real results file against the workbook's catalogue; a table and a picture."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from IPython.core.interactiveshell import InteractiveShell

import labkit
from labkit.teach import _results
from labkit.teach._progress_view import Progress, progress
from labkit.teach._quiz import Quiz

NOTEBOOKS = Path(__file__).resolve().parents[1] / "notebooks"


@pytest.fixture
def workspace(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    (tmp_path / ".labkit").mkdir()
    (tmp_path / ".labkit" / "state.json").write_text("{}")
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("LABKIT_RESULTS", raising=False)
    monkeypatch.setenv("LABKIT_LEARNER", "alice")
    return tmp_path


def lines(path: Path, *attempts: tuple[str, str, str, bool, str]) -> None:
    """Write a results file as the lab writes it: one JSON line per attempt, in time order."""
    with path.open("w") as out:
        for n, (kind, lesson, item, passed, choice) in enumerate(attempts):
            line = {"at": f"2026-12-06T10:00:{n:02d}.000Z", "learner": "alice", "kind": kind}
            line |= {"lesson": lesson, "item": item, "passed": passed}
            out.write(json.dumps(line | ({"choice": choice} if choice else {})) + "\n")


def row(view: Progress, lesson: str) -> dict[str, str]:
    table = view.table()
    found = table[table["Lesson"].str.startswith(f"{lesson} ")]
    assert len(found) == 1, table
    return found.iloc[0].to_dict()


def test_progress_counts_a_real_results_file(workspace: Path) -> None:
    quiz01 = Quiz.from_file(NOTEBOOKS / "quizzes" / "01-stream-processing-flow.json")
    q1, q2, q3 = (quiz01.item(q) for q in quiz01.questions[:3])
    lines(
        workspace / ".labkit" / "results.jsonl",
        ("check", "01", "01-keep-real-orders", False, ""),
        ("check", "01", "01-keep-real-orders", True, ""),
        ("quiz", "01", q1, True, "a"),
        ("quiz", "01", q2, False, "b"),
        ("quiz", "01", q2, True, "c"),
        ("quiz", "01", q3, False, "d"),
        ("quiz", "01", "01-stream-processing-flow#a-question-since-renamed", True, "e"),
    )
    view = progress()
    exercises_01 = sum(i.lesson == "01" and i.kind == "check" for i in _results.catalogue())
    assert row(view, "01") == {
        "Lesson": "01 · The stream processing flow",
        "Exercises passed": f"1 of {exercises_01}",
        "Quiz right": f"2 of {len(quiz01.questions)}",
        "Right at the first try": f"1 of {len(quiz01.questions)}",
    }
    assert row(view, "02")["Quiz right"].startswith("0 of ")
    total = view.table().iloc[-1].to_dict()
    assert total["Lesson"] == "Total"
    assert (
        total["Exercises passed"] == f"1 of {sum(i.kind == 'check' for i in _results.catalogue())}"
    )
    assert view.summary().startswith("1 of ")
    assert "quiz questions right, 1 at the first try" in view.summary()
    assert "session only" not in view.summary()  # a workspace: the results are kept


def test_progress_with_no_results_at_all(workspace: Path) -> None:
    view = labkit.progress()
    assert view.summary().startswith("Nothing done yet")
    assert all(v.startswith("0 of ") for v in view.table()["Quiz right"])
    assert view.picture().png().startswith(b"\x89PNG")


def test_outside_a_workspace_it_says_the_results_are_not_kept(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("LABKIT_RESULTS", raising=False)
    monkeypatch.setattr(_results, "_MEMORY", [])
    assert "session only" in progress().summary()


def test_a_lesson_is_complete_when_everything_in_it_is_passed(workspace: Path) -> None:
    items = [i for i in _results.catalogue() if i.lesson == "01"]
    lines(
        workspace / ".labkit" / "results.jsonl",
        *((i.kind, "01", i.item, True, "x" if i.kind == "quiz" else "") for i in items),
    )
    view = progress()
    assert [lesson.complete for lesson in view.lessons][:2] == [True, False]
    assert "1 of " in view.summary().split(";")[-1]


def test_it_shows_a_summary_and_table_then_a_picture(workspace: Path) -> None:
    """In a notebook: two outputs, HTML (summary and table) and the picture (PNG with its table
    as text); nbval compares the texts, never the pixels."""
    shell = InteractiveShell.instance()
    shown: list[dict[str, object]] = []
    publish = shell.display_pub.publish
    shell.display_pub.publish = lambda data, **kw: shown.append(data)  # type: ignore[method-assign]
    try:
        progress()._ipython_display_()
    finally:
        shell.display_pub.publish = publish  # type: ignore[method-assign]
    assert [sorted(d) for d in shown] == [["text/html", "text/plain"], ["image/png", "text/plain"]]
    assert "<table" in str(shown[0]["text/html"]) and "Nothing done yet" in str(
        shown[0]["text/html"]
    )
    assert str(shown[1]["text/plain"]).startswith("Your progress, lesson by lesson\n")


def test_lk_check_records_every_check(
    lab: labkit.Lab, workspace: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A real check on DynamoDB Local: a wrong answer, then the right one, both recorded."""
    from exercise_answers import ex01_keep_real_orders as answers  # type: ignore[import-not-found]

    labkit.check(answers.EXERCISE, answers.WRONG, lab=lab)
    labkit.check(answers.EXERCISE, answers.REFERENCE, lab=lab)
    attempts = _results.read(workspace / ".labkit" / "results.jsonl")
    assert [(a.kind, a.lesson, a.item, a.passed) for a in attempts] == [
        ("check", "01", answers.EXERCISE, False),
        ("check", "01", answers.EXERCISE, True),
    ]
    assert row(progress(), "01")["Exercises passed"].startswith("1 of ")

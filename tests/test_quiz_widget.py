"""The quiz widget for a learner: options in the learner's own order, every checked answer kept in
the results file, the last answers and a running score shown again when the quiz is rebuilt."""

from __future__ import annotations

import collections
import html
import json
import random
import re
from pathlib import Path

import ipywidgets as w
import pytest

from labkit.teach import _results
from labkit.teach._quiz import FIXED_SEED, KEPT, Quiz, option_order, quiz

NOTEBOOKS = Path(__file__).resolve().parents[1] / "notebooks"
ALL = [Quiz.from_file(p) for p in sorted((NOTEBOOKS / "quizzes").glob("[0-9][0-9]-*.json"))]


@pytest.fixture
def workspace(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A learner's workspace (as `make lab` makes one) with the kernel in its folder."""
    (tmp_path / ".labkit").mkdir()
    (tmp_path / ".labkit" / "state.json").write_text("{}")
    monkeypatch.chdir(tmp_path)
    for name in ("LABKIT_RESULTS", "LABKIT_QUIZ_SEED", "JUPYTERHUB_USER"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("LABKIT_LEARNER", "alice")
    return tmp_path


@pytest.fixture
def no_workspace(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Source notebooks, nbval, tests: no results file, an empty memory."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("LABKIT_RESULTS", raising=False)
    monkeypatch.delenv("LABKIT_QUIZ_SEED", raising=False)
    monkeypatch.setattr(_results, "_MEMORY", [])


def questions(widget: w.VBox) -> list[tuple[w.RadioButtons, w.Button, w.HTML]]:
    """Each question box's radio buttons, Check button and feedback."""
    found = []
    for box in widget.children[2:]:
        _, radio, buttons, _, feedback = box.children
        found.append((radio, buttons.children[1], feedback))
    return found


def score(widget: w.VBox) -> str:
    """The score's text, and that the line says the answers are kept."""
    line = widget.children[1].value
    assert KEPT in line
    found = re.search(r'<span class="labkit-quiz-score">([^<]*)</span>', line)
    assert found, line
    return html.unescape(found.group(1))


def orders() -> list[list[int]]:
    return [option_order(q, question) for q in ALL for question in q.questions]


# --- shuffling -----------------------------------------------------------------------------------


def test_without_a_results_file_the_order_is_fixed_and_not_the_files(no_workspace: None) -> None:
    first, second = orders(), orders()
    assert first == second
    assert any(order != sorted(order) for order in first)  # shuffled: not the file's order
    # The fixed order is the same on every machine: random.Random of a string is platform-free.
    sample = ALL[0]
    expected = list(range(len(sample.questions[0].options)))
    random.Random(f"{FIXED_SEED}|{sample.item(sample.questions[0])}").shuffle(expected)
    assert first[0] == expected


def test_each_learner_has_an_order_of_their_own_and_keeps_it(
    workspace: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    alice = orders()
    assert orders() == alice
    monkeypatch.setenv("LABKIT_LEARNER", "bob")
    bob = orders()
    assert bob != alice
    assert sum(a != b for a, b in zip(alice, bob, strict=True)) > len(alice) // 3


def test_labkit_quiz_seed_overrides_the_learner(
    workspace: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LABKIT_QUIZ_SEED", "workshop-7")
    alice = orders()
    monkeypatch.setenv("LABKIT_LEARNER", "bob")
    assert orders() == alice


def test_the_right_options_shown_position_is_spread(no_workspace: None) -> None:
    """Shuffled, the right option is not where the file put it: over every question of the
    workbook, no shown position holds more than half of the right answers."""
    shown = collections.Counter(
        option_order(q, question).index(question.answer) for q in ALL for question in q.questions
    )
    assert max(shown.values()) <= sum(shown.values()) / 2, shown


# --- results ---------------------------------------------------------------------------------


def test_check_records_the_answer_in_the_workspace(workspace: Path) -> None:
    lesson = quiz(NOTEBOOKS / "quizzes" / "01-stream-processing-flow.json")
    radio, check, feedback = questions(lesson.widget())[0]
    question = lesson.questions[0]
    wrong = next(j for j, o in enumerate(question.options) if not o.correct)
    check.click()  # nothing picked: nothing recorded
    radio.value = wrong
    check.click()
    radio.value = question.answer
    check.click()
    lines = [
        json.loads(line)
        for line in (workspace / ".labkit" / "results.jsonl").read_text().splitlines()
    ]
    assert [(x["kind"], x["lesson"], x["item"], x["passed"]) for x in lines] == [
        ("quiz", "01", f"01-stream-processing-flow#{question.id}", False),
        ("quiz", "01", f"01-stream-processing-flow#{question.id}", True),
    ]
    assert [x["choice"] for x in lines] == [
        question.options[wrong].text,
        question.options[question.answer].text,
    ]
    assert feedback.value.startswith("✅ <b>Correct.</b> ")


def test_a_rebuilt_quiz_shows_the_last_answers_their_feedback_and_the_score(
    workspace: Path,
) -> None:
    lesson = ALL[0]
    first = lesson.widget()
    assert score(first) == f"Score: 0 of {len(lesson.questions)} right yet."
    (r1, c1, _), (r2, c2, _), *_ = questions(first)
    q1, q2 = lesson.questions[:2]
    r1.value = q1.answer
    c1.click()  # right at the first try
    wrong = next(j for j, o in enumerate(q2.options) if not o.correct)
    r2.value = wrong
    c2.click()
    r2.value = q2.answer
    c2.click()  # right at the second
    n = len(lesson.questions)
    assert score(first) == f"Score: 2 of {n} right; 1 at the first try."
    r2.value = wrong
    c2.click()  # a later wrong answer is what is shown; the question stays passed
    again = lesson.widget()  # the cell run again, or the kernel restarted
    assert score(again) == f"Score: 2 of {n} right; 1 at the first try."
    (a1, _, f1), (a2, _, f2), *rest = questions(again)
    assert (a1.value, a2.value) == (q1.answer, wrong)
    assert f1.value.startswith("✅ <b>Correct.</b>")
    assert f2.value.startswith("❌ <b>Not yet.</b>")
    assert all(radio.value is None and feedback.value == "" for radio, _, feedback in rest)


def test_in_a_session_without_a_file_answers_are_kept_in_memory(no_workspace: None) -> None:
    lesson = ALL[0]
    radio, check, _ = questions(lesson.widget())[0]
    radio.value = lesson.questions[0].answer
    check.click()
    again_radio, _, feedback = questions(lesson.widget())[0]
    assert again_radio.value == lesson.questions[0].answer
    assert "Correct." in feedback.value


def test_an_answer_whose_option_text_changed_is_not_restored(workspace: Path) -> None:
    lesson = ALL[0]
    item = lesson.item(lesson.questions[0])
    _results.record("quiz", "01", item, False, choice="an option the file no longer has")
    radio, _, feedback = questions(lesson.widget())[0]
    assert (radio.value, feedback.value) == (None, "")


def test_another_quizs_answers_do_not_count(workspace: Path) -> None:
    other = ALL[1]
    _results.record("quiz", other.number, other.item(other.questions[0]), True, choice="x")
    assert ALL[0].score()[0] == 0


def test_the_verdict_is_said_once(no_workspace: None) -> None:
    data = {
        "lesson": "99-sample",
        "title": "Sample",
        "questions": [
            {
                "id": "q",
                "prompt": "Pick yes.",
                "hint": "Say yes.",
                "options": [
                    {"text": "yes", "correct": True, "feedback": "Right: yes it is."},
                    {"text": "no", "correct": False, "feedback": "Not quite: no is wrong."},
                ],
            }
        ],
    }
    radio, check, feedback = questions(Quiz.from_dict(data).widget())[0]
    radio.value = 0
    check.click()
    assert feedback.value == "✅ <b>Correct.</b> yes it is."
    radio.value = 1
    check.click()
    assert feedback.value == "❌ <b>Not yet.</b> no is wrong."


def test_over_many_learners_every_position_is_right_as_often(
    workspace: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Each question is shuffled on its own (no balancing inside a quiz, which would let a
    learner deduce the last answer from the others): for a learner, the right option is at each
    position with the same chance. Over 200 learners, each position's share of the right
    answers is within 0.03 of 1/n for the questions with n options."""
    shown: collections.Counter[tuple[int, int]] = collections.Counter()
    for n in range(200):
        monkeypatch.setenv("LABKIT_LEARNER", f"learner-{n:03d}")
        for q in ALL:
            for question in q.questions:
                shown[len(question.options), option_order(q, question).index(question.answer)] += 1
    for size in {size for size, _ in shown}:
        total = sum(count for (s, _), count in shown.items() if s == size)
        shares = [shown[size, position] / total for position in range(size)]
        assert all(abs(share - 1 / size) < 0.03 for share in shares), (size, shares)

"""Quiz files load and validate; answers check right; the widget is deterministic and works."""

from __future__ import annotations

import copy
import html
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import ipywidgets as w
import pytest

from labkit._errors import QuizError
from labkit.teach import _results
from labkit.teach._quiz import PICK_FIRST, Feedback, Question, Quiz, option_order, quiz

NOTEBOOKS = Path(__file__).resolve().parents[1] / "notebooks"
QUIZ_FILES = sorted((NOTEBOOKS / "quizzes").glob("*.json"))
LESSON_01 = NOTEBOOKS / "quizzes" / "01-stream-processing-flow.json"


@pytest.fixture(autouse=True)
def _no_results(monkeypatch: pytest.MonkeyPatch) -> None:
    """No results file and an empty memory: every widget starts unanswered, in the fixed order
    (the widget's results and shuffling are tested in test_quiz_widget.py)."""
    monkeypatch.delenv("LABKIT_RESULTS", raising=False)
    monkeypatch.delenv("LABKIT_QUIZ_SEED", raising=False)
    monkeypatch.setattr(_results, "results_path", lambda cwd=None: None)
    monkeypatch.setattr(_results, "_MEMORY", [])


def good() -> dict[str, Any]:
    """A small valid quiz; each validation test breaks one thing in a fresh copy."""
    return {
        "lesson": "99-sample",
        "title": "Sample",
        "questions": [
            {
                "id": "first-q",
                "prompt": "Pick B.",
                "hint": "It is the second.",
                "options": [
                    {"text": "A", "correct": False, "feedback": "A is first, not second."},
                    {"text": "B", "correct": True, "feedback": "B it is."},
                    {"text": "C", "correct": False, "feedback": "C is third."},
                ],
            },
            {
                "id": "second-q",
                "prompt": "Pick yes.",
                "hint": "Say yes.",
                "options": [
                    {"text": "yes", "correct": True, "feedback": "Yes."},
                    {"text": "no", "correct": False, "feedback": "Not no."},
                ],
            },
        ],
    }


# --- every quiz in the repository loads ------------------------------------------------------


def test_the_quiz_folder_has_quizzes() -> None:
    assert QUIZ_FILES, f"no *.json in {NOTEBOOKS / 'quizzes'}"


@pytest.mark.parametrize("path", QUIZ_FILES, ids=lambda p: p.name)
def test_every_quiz_file_loads(path: Path) -> None:
    loaded = Quiz.from_file(path)
    assert loaded.lesson == path.stem
    assert len(loaded.widget().children) == 2 + len(loaded.questions)  # title, score


def test_good_sample_is_valid() -> None:
    assert Quiz.from_dict(good()).answer_key() == {"first-q": 1, "second-q": 0}


# --- each rule rejects a bad quiz, and the message says what and where ------------------------


def q0(d: dict[str, Any]) -> dict[str, Any]:
    return d["questions"][0]


def opt(d: dict[str, Any], j: int) -> dict[str, Any]:
    return d["questions"][0]["options"][j]


Mutation = Callable[[dict[str, Any]], object]  # changes the dict in place
MUTATIONS: list[tuple[str, Mutation, list[str]]] = [
    ("missing-title", lambda d: d.pop("title"), ["missing key 'title'"]),
    ("missing-hint", lambda d: q0(d).pop("hint"), ["first-q", "missing key 'hint'"]),
    (
        "missing-correct",
        lambda d: opt(d, 0).pop("correct"),
        ["first-q", "options[0]", "missing key 'correct'"],
    ),
    (
        "unknown-top-key",
        lambda d: d.update(titel="x"),
        ["unknown key 'titel'", "did you mean 'title'", "'lesson'"],
    ),
    (
        "unknown-question-key",
        lambda d: q0(d).update(hints="x"),
        ["first-q", "unknown key 'hints'", "'prompt'"],
    ),
    (
        "unknown-option-key",
        lambda d: opt(d, 1).update(feedbak="x"),
        ["first-q", "options[1]", "unknown key 'feedbak'"],
    ),
    ("questions-not-list", lambda d: d.update(questions={}), ["'questions' should be a list"]),
    ("no-questions", lambda d: d.update(questions=[]), ['"questions" is empty']),
    (
        "question-not-object",
        lambda d: d["questions"].append("q3"),
        ["questions[2]", "expected an object"],
    ),
    (
        "correct-not-bool",
        lambda d: opt(d, 0).update(correct="false"),
        ["first-q", "'correct' should be true or false", '"false"'],
    ),
    ("correct-is-number", lambda d: opt(d, 0).update(correct=0), ["'correct' should be true"]),
    ("prompt-not-string", lambda d: q0(d).update(prompt=3), ["'prompt' should be a string"]),
    ("empty-prompt", lambda d: q0(d).update(prompt="  "), ["first-q", "'prompt' is empty"]),
    ("empty-hint", lambda d: q0(d).update(hint=""), ["first-q", "'hint' is empty"]),
    ("empty-title", lambda d: d.update(title=""), ["'title' is empty"]),
    ("empty-option-text", lambda d: opt(d, 2).update(text=""), ["options[2]", "'text' is empty"]),
    (
        "empty-feedback",
        lambda d: opt(d, 0).update(feedback=" "),
        ["first-q", "options[0]", "'feedback' is empty"],
    ),
    ("duplicate-id", lambda d: d["questions"][1].update(id="first-q"), ["first-q", "already used"]),
    ("id-not-kebab", lambda d: q0(d).update(id="First_Q"), ["'First_Q'", "lowercase-kebab"]),
    ("lesson-not-kebab", lambda d: d.update(lesson="Lesson 1"), ["'Lesson 1'", "lowercase-kebab"]),
    (
        "one-option",
        lambda d: q0(d).update(options=q0(d)["options"][:1]),
        ["first-q", "1 option(s)", "2 to 6"],
    ),
    (
        "seven-options",
        lambda d: q0(d).update(
            options=[{"text": str(i), "correct": i == 0, "feedback": "f"} for i in range(7)]
        ),
        ["first-q", "7 option(s)", "2 to 6"],
    ),
    (
        "no-correct",
        lambda d: opt(d, 1).update(correct=False),
        ["first-q", "0 correct options", "exactly one"],
    ),
    (
        "two-correct",
        lambda d: opt(d, 2).update(correct=True),
        ["first-q", "2 correct options", "exactly one"],
    ),
    ("same-option-text", lambda d: opt(d, 2).update(text="A"), ["first-q", "same text"]),
]


@pytest.mark.parametrize(
    ("mutate", "expected"), [m[1:] for m in MUTATIONS], ids=[m[0] for m in MUTATIONS]
)
def test_each_rule_rejects_a_bad_quiz(mutate: Mutation, expected: list[str]) -> None:
    data = good()
    mutate(data)
    with pytest.raises(QuizError) as caught:
        Quiz.from_dict(data, source="bad.json")
    message = str(caught.value)
    assert message.startswith("bad.json")
    assert "\nFix: " in message and caught.value.fix
    for part in expected:
        assert part in message


def test_a_list_is_not_a_quiz() -> None:
    with pytest.raises(QuizError, match=r"bad\.json: expected an object \{\.\.\.\}, found \["):
        Quiz.from_dict(["a list"], source="bad.json")


def test_file_that_is_not_json_names_the_file(tmp_path: Path) -> None:
    path = tmp_path / "99-sample.json"
    path.write_text('{"lesson": "99-sample",}', encoding="utf-8")
    with pytest.raises(QuizError, match=r"99-sample\.json: not valid JSON.*line 1") as caught:
        Quiz.from_file(path)
    assert isinstance(caught.value.cause, json.JSONDecodeError)


def test_lesson_must_match_the_file_name(tmp_path: Path) -> None:
    path = tmp_path / "02-other.json"
    path.write_text(json.dumps(good()), encoding="utf-8")
    with pytest.raises(QuizError, match=r"'99-sample' but the file is named '02-other.json'"):
        Quiz.from_file(path)


def test_quiz_finds_a_path_relative_to_notebooks(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)  # not notebooks/, so the fallback is what finds it
    assert quiz("quizzes/01-stream-processing-flow.json") == Quiz.from_file(LESSON_01)


def test_quiz_not_found_names_both_places(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    with pytest.raises(QuizError) as caught:
        quiz("quizzes/nope.json")
    assert str(tmp_path / "quizzes" / "nope.json") in caught.value.what
    assert str(NOTEBOOKS / "quizzes" / "nope.json") in caught.value.what


# --- check: pure logic, no widgets --------------------------------------------------------------

ALL_QUESTIONS = [q for p in QUIZ_FILES for q in Quiz.from_file(p).questions]
ALL_QUESTIONS += list(Quiz.from_dict(good()).questions)


@pytest.mark.parametrize("question", ALL_QUESTIONS, ids=lambda q: q.id)
def test_check_gives_each_options_own_feedback(question: Question) -> None:
    for j, option in enumerate(question.options):
        expected = Feedback(correct=option.correct, message=option.feedback, choice=j)
        assert question.check(j) == expected
        assert question.check(option.text) == expected
    assert [question.check(j).correct for j in range(len(question.options))].count(True) == 1


def test_check_without_a_choice_asks_to_pick() -> None:
    question = Quiz.from_dict(good()).questions[0]
    assert question.check(None) == Feedback(False, "Pick an option first, then press Check.", None)


@pytest.mark.parametrize("choice", [3, -1, "D", "b", True])
def test_check_rejects_a_choice_that_is_not_an_option(choice: Any) -> None:
    question = Quiz.from_dict(good()).questions[0]
    with pytest.raises(QuizError, match="has no option") as caught:
        question.check(choice)
    assert "'A', 'B', 'C'" in caught.value.fix


# --- the widget ---------------------------------------------------------------------------------


def parts(box: w.VBox) -> tuple[w.HTML, w.RadioButtons, w.ToggleButton, w.Button, w.HTML, w.HTML]:
    prompt, radio, buttons, hint, feedback = box.children
    hint_button, check_button = buttons.children
    return prompt, radio, hint_button, check_button, hint, feedback


@pytest.fixture
def lesson_quiz() -> Quiz:
    return Quiz.from_file(LESSON_01)


def test_widget_shows_options_in_the_learners_order_with_nothing_picked(
    lesson_quiz: Quiz,
) -> None:
    widget = lesson_quiz.widget()
    assert isinstance(widget, w.VBox)
    boxes = widget.children[2:]
    assert len(boxes) == len(lesson_quiz.questions)
    for n, (box, question) in enumerate(zip(boxes, lesson_quiz.questions, strict=True), start=1):
        prompt, radio, hint_button, check_button, hint, feedback = parts(box)
        assert prompt.value.startswith(f"<b>Q{n}.</b>")
        assert isinstance(radio, w.RadioButtons)
        order = option_order(lesson_quiz, question)
        assert sorted(order) == list(range(len(question.options)))
        assert list(radio.options) == [(question.options[j].text, j) for j in order]
        assert radio.value is None
        assert (hint_button.description, check_button.description) == ("Hint", "Check")
        assert hint.value == feedback.value == ""


def test_widget_repr_is_the_same_on_every_build(lesson_quiz: Quiz) -> None:
    first, second = lesson_quiz.widget(), lesson_quiz.widget()
    assert repr(first) == repr(second)
    assert first.model_id not in repr(first)
    bundles = [lesson_quiz._repr_mimebundle_(), lesson_quiz._repr_mimebundle_()]
    assert bundles[0]["text/plain"] == bundles[1]["text/plain"]
    # What a saved notebook shows before its cells run: a sentence, not the widget's repr.
    text = bundles[0]["text/plain"]
    assert text == f"Quiz: {lesson_quiz.title} (3 questions). Run this cell to answer."
    assert "VBox" not in text
    assert "application/vnd.jupyter.widget-view+json" in bundles[0]


def test_check_button_shows_the_picked_options_feedback(lesson_quiz: Quiz) -> None:
    for box, question in zip(lesson_quiz.widget().children[2:], lesson_quiz.questions, strict=True):
        _, radio, _, check_button, _, feedback = parts(box)
        check_button.click()
        assert PICK_FIRST in feedback.value
        for j, option in enumerate(question.options):
            radio.value = j
            assert feedback.value == ""  # a new pick clears the old verdict
            check_button.click()
            verdict = "✅ <b>Correct.</b> " if option.correct else "❌ <b>Not yet.</b> "
            assert feedback.value.startswith(verdict)
            said = feedback.value.removeprefix(verdict)
            assert said in html.escape(option.feedback)  # the text, any verdict it opened with cut
            assert html.escape(option.feedback).endswith(said) and len(said) > 20


def test_hint_toggle_shows_and_hides_the_hint(lesson_quiz: Quiz) -> None:
    box = lesson_quiz.widget().children[2]
    _, _, hint_button, _, hint, _ = parts(box)
    hint_button.value = True
    assert html.escape(lesson_quiz.questions[0].hint) in hint.value
    hint_button.value = False
    assert hint.value == ""


# --- lesson 01's content ------------------------------------------------------------------------


def test_lesson_01_answer_key(lesson_quiz: Quiz) -> None:
    key = lesson_quiz.answer_key()
    assert list(key) == ["updated-data-written", "trigger-after-delete", "no-change-no-record"]
    answers = {q.id: q.options[key[q.id]].text for q in lesson_quiz.questions}
    assert "2" in answers["updated-data-written"]
    assert "REMOVE" in answers["trigger-after-delete"]
    assert "no stream record" in answers["no-change-no-record"]


def test_quiz_dataclasses_are_frozen(lesson_quiz: Quiz) -> None:
    with pytest.raises(AttributeError):
        lesson_quiz.title = "changed"  # type: ignore[misc]
    assert copy.deepcopy(lesson_quiz) == lesson_quiz

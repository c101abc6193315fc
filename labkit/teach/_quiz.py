"""Multiple-choice quizzes: questions are data, checked on load, shown as ipywidgets.

A lesson's quiz lives in ``notebooks/quizzes/<lesson>.json`` (format and rules in
``notebooks/quizzes/README.md``). :func:`quiz` loads one; displaying the result renders it.
:meth:`Question.check` is the same logic the Check button uses, so tests need no widgets.

The widget, for each learner:

* shows each question's options in an order of its own (:func:`option_order`): shuffled with a
  seed made of ``$LABKIT_QUIZ_SEED`` if set, else a fixed word when no results file is in use
  (the source notebooks, nbval, tests: the same order on every machine), else the learner's name,
  and the question's id. A learner sees the same order every time; two learners, two orders;
* records every answer checked with the Check button in the learner's results
  (:mod:`labkit.teach._results`: ``("quiz", "NN", "<quiz lesson>#<question id>", passed,
  choice=<option text>)``), and builds itself from them: re-running the cell, or reopening the
  lesson after a restart, shows the last answer to each question and its feedback again;
* keeps a running score from those results ("2 of 3 right; 1 at the first try");
* says its verdict once (Correct. / Not yet.), before the option's own feedback.

After a kernel or server restart the widget is drawn from the state JupyterLab saved in the
notebook (``saveState`` of ``@jupyter-widgets/jupyterlab-manager``; see the README, "Quizzes and
progress"), until the cell runs again.
"""

from __future__ import annotations

import difflib
import html
import json
import os
import random
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn

from labkit._errors import QuizError

from . import _results
from ._display import MUTED

if TYPE_CHECKING:
    import ipywidgets

__all__ = ["Feedback", "Option", "Question", "Quiz", "option_order", "quiz", "score_text"]

NOTEBOOKS = Path(__file__).resolve().parents[2] / "notebooks"
PICK_FIRST = "Pick an option first, then press Check."
_KEBAB = re.compile(r"[a-z0-9]+(-[a-z0-9]+)*")
_JSON_TYPE = {str: "a string", bool: "true or false", list: "a list [...]", dict: "an object {...}"}
# Each level of the file as a table: key -> type. Every key is required; no others are allowed.
_QUIZ_KEYS: dict[str, type] = {"lesson": str, "title": str, "questions": list}
_QUESTION_KEYS: dict[str, type] = {"id": str, "prompt": str, "hint": str, "options": list}
_OPTION_KEYS: dict[str, type] = {"text": str, "correct": bool, "feedback": str}
# Under the score: a quiz drawn from the notebook's saved state (after a restart) looks alive but
# its buttons reach no kernel until the cell runs again.
KEPT = "Your answers are kept: after a restart, run this cell again to go on answering."
# The seed when no results file is in use: source notebooks, nbval and tests see one fixed order.
FIXED_SEED = "labkit"
# A verdict a feedback text may still open with; the widget says its own, once.
_VERDICT = re.compile(r"^(?:right|correct|wrong|not quite|not yet|yes|no)\s*[:.!]\s+", re.I)


@dataclass(frozen=True)
class Feedback:
    """The result of checking one answer: right or not, and what to tell the learner.

    Introduced in notebooks/01-stream-processing-flow.ipynb.
    """

    correct: bool
    message: str
    choice: int | None


@dataclass(frozen=True)
class Option:
    """One answer to a question, with the feedback shown when it is picked.

    Introduced in notebooks/01-stream-processing-flow.ipynb.
    """

    text: str
    correct: bool
    feedback: str


@dataclass(frozen=True)
class Question:
    """A multiple-choice question with exactly one correct option.

    Introduced in notebooks/01-stream-processing-flow.ipynb.
    """

    id: str
    prompt: str
    hint: str
    options: tuple[Option, ...]

    @property
    def answer(self) -> int:
        """Index of the correct option.

        Introduced in notebooks/01-stream-processing-flow.ipynb.
        """
        return next(i for i, option in enumerate(self.options) if option.correct)

    def check(self, choice: int | str | None) -> Feedback:
        """Check a choice, given as an option index or the option's exact text.

        ``None`` (nothing picked yet) is not correct and asks the learner to pick.
        Introduced in notebooks/01-stream-processing-flow.ipynb.
        """
        if choice is None:
            return Feedback(False, PICK_FIRST, None)
        texts = [option.text for option in self.options]
        if isinstance(choice, str) and choice in texts:
            index = texts.index(choice)
        elif isinstance(choice, int) and not isinstance(choice, bool) and 0 <= choice < len(texts):
            index = choice
        else:
            raise QuizError(
                f"Question {self.id!r} has no option {choice!r}.",
                f"Pass an index from 0 to {len(texts) - 1}, or one of these texts: {texts}.",
            )
        option = self.options[index]
        return Feedback(option.correct, option.feedback, index)


@dataclass(frozen=True)
class Quiz:
    """A lesson's quiz; as the last expression of a cell it shows as a widget.

    Introduced in notebooks/01-stream-processing-flow.ipynb.
    """

    lesson: str
    title: str
    questions: tuple[Question, ...]
    source: str = field(default="<dict>", compare=False, repr=False)

    @classmethod
    def from_file(cls, path: str | os.PathLike[str]) -> Quiz:
        """Load and validate a quiz file; any problem raises :class:`QuizError`.

        Introduced in notebooks/01-stream-processing-flow.ipynb.
        """
        path = Path(path)
        try:
            # utf-8-sig: a byte-order mark, as some editors on Windows save one, is accepted
            data = json.loads(path.read_text(encoding="utf-8-sig"))
        except OSError as e:
            fix = "Check the path; quiz files live in notebooks/quizzes/."
            raise QuizError(f"{path}: cannot read it ({e.strerror}).", fix, cause=e) from e
        except ValueError as e:  # JSONDecodeError, UnicodeDecodeError
            fix = "Fix the JSON at that line and column (often a missing comma or quote)."
            raise QuizError(f"{path}: not valid JSON ({e}).", fix, cause=e) from e
        loaded = cls.from_dict(data, source=str(path))
        if loaded.lesson != path.stem:
            _fail(
                str(path),
                f'"lesson" is {loaded.lesson!r} but the file is named {path.name!r}',
                f'Make them agree: set "lesson": "{path.stem}" or rename the file.',
            )
        return loaded

    @classmethod
    def from_dict(cls, data: Any, source: str = "<dict>") -> Quiz:
        """Validate already-parsed quiz data (the JSON file's content) and build a Quiz.

        Introduced in notebooks/01-stream-processing-flow.ipynb.
        """
        _fields(data, _QUIZ_KEYS, source)
        _kebab(data["lesson"], '"lesson"', source)
        if not data["questions"]:
            _fail(source, '"questions" is empty', "Add at least one question.")
        questions, seen = [], set()
        for i, raw in enumerate(data["questions"]):
            qid = raw.get("id") if isinstance(raw, dict) else None
            where = f"{source}, questions[{i}]" + (f" (id {qid!r})" if isinstance(qid, str) else "")
            _fields(raw, _QUESTION_KEYS, where)
            _kebab(raw["id"], '"id"', where)
            if raw["id"] in seen:
                _fail(
                    where,
                    "this id is already used by an earlier question",
                    "Give each question its own id.",
                )
            seen.add(raw["id"])
            questions.append(_question(raw, where))
        return cls(data["lesson"], data["title"], tuple(questions), source)

    def answer_key(self) -> dict[str, int]:
        """Map each question id to the index of its correct option.

        Introduced in notebooks/01-stream-processing-flow.ipynb.
        """
        return {q.id: q.answer for q in self.questions}

    @property
    def number(self) -> str:
        """The lesson's number (``"01"``), as the results file names lessons."""
        return self.lesson[:2] if self.lesson[:2].isdigit() else self.lesson

    def item(self, question: Question) -> str:
        """A question's name in the results file: ``"<quiz lesson>#<question id>"``."""
        return f"{self.lesson}#{question.id}"

    def score(self) -> tuple[int, int, int]:
        """From the learner's results: questions right, questions in the quiz, right at the
        first try."""
        items = {self.item(q) for q in self.questions}
        folded = _results.status(
            a for a in _results.recorded() if a.kind == "quiz" and a.item in items
        )
        right = sum(s.passed for s in folded)
        return right, len(self.questions), sum(s.first_try for s in folded)

    def widget(self) -> ipywidgets.VBox:
        """Build the quiz as an ``ipywidgets.VBox``: a title, the running score, then per
        question its options (in this learner's order), Hint and Check, and the feedback of the
        learner's last checked answer.

        Introduced in notebooks/01-stream-processing-flow.ipynb.
        """
        import ipywidgets as w

        title = w.HTML(f"<h3>{html.escape(self.title)}</h3>")
        score = w.HTML()

        def show_score() -> None:
            score.value = (
                f'<span class="labkit-quiz-score">{score_text(*self.score())}</span> '
                f'<span style="{MUTED}">{KEPT}</span>'
            )

        last = _last_choices(self)
        boxes = [
            _question_widget(self, n, q, last.get(q.id), show_score)
            for n, q in enumerate(self.questions, start=1)
        ]
        show_score()
        return w.VBox([title, score, *boxes])

    def _repr_mimebundle_(self, **kwargs: Any) -> dict[str, Any]:
        # ipywidgets 8 widgets display through _repr_mimebundle_ (not _ipython_display_).
        bundle: dict[str, Any] = dict(self.widget()._repr_mimebundle_(**kwargs) or {})
        # Where the widget cannot be drawn (a saved notebook before its cells run, a terminal),
        # the plain text is what shows: make it say what this is, not the widget's repr.
        bundle["text/plain"] = str(self)
        return bundle

    def __str__(self) -> str:
        n = len(self.questions)
        return f"Quiz: {self.title} ({n} question{'s' * (n != 1)}). Run this cell to answer."


def quiz(path: str | os.PathLike[str]) -> Quiz:
    """Load a lesson's quiz; make it the cell's last line to show it.

    ``path`` is taken relative to the working directory (``notebooks/`` in a lesson), then
    relative to the project's ``notebooks/`` folder.
    Introduced in notebooks/01-stream-processing-flow.ipynb.
    """
    if not isinstance(path, str | os.PathLike):
        raise QuizError(
            f"lk.quiz() needs the path of a quiz file, not {path!r}.",
            'pass a path like "quizzes/01-stream-processing-flow.json".',
        )
    candidates = [Path(path)]
    if not Path(path).is_absolute():
        candidates.append(NOTEBOOKS / path)
    for candidate in candidates:
        if candidate.is_file():
            return Quiz.from_file(candidate)
    tried = " and ".join(str(c.resolve()) for c in candidates)
    raise QuizError(
        f"No quiz file {str(path)!r}: looked at {tried}.",
        'Pass a path like "quizzes/01-stream-processing-flow.json" '
        f"(files in {NOTEBOOKS / 'quizzes'}).",
    )


def option_order(quiz: Quiz, question: Question) -> list[int]:
    """The order this learner sees a question's options in, as indexes into the file's order.

    The seed: ``$LABKIT_QUIZ_SEED`` if set; else ``FIXED_SEED`` when no results file is in use
    (``_results.results_path()`` is None: source notebooks, nbval, tests), so committed outputs
    are the same on any machine; else the learner's name. With the question's id, so that each
    question is shuffled differently. ``random.Random`` seeded with a string is the same on every
    platform and Python 3 version (it hashes the string with SHA-512).
    """
    seed = os.environ.get("LABKIT_QUIZ_SEED", "").strip()
    if not seed:
        seed = FIXED_SEED if _results.results_path() is None else _results.learner_name()
    order = list(range(len(question.options)))
    random.Random(f"{seed}|{quiz.item(question)}").shuffle(order)
    return order


def score_text(right: int, total: int, first_try: int) -> str:
    """The running score, as the quiz shows it: ``"Score: 2 of 3 right; 1 at the first try."``"""
    if right == 0:
        return f"Score: 0 of {total} right yet."
    return f"Score: {right} of {total} right; {first_try} at the first try."


def _last_choices(quiz: Quiz) -> dict[str, int]:
    """Each question's last checked answer in the learner's results, as an option index (an
    answer whose option text is no longer in the file is skipped)."""
    last: dict[str, int] = {}
    by_item = {quiz.item(q): q for q in quiz.questions}
    for attempt in sorted(_results.recorded(), key=lambda a: a.at):
        question = by_item.get(attempt.item) if attempt.kind == "quiz" else None
        texts = [o.text for o in question.options] if question else []
        if question is not None and attempt.choice in texts:
            last[question.id] = texts.index(attempt.choice)
    return last


def _fail(where: str, problem: str, fix: str) -> NoReturn:
    raise QuizError(f"{where}: {problem}.", fix)


def _short(value: Any) -> str:
    text = json.dumps(value, ensure_ascii=False)
    return text if len(text) <= 40 else text[:39] + "…"


def _fields(obj: Any, spec: dict[str, type], where: str) -> None:
    """Check one JSON object against a key -> type table."""
    if not isinstance(obj, dict):
        _fail(
            where,
            f"expected an object {{...}}, found {_short(obj)}",
            f"Write it as an object with the keys {list(spec)}.",
        )
    if unknown := sorted(set(obj) - set(spec)):
        guess = difflib.get_close_matches(unknown[0], spec, n=1)
        typo = f" (did you mean {guess[0]!r}?)" if guess else ""
        _fail(where, f"unknown key {unknown[0]!r}{typo}", f"The allowed keys are {list(spec)}.")
    if missing := [key for key in spec if key not in obj]:
        key = missing[0]
        _fail(where, f"missing key {key!r}", f"Add {key!r} ({_JSON_TYPE[spec[key]]}).")
    for key, kind in spec.items():
        value = obj[key]
        if not (type(value) is bool if kind is bool else isinstance(value, kind)):
            _fail(
                where,
                f"{key!r} should be {_JSON_TYPE[kind]}, found {_short(value)}",
                f"Write {key!r} as {_JSON_TYPE[kind]}.",
            )
        if kind is str and not value.strip():
            _fail(where, f"{key!r} is empty", f"Write the {key} text.")


def _kebab(value: str, key: str, where: str) -> None:
    if not _KEBAB.fullmatch(value):
        _fail(
            where,
            f"{key} {value!r} is not lowercase-kebab",
            'Use only a-z, 0-9 and single "-", e.g. "updated-data-written".',
        )


def _question(raw: dict[str, Any], where: str) -> Question:
    count = len(raw["options"])
    if not 2 <= count <= 6:
        _fail(where, f"it has {count} option(s)", "Give each question 2 to 6 options.")
    for j, option in enumerate(raw["options"]):
        _fields(option, _OPTION_KEYS, f"{where}, options[{j}]")
    options = tuple(Option(o["text"], o["correct"], o["feedback"]) for o in raw["options"])
    if len({o.text for o in options}) != count:
        _fail(where, "two options have the same text", "Make each option's text different.")
    correct = [j for j, o in enumerate(options) if o.correct]
    if len(correct) != 1:
        _fail(
            where,
            f"it has {len(correct)} correct options {correct}, not exactly one",
            'Set "correct": true on exactly one option and false on the others.',
        )
    return Question(raw["id"], raw["prompt"], raw["hint"], options)


def _feedback_html(feedback: Feedback) -> str:
    """The verdict, said once, then the option's own feedback (a verdict the text opens with, as
    "Right: ...", is left out: the widget has just said it)."""
    if feedback.choice is None:
        return f"<i>{html.escape(feedback.message)}</i>"
    text = html.escape(_VERDICT.sub("", feedback.message, count=1))
    return f"✅ <b>Correct.</b> {text}" if feedback.correct else f"❌ <b>Not yet.</b> {text}"


def _question_widget(
    quiz: Quiz,
    number: int,
    question: Question,
    last: int | None,
    on_checked: Callable[[], None],
) -> ipywidgets.VBox:
    """One question: prompt, options in this learner's order, Hint, Check, feedback; the last
    checked answer (``last``, an index in file order) picked, with its feedback."""
    import ipywidgets as w

    prompt = w.HTML(f"<b>Q{number}.</b> {html.escape(question.prompt)}")
    labels = [(question.options[j].text, j) for j in option_order(quiz, question)]
    radio = w.RadioButtons(options=labels, value=last, layout=w.Layout(width="max-content"))
    hint_button = w.ToggleButton(value=False, description="Hint")
    check_button = w.Button(description="Check", button_style="primary")
    hint = w.HTML()
    feedback = w.HTML(_feedback_html(question.check(last)) if last is not None else "")

    def show_hint(change: dict[str, Any]) -> None:
        hint.value = f"💡 <i>Hint:</i> {html.escape(question.hint)}" if change["new"] else ""

    def check(_: Any) -> None:
        result = question.check(radio.value)
        feedback.value = _feedback_html(result)
        if result.choice is not None:
            option = question.options[result.choice]
            _results.record(
                "quiz", quiz.number, quiz.item(question), result.correct, choice=option.text
            )
            on_checked()

    def clear(_: Any) -> None:
        feedback.value = ""

    hint_button.observe(show_hint, names="value")
    radio.observe(clear, names="value")
    check_button.on_click(check)
    return w.VBox([prompt, radio, w.HBox([hint_button, check_button]), hint, feedback])

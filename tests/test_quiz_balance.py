"""Quiz answers cannot be guessed from the options' shape, measured over every quiz file.

A learner who skipped the lesson should do no better than chance by picking the longest option,
the shortest one, or the same position every time; and feedback must not open with a verdict,
since the widget already prints one ("Correct:" / "Not quite:"). The figures are computed from
``notebooks/quizzes/*.json`` in file order (the order the files are written in, whatever a widget
later shows), and the limits hold for the whole set, so a quiz added later is measured with the
rest: it may lean one way as long as the set stays balanced. The rules are written for quiz
authors in notebooks/quizzes/README.md, "Writing options that cannot be guessed".
"""

from __future__ import annotations

import json
import math
import re
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import pytest

QUIZZES = Path(__file__).resolve().parents[1] / "notebooks" / "quizzes"

MAX_LONGEST_SHARE = 0.40  # issue 15: the longest option is right in at most 40% of questions
MAX_SHORTEST_SHARE = 0.40  # the opposite tell: answers written short on purpose
MIDDLE_SLACK = 0.15  # "neither longest nor shortest" may exceed its fair share by this much
POSITION_SLACK = 0.10  # no position holds more than 1/k + 10 points of the k-option questions
MIN_P_VALUE = 0.05  # chi-square: positions must look like a fair draw at the 5% level
# Verdicts the widget already shows. Words that also start ordinary sentences ("No record is
# written", "Exactly one ...") count only when punctuation follows them ("No:", "Exactly.").
_VERDICT = re.compile(
    r"^\W*(?:"
    r"(?:right|correct|incorrect|wrong|yes|nope|not quite|not really|well done|almost|exactly"
    r"|indeed|true|false|no|good|great|careful|close|partly)\s*[.,:;!\u2014\u2013-]"
    r"|(?:right|correct|incorrect|wrong|yes|nope|not quite|well done|that'?s (?:right|correct)"
    r"|that is (?:right|correct))\b)",
    re.IGNORECASE,
)


@dataclass(frozen=True)
class Shape:
    """What a learner sees of a question without reading it: option lengths, answer position."""

    where: str  # "04-filtering.json type-key"
    lengths: tuple[int, ...]
    answer: int

    @property
    def longest(self) -> bool:
        return self.lengths[self.answer] == max(self.lengths)  # a tie counts as longest

    @property
    def shortest(self) -> bool:
        return self.lengths[self.answer] == min(self.lengths)  # a tie counts as shortest


def load_shapes(folder: Path = QUIZZES) -> list[Shape]:
    shapes = []
    for path in sorted(folder.glob("*.json")):
        for question in json.loads(path.read_text(encoding="utf-8-sig"))["questions"]:
            options = question["options"]
            shapes.append(
                Shape(
                    f"{path.name} {question['id']}",
                    tuple(len(option["text"]) for option in options),
                    [option["correct"] for option in options].index(True),
                )
            )
    return shapes


def chi_square_p(observed: list[int]) -> float:
    """P-value of observed counts against a uniform spread (chi-square, k-1 degrees of freedom)."""
    n, k = sum(observed), len(observed)
    statistic = sum((o - n / k) ** 2 / (n / k) for o in observed)
    # Survival function of chi-square = upper regularized gamma Q(k/2, x/2), by its series.
    s, x = (k - 1) / 2, statistic / 2
    if x == 0:
        return 1.0
    term = total = 1 / s
    for m in range(1, 500):
        term *= x / (s + m)
        total += term
        if term < total * 1e-15:
            break
    return max(0.0, 1 - math.exp(s * math.log(x) - x - math.lgamma(s)) * total)


def position_problems(shapes: list[Shape]) -> list[str]:
    """Per option count k with enough questions to judge (2k or more): is the answer spread?"""
    problems = []
    by_count: dict[int, list[int]] = {}
    for shape in shapes:
        by_count.setdefault(len(shape.lengths), []).append(shape.answer)
    for k, answers in sorted(by_count.items()):
        if len(answers) < 2 * k:
            continue
        counts = [Counter(answers)[i] for i in range(k)]
        top, limit, p = max(counts) / len(answers), 1 / k + POSITION_SLACK, chi_square_p(counts)
        if top > limit or p < MIN_P_VALUE:
            problems.append(
                f"{k}-option questions: answers by position {counts} (A, B, ...): "
                f"the most used holds {top:.0%} (limit {limit:.0%}), chi-square p={p:.3f} "
                f"(limit {MIN_P_VALUE}); move some answers to the positions used least"
            )
    return problems


def length_problems(shapes: list[Shape]) -> list[str]:
    n = len(shapes)
    longest = [s.where for s in shapes if s.longest]
    shortest = [s.where for s in shapes if s.shortest]
    middle = [s.where for s in shapes if not (s.longest or s.shortest)]
    fair_middle = sum((len(s.lengths) - 2) / len(s.lengths) for s in shapes) / n
    problems = []
    if len(longest) / n > MAX_LONGEST_SHARE:
        problems.append(
            f"the right option is the longest (ties included) in {len(longest)} of {n} "
            f"questions ({len(longest) / n:.0%}, limit {MAX_LONGEST_SHARE:.0%}): {longest}"
        )
    if len(shortest) / n > MAX_SHORTEST_SHARE:
        problems.append(
            f"the right option is the shortest (ties included) in {len(shortest)} of {n} "
            f"questions ({len(shortest) / n:.0%}, limit {MAX_SHORTEST_SHARE:.0%}): {shortest}"
        )
    if len(middle) / n > fair_middle + MIDDLE_SLACK:
        problems.append(
            f"the right option is neither longest nor shortest in {len(middle)} of {n} questions "
            f"({len(middle) / n:.0%}; fair share {fair_middle:.0%}, limit "
            f"{fair_middle + MIDDLE_SLACK:.0%}): make some right options the longest or shortest"
        )
    return problems


def verdict_feedback(folder: Path = QUIZZES) -> list[str]:
    found = []
    for path in sorted(folder.glob("*.json")):
        for question in json.loads(path.read_text(encoding="utf-8-sig"))["questions"]:
            for j, option in enumerate(question["options"]):
                if _VERDICT.match(option["feedback"]):
                    found.append(
                        f"{path.name} {question['id']} options[{j}]: {option['feedback']!r}"
                    )
    return found


SHAPES = load_shapes()


def test_there_are_quizzes_to_measure() -> None:
    assert len(SHAPES) >= 10, f"only {len(SHAPES)} questions in {QUIZZES}"


def test_option_lengths_do_not_give_the_answer_away() -> None:
    problems = length_problems(SHAPES)
    assert not problems, "\n".join(problems)


def test_the_right_options_position_is_spread_evenly() -> None:
    problems = position_problems(SHAPES)
    assert not problems, "\n".join(problems)


def test_no_feedback_starts_with_a_verdict() -> None:
    found = verdict_feedback()
    assert not found, (
        f"{len(found)} feedback text(s) start with a verdict; the widget already says "
        "'Correct:' or 'Not quite:', so start with the reason instead:\n" + "\n".join(found)
    )


# --- the measures themselves can fail ---------------------------------------------------------


def shapes(*rows: tuple[tuple[int, ...], int]) -> list[Shape]:
    return [Shape(f"q{i}", lengths, answer) for i, (lengths, answer) in enumerate(rows)]


def test_a_set_where_the_longest_option_wins_is_caught() -> None:
    guessable = shapes(*[((40, 60, 45), 1)] * 6, ((50, 40, 45), 2), ((30, 40, 45), 0))
    problems = length_problems(guessable)
    assert len(problems) == 1 and "longest (ties included) in 6 of 8 questions (75%" in problems[0]


def test_a_tie_for_longest_counts_as_longest() -> None:
    assert Shape("q", (50, 50, 40), 0).longest and Shape("q", (50, 50, 40), 1).longest
    assert not Shape("q", (50, 50, 40), 2).longest and Shape("q", (50, 50, 40), 2).shortest


def test_a_set_where_the_answer_is_always_in_the_middle_of_the_lengths_is_caught() -> None:
    problems = length_problems(shapes(*[((40, 50, 60), 1)] * 9))
    assert len(problems) == 1 and "neither longest nor shortest in 9 of 9" in problems[0]


def test_a_set_where_the_answer_is_usually_b_is_caught() -> None:
    # 24 of 38 at B: the three-option questions of lessons 01-12 before issue 15.
    answers = [0] * 5 + [1] * 24 + [2] * 9
    problems = position_problems(shapes(*[((50, 50, 50), a) for a in answers]))
    assert len(problems) == 1 and "[5, 24, 9]" in problems[0] and "63%" in problems[0]


def test_a_fair_spread_passes_and_small_groups_are_not_judged() -> None:
    fair = [((50, 50, 50), a % 3) for a in range(30)] + [((5, 5, 5, 5, 5), 0)] * 9
    assert position_problems(shapes(*fair)) == []  # 9 five-option questions: under 2 * 5


@pytest.mark.parametrize(
    ("observed", "expected"),
    # closed forms: 2 degrees of freedom exp(-x/2); 3: erfc(sqrt(x/2)) + sqrt(2x/pi) exp(-x/2)
    [
        ([10, 10, 10], 1.0),
        ([5, 24, 9], 0.000363),
        ([13, 13, 14], 0.97531),
        ([2, 5, 10, 0], 0.003932),
    ],
)
def test_chi_square_p_matches_known_values(observed: list[int], expected: float) -> None:
    assert chi_square_p(observed) == pytest.approx(expected, rel=0.01, abs=1e-6)


@pytest.mark.parametrize(
    "feedback",
    [
        "Right: it starts",
        "Correct. The",
        "Yes, the",
        "No: the",
        "Not quite. A",
        "Exactly!",
        "Wrong",
    ],
)
def test_verdict_words_are_recognised(feedback: str) -> None:
    assert _VERDICT.match(feedback)


@pytest.mark.parametrize(
    "feedback",
    [
        "No change means no record.",
        "Exactly one record is written.",
        "Nothing was lost.",
        "True to its name, ...",
        "Rightly or not, ...",
    ],
)
def test_ordinary_sentences_are_not_verdicts(feedback: str) -> None:
    assert not _VERDICT.match(feedback)

"""Exercise feedback points at the difference: Expected and Got in the same order and shape, the
differing rows and fields marked, a caption saying what Expected is, pass/FAIL in colour with a
text form for a terminal and nbval, and hints in two stages (a nudge, then the answer on request).

The results here are built by hand (no DynamoDB), so each test names exactly what a learner
sees; the last tests run real cases on DynamoDB Local.
"""

from __future__ import annotations

import html
import importlib.util
import json
import re
from pathlib import Path
from typing import Any

import pytest

import labkit
from labkit.teach._check import CheckResult, Exercise, _run_case, load_exercise
from labkit.teach._display import FAIL_BADGE, PASS_BADGE
from labkit.teach._feedback import sections

ANSWERS = Path(__file__).resolve().parent / "exercise_answers"

TOTALS = {
    "id": "t-feedback",
    "title": "Totals per customer",
    "kind": "handler",
    "tables": {"totals": {"key": "customer"}},
    "cases": [
        {
            "name": "two customers",
            "writes": [{"put": {"pk": "o1", "customer": "alice", "total": 5}}],
            "expect": {
                "totals": [
                    {"revenue": 30, "customer": "bob", "order_count": 1},
                    {"order_count": 1, "customer": "alice", "revenue": 45},
                ],
                "delivered": [["INSERT", "o1"], ["INSERT", "o2"], ["INSERT", "o3"]],
                "failed_invocations": 0,
            },
            "hint": {
                "nudge": "What did the old version of the order contribute?",
                "answer": "subtract the OldImage's total before adding the NewImage's",
            },
        },
        {
            "name": "a plain hint",
            "writes": [{"put": {"pk": "o1"}}],
            "expect": {"totals": []},
            "hint": "write nothing for this one",
        },
    ],
}


@pytest.fixture
def exercise() -> Exercise:
    return Exercise.from_dict(TOTALS, "t-feedback.json")


def _failing(exercise: Exercise) -> CheckResult:
    """Case 1 got alice's revenue wrong, carl extra, bob missing, and one record delivered twice;
    case 2 passed."""
    case, plain = exercise.cases
    got = {
        "totals": [
            {"customer": "alice", "order_count": 1, "revenue": 75},
            {"customer": "carl", "order_count": 1, "revenue": 10},
        ],
        "delivered": [["INSERT", "o1"], ["INSERT", "o2"], ["INSERT", "o1"], ["INSERT", "o3"]],
        "failed_invocations": 1,
    }
    expected = {
        "totals": sorted(case.expect["totals"], key=lambda i: i["customer"]),
        "delivered": case.expect["delivered"],
        "failed_invocations": 0,
    }
    return CheckResult(
        exercise,
        (
            case.result(False, expected, got),
            plain.result(True, {"totals": []}, {"totals": []}),
        ),
    )


def _untagged(text: str) -> str:
    return html.unescape(re.sub(r"<[^>]+>", "", text)).replace("\xa0", " ")


# -- same order and shape, the difference marked ------------------------------------------------
def test_items_are_aligned_by_key_with_the_attributes_in_one_order(exercise):
    totals = sections(exercise, _failing(exercise).results[0])[0]
    assert totals.caption == "the totals table after the case, by key"
    assert totals.columns == ("customer", "order_count", "revenue")  # the key first
    assert [(r.status, r.expected, r.got) for r in totals.rows] == [
        ("differs", ('"alice"', "1", "45"), ('"alice"', "1", "75")),
        ("missing", ('"bob"', "1", "30"), None),
        ("extra", None, ('"carl"', "1", "10")),
    ]
    assert totals.rows[0].differs == {2}
    assert totals.rows[0].note(totals.columns) == "≠ revenue"
    assert not totals.same


def test_one_extra_record_is_one_extra_row_not_a_shifted_list(exercise):
    _, delivered, _ = sections(exercise, _failing(exercise).results[0])
    assert delivered.caption.startswith("every record the function was given, in order")
    assert delivered.columns == ("eventName", "pk")
    assert [r.status for r in delivered.rows] == ["same", "same", "extra", "same"]
    assert delivered.rows[2].got == ("INSERT", "o1")


def test_a_count_and_the_order_of_sections_follow_the_exercise(exercise):
    names = [s.caption for s in sections(exercise, _failing(exercise).results[0])]
    assert names == [
        "the totals table after the case, by key",
        "every record the function was given, in order (retries included)",
        "how many invocations failed",
    ]
    count = sections(exercise, _failing(exercise).results[0])[2]
    assert (count.rows[0].expected, count.rows[0].got, count.rows[0].status) == (
        ("0",),
        ("1",),
        "differs",
    )


def test_what_the_answer_raised_comes_first(exercise):
    case = exercise.cases[1]
    raised = case.result(False, {"totals": []}, {"totals": [], "error": "your handler raised X"})
    first, totals = sections(exercise, raised)
    assert (first.kind, first.message) == ("message", "your handler raised X")
    assert totals.same
    refused = case.result(False, {"totals": []}, "refused: bad filter")
    assert [s.kind for s in sections(exercise, refused)] == ["message", "items"]


def test_expected_and_got_print_in_the_same_order(exercise):
    """The table's JSON: a passing case's Expected and Got are the same text, character for
    character (Expected used to have its keys sorted, Got in insertion order)."""
    case = exercise.cases[0]
    items = sorted(case.expect["totals"], key=lambda i: i["customer"])
    same = {"totals": items, "delivered": case.expect["delivered"], "failed_invocations": 0}
    got = {"totals": [dict(reversed(list(i.items()))) for i in items], **same}
    got["totals"] = [dict(reversed(list(i.items()))) for i in items]
    result = CheckResult(exercise, (case.result(True, same, got),))
    row = result.table().iloc[0]
    assert json.loads(row["Expected"]) == json.loads(row["Got"])
    shown = sections(exercise, result.results[0])[0]
    assert all(r.expected == r.got for r in shown.rows)


# -- HTML -----------------------------------------------------------------------------------------
def test_html_colours_the_verdict_and_highlights_the_differing_cells(exercise):
    page = _failing(exercise)._repr_html_()
    assert f'<span style="{FAIL_BADGE}">✘ 1 of 2 cases fail</span>' in page
    assert "<b>Expected</b>: the totals table after the case, by key" in page
    alice = next(r for r in re.findall(r"<tr>.*?</tr>", page) if "alice" in r)
    cells = re.findall(r'<td style="([^"]*)"[^>]*>(.*?)</td>', alice)
    marked = [html.unescape(text) for style, text in cells if "background-color" in style]
    assert marked == ["45", "75"]  # only revenue, on both sides
    assert "(missing)" in page and "(not expected)" in page
    # the passing case folds to one line, its detail one click away
    assert re.search(r"<details[^>]*><summary[^>]*>.*✔ pass.*2\. a plain hint", page)


def test_html_shows_the_nudge_and_folds_the_answer(exercise):
    page = _failing(exercise)._repr_html_()
    nudge = "What did the old version of the order contribute?"
    answer = "subtract the OldImage&#x27;s total before adding the NewImage&#x27;s"
    folded = re.search(
        r"<details[^>]*><summary[^>]*>Show the answer</summary>(.*?)</details>", page
    )
    assert folded is not None and answer in folded.group(1)
    assert nudge in page.replace(folded.group(0), "")  # the nudge is outside the fold
    assert answer not in page.replace(folded.group(0), "")  # the answer only inside it


def test_a_plain_hint_has_nothing_to_fold(exercise):
    case = exercise.cases[1]
    result = CheckResult(
        exercise, (case.result(False, {"totals": []}, {"totals": [{"customer": "x"}]}),)
    )
    page = result._repr_html_()
    assert "Show the answer" not in page and "write nothing for this one" in page
    assert result.answer(1) == "(no separate answer: the hint is it) write nothing for this one"


def test_a_passing_check_is_green():
    exercise = Exercise.from_dict({**TOTALS, "cases": TOTALS["cases"][1:]}, "t.json")
    result = CheckResult(
        exercise, (exercise.cases[0].result(True, {"totals": []}, {"totals": []}),)
    )
    assert f'<span style="{PASS_BADGE}">✔ 1 case pass</span>' in result._repr_html_()
    assert repr(result).splitlines() == [
        "Totals per customer: 1/1 cases pass (all cases pass).",
        "✔ pass  1. a plain hint",
    ]


# -- text -----------------------------------------------------------------------------------------
def test_the_text_form_reads_in_a_terminal(exercise):
    text = repr(_failing(exercise))
    assert text == repr(_failing(exercise))  # deterministic, for nbval
    lines = text.splitlines()
    assert lines[0] == "Totals per customer: 1/2 cases pass (some cases fail: read the hints)."
    assert lines[1] == "✘ FAIL  1. two customers"
    assert lines[-1] == "✔ pass  2. a plain hint"
    block = "\n".join(lines)
    assert "        Expected: the totals table after the case, by key (differs)" in block
    assert re.search(r"expected +\"alice\" +1 +45", block)
    assert re.search(r"got +\"alice\" +1 +75 +≠ revenue", block)
    assert re.search(r"got +\(no item\) +missing", block)
    assert re.search(r"\+ +\(none\) +INSERT +o1 +extra", block)
    assert "expected 0, got 1   ≠" in block
    assert "        Hint: What did the old version of the order contribute?" in lines
    assert "        The answer is folded: .answer(1) on this result shows it." in lines
    assert "subtract the OldImage" not in text  # the answer is not given away in the text
    assert max(len(line) for line in lines) <= 100


def test_the_answer_is_asked_for_by_number_or_name(exercise):
    result = _failing(exercise)
    answer = "subtract the OldImage's total before adding the NewImage's"
    assert result.answer(1) == result.answer("two customers") == answer
    with pytest.raises(labkit.QuizError) as caught:
        result.answer(3)
    assert "from 1 to 2" in str(caught.value)


# -- hints in two stages --------------------------------------------------------------------------
def test_a_hint_is_a_text_or_a_nudge_with_an_answer(exercise):
    staged, plain = exercise.cases
    assert (staged.hint, staged.answer) == (
        "What did the old version of the order contribute?",
        "subtract the OldImage's total before adding the NewImage's",
    )
    assert (plain.hint, plain.answer) == ("write nothing for this one", "")


@pytest.mark.parametrize(
    "hint",
    [{"answer": "only an answer"}, {"nudge": ""}, {"nudge": "n", "more": "x"}, 3, ""],
    ids=["no-nudge", "empty-nudge", "unknown-key", "number", "empty"],
)
def test_a_malformed_hint_is_a_clear_error(hint):
    bad = {**TOTALS, "cases": [{**TOTALS["cases"][1], "hint": hint}]}
    with pytest.raises(labkit.QuizError) as caught:
        Exercise.from_dict(bad, "bad.json")
    assert '{"nudge": text, "answer": text}' in str(caught.value)


def test_exercises_with_staged_hints_load():
    staged = [c for c in load_exercise("08-report-the-poison").cases if c.answer]
    assert len(staged) == 3 and all(c.hint != c.answer for c in staged)


# -- real cases -----------------------------------------------------------------------------------
def _totals_handler() -> Any:
    def make_handler(totals: Any) -> Any:
        def handler(event: dict[str, Any], context: Any) -> None:
            for record in event["Records"]:
                image = record["dynamodb"]["NewImage"]
                totals.put_item(Item={"customer": image["customer"]["S"], "n": 1})

        return handler

    return make_handler


def test_a_table_expected_in_another_order_still_passes(lab):
    """A table has no order: the items are compared, and shown, by key."""
    spec = {
        **TOTALS,
        "cases": [
            {
                "name": "two customers",
                "writes": [
                    {"put": {"pk": "o1", "customer": "alice"}},
                    {"put": {"pk": "o2", "customer": "bob"}},
                ],
                "expect": {
                    "totals": [{"n": 1, "customer": "bob"}, {"customer": "alice", "n": 1}],
                    "failed_invocations": 0,
                },
                "hint": "h",
            }
        ],
    }
    exercise = Exercise.from_dict(spec, "order.json")
    result = _run_case(lab, exercise, _totals_handler(), exercise.cases[0])
    assert result.passed, result
    assert list(result.expected) == ["totals", "failed_invocations"]  # the exercise's order
    assert [i["customer"] for i in result.expected["totals"]] == ["alice", "bob"]
    assert result.expected == result.got
    shown = CheckResult(exercise, (result,))
    row = shown.table().iloc[0]
    assert row["Expected"] == row["Got"]  # the same text, key for key


def test_lesson_08s_wrong_answer_shows_one_extra_record(lab, tmp_path):
    """The issue's example: reporting the eventID instead of the sequence number retries one
    record too many, one extra ["INSERT", "o1"] in a list of six."""
    spec = importlib.util.spec_from_file_location("ex08", ANSWERS / "ex08_report_the_poison.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    (tmp_path / "poison_wrong.py").write_text(module.WRONG)
    result = labkit.check("08-report-the-poison", "poison_wrong.handler", lab=lab, code=tmp_path)
    failed = next(r for r in result.results if r.name == module.FAILING_CASE)
    table, delivered, count = sections(result.exercise, failed)
    assert table.same and count.same  # the table and the count are right ...
    assert [r.status for r in delivered.rows].count("extra") == 1  # ... one record is not
    assert [r.got for r in delivered.rows if r.status == "extra"] == [("INSERT", "o1")]
    assert all(r.status == "same" for r in delivered.rows if r.status != "extra")
    text = repr(result)
    assert "every record the function was given, in order" in text and "extra" in text

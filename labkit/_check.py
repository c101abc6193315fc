"""Exercise checks: run a learner's answer against cases on DynamoDB Local, and show the result.

An exercise is data, in ``notebooks/exercises/<id>.json`` (format in
``notebooks/exercises/README.md``): a kind, and cases of writes with what must come out. Two
kinds, both run through a real trigger on fresh tables:

* ``transform``: the learner writes ``transform(record)``, which gets one Lambda-shaped stream
  record and returns the item to write to the target table, or ``None`` to write nothing;
  ``expect`` is the target table afterwards.
* ``filter``: the learner writes ``filter_criteria`` (Lambda's event filtering);
  ``expect`` is the list of ``[eventName, pk]`` the handler received.

``lk.check(id, answer)`` returns a ``CheckResult`` that renders as a pass/fail table with a hint
for each failing case; ``result.passed`` is what a test asserts.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

from boto3.dynamodb.types import TypeDeserializer

from ._display import LabTable, lab_table
from ._errors import LabError, QuizError
from ._lab import Lab, start

__all__ = ["CaseResult", "CheckResult", "Exercise", "check", "load_exercise"]

EXERCISES = Path(__file__).resolve().parents[1] / "notebooks" / "exercises"
_KINDS = ("transform", "filter")
_OPS = ("put", "update", "delete")


def _plain(value: Any) -> Any:
    """Python values for comparison and display: Decimal to int/float, recursively."""
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in sorted(value.items())}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if isinstance(value, set):
        return sorted(_plain(v) for v in value)
    return value


def _dynamo(value: Any) -> Any:
    """JSON values to what boto3 accepts (floats become Decimal)."""
    return json.loads(json.dumps(value), parse_float=Decimal)


@dataclass(frozen=True)
class Case:
    name: str
    writes: tuple[dict[str, Any], ...]
    expect: Any
    hint: str


@dataclass(frozen=True)
class Exercise:
    """One exercise: its id, title, kind and cases.

    Introduced in notebooks/01-stream-processing-flow.ipynb.
    """

    id: str
    title: str
    kind: str
    cases: tuple[Case, ...]
    source: str = "<dict>"

    @classmethod
    def from_dict(cls, data: Any, source: str = "<dict>") -> Exercise:
        def bad(problem: str) -> QuizError:
            return QuizError(
                f"{source}: {problem}",
                "follow the format in notebooks/exercises/README.md (id, title, kind, cases "
                "of name, writes, expect, hint).",
            )

        if not isinstance(data, dict):
            raise bad("an exercise file holds one JSON object")
        for key in ("id", "title", "kind", "cases"):
            if key not in data:
                raise bad(f"the key {key!r} is missing")
        if data["kind"] not in _KINDS:
            raise bad(f"kind {data['kind']!r} is not one of {', '.join(_KINDS)}")
        if not isinstance(data["cases"], list) or not data["cases"]:
            raise bad("cases must be a non-empty list")
        cases = []
        for i, raw in enumerate(data["cases"]):
            if not isinstance(raw, dict) or set(raw) != {"name", "writes", "expect", "hint"}:
                raise bad(f"cases[{i}] must have exactly name, writes, expect and hint")
            for w in raw["writes"]:
                if not isinstance(w, dict) or len(w) != 1 or next(iter(w)) not in _OPS:
                    raise bad(f"cases[{i}] write {w!r} is not one of {{put|update|delete: ...}}")
            cases.append(Case(raw["name"], tuple(raw["writes"]), raw["expect"], raw["hint"]))
        return cls(data["id"], data["title"], data["kind"], tuple(cases), source)


def load_exercise(exercise_id: str) -> Exercise:
    """Load ``notebooks/exercises/<exercise_id>.json``."""
    if not isinstance(exercise_id, str):
        raise QuizError(
            f"lk.check() needs an exercise id, not {exercise_id!r}.",
            'pass the id shown in the lesson, like lk.check("04-keep-new-orders", answer).',
        )
    path = EXERCISES / f"{exercise_id}.json"
    if not path.is_file():
        known = sorted(p.stem for p in EXERCISES.glob("*.json"))
        raise QuizError(
            f"There is no exercise {exercise_id!r} (looked for {path}).",
            f"use one of: {', '.join(known) or '(none yet)'}.",
        )
    try:
        data = json.loads(path.read_text())
    except ValueError as exc:
        raise QuizError(f"{path} is not valid JSON ({exc}).", "fix the file's JSON.") from exc
    return Exercise.from_dict(data, str(path))


@dataclass(frozen=True)
class CaseResult:
    name: str
    passed: bool
    expected: Any
    got: Any
    hint: str


@dataclass(frozen=True)
class CheckResult:
    """What a check found: one row per case. Renders as a table; ``passed`` for tests.

    Introduced in notebooks/01-stream-processing-flow.ipynb.
    """

    exercise: Exercise
    results: tuple[CaseResult, ...]

    @property
    def passed(self) -> bool:
        return all(r.passed for r in self.results)

    def table(self) -> LabTable:
        rows = [
            {
                "Case": r.name,
                "Result": "pass" if r.passed else "FAIL",
                "Expected": json.dumps(r.expected),
                "Got": json.dumps(r.got),
                "Hint": "" if r.passed else r.hint,
            }
            for r in self.results
        ]
        return lab_table(rows, ["Case", "Result", "Expected", "Got", "Hint"])

    def summary(self) -> str:
        good = sum(r.passed for r in self.results)
        verdict = "all cases pass" if self.passed else "some cases fail: read the hints"
        return f"{self.exercise.title}: {good}/{len(self.results)} cases pass ({verdict})."

    def _repr_html_(self) -> str:
        return f"<p><b>{self.summary()}</b></p>" + self.table()._repr_html_()

    def __repr__(self) -> str:
        return self.summary() + "\n" + repr(self.table())


def _apply(table: Any, write: dict[str, Any]) -> None:
    ((op, arg),) = write.items()
    if op == "put":
        table.put_item(Item=_dynamo(arg))
    elif op == "delete":
        table.delete_item(Key=_dynamo(arg))
    else:
        names = {f"#a{i}": k for i, k in enumerate(arg["set"])}
        values = {f":v{i}": v for i, v in enumerate(_dynamo(arg["set"]).values())}
        table.update_item(
            Key=_dynamo(arg["key"]),
            UpdateExpression="SET " + ", ".join(f"#a{i} = :v{i}" for i in range(len(names))),
            ExpressionAttributeNames=names,
            ExpressionAttributeValues=values,
        )


def _run_case(lab: Lab, exercise: Exercise, answer: Any, case: Case) -> CaseResult:
    run = uuid.uuid4().hex[:8]
    source = lab.create_table(f"check-{run}-source")
    target = lab.create_table(f"check-{run}-target", stream=None)
    got: Any
    try:
        if exercise.kind == "transform":
            des = TypeDeserializer()

            def handler(event: dict[str, Any], context: Any) -> None:
                for record in event["Records"]:
                    item = answer(record)
                    if item is not None:
                        target.put_item(Item=_dynamo(_plain(item)))

            trigger = lab.trigger(source.table_name, handler, function_name="check")
        else:
            seen: list[list[str]] = []
            des = TypeDeserializer()

            def handler(event: dict[str, Any], context: Any) -> None:
                for r in event["Records"]:
                    pk = des.deserialize(r["dynamodb"]["Keys"]["pk"])
                    seen.append([r["eventName"], pk])

            trigger = lab.trigger(
                source.table_name, handler, filter_criteria=answer, function_name="check"
            )
        for write in case.writes:
            _apply(source, write)
        invocations = trigger.run_until_idle()
        failed = [i for i in invocations if not i.ok]
        if failed:
            got = f"your code raised {failed[0].error}"
        elif exercise.kind == "transform":
            got = [_plain(i) for i in lab.items(target.table_name)]
        else:
            got = seen
        expected = _plain(case.expect)
        return CaseResult(case.name, got == expected, expected, got, case.hint)
    finally:
        lab.delete_table(source.table_name)
        lab.delete_table(target.table_name)


def check(
    exercise_id: str,
    answer: Callable[[dict[str, Any]], Any] | dict[str, Any],
    *,
    lab: Lab | None = None,
) -> CheckResult:
    """Run ``answer`` against the exercise's cases on DynamoDB Local; show what passed.

    ``answer`` is a ``transform(record)`` function or a ``filter_criteria`` dict, as the
    exercise says.

    Introduced in notebooks/01-stream-processing-flow.ipynb.
    """
    exercise = load_exercise(exercise_id)
    if exercise.kind == "transform" and not callable(answer):
        raise QuizError(
            f"Exercise {exercise.id!r} checks a function transform(record); got {answer!r}.",
            "define `def transform(record): ...` and pass it: lk.check(id, transform).",
        )
    lab = lab or start()
    results = []
    for case in exercise.cases:
        try:
            results.append(_run_case(lab, exercise, answer, case))
        except LabError as exc:  # a filter Lambda would reject, say
            results.append(
                CaseResult(case.name, False, _plain(case.expect), f"refused: {exc.what}", case.hint)
            )
    return CheckResult(exercise, tuple(results))

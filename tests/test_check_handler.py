"""The `handler` exercise kind and the options every kind may declare: declared and seeded
tables, trigger options, `delivered` and `failed_invocations` expectations, and redelivery.

Each check runs on the real DynamoDB Local; the answers here are written to pass or to fail in a
known way, so each assertion could fail if the check computed the wrong thing.
"""

from __future__ import annotations

from typing import Any

import pytest
from boto3.dynamodb.types import TypeDeserializer

import labkit
from labkit.teach._check import Exercise, _run_case

_des = TypeDeserializer()


def _image(record: dict[str, Any], which: str) -> dict[str, Any]:
    return {k: _des.deserialize(v) for k, v in record["dynamodb"].get(which, {}).items()}


TOTALS = {
    "id": "t-totals",
    "title": "Totals per customer",
    "kind": "handler",
    "tables": {
        "totals": {"key": "customer"},
        "customers": {"key": "customer", "items": [{"customer": "c1", "tier": "gold"}]},
    },
    "trigger": {"batch_size": 10},
    "cases": [
        {
            "name": "an insert then an ADD update",
            "writes": [
                {"put": {"pk": "o1", "customer": "c1", "total": 5}},
                {"update": {"key": {"pk": "o1"}, "add": {"total": 2}, "set": {"s": "paid"}}},
            ],
            "expect": {
                "totals": [{"customer": "c1", "tier": "gold", "total": 7}],
                "delivered": [["INSERT", "o1"], ["MODIFY", "o1"]],
            },
            "hint": "add new total minus old total",
        },
        {
            "name": "a redelivered batch",
            "redeliver": True,
            "writes": [{"put": {"pk": "o2", "customer": "c1", "total": 5}}],
            "expect": {"totals": [{"customer": "c1", "tier": "gold", "total": 5}]},
            "hint": "remember which records you have counted",
        },
    ],
}


def delta_totals(totals: Any, customers: Any) -> Any:
    """Adds new-minus-old totals per customer, copying the customer's tier (an enrichment)."""

    def handler(event: dict[str, Any], context: Any) -> None:
        for r in event["Records"]:
            old, new = _image(r, "OldImage"), _image(r, "NewImage")
            customer = (new or old)["customer"]
            tier = customers.get_item(Key={"customer": customer})["Item"]["tier"]
            totals.update_item(
                Key={"customer": customer},
                UpdateExpression="ADD #t :d SET tier = :tier",
                ExpressionAttributeNames={"#t": "total"},
                ExpressionAttributeValues={
                    ":d": new.get("total", 0) - old.get("total", 0),
                    ":tier": tier,
                },
            )

    return handler


def once_only(totals: Any, customers: Any) -> Any:
    """The same, but a record already counted (by sequence number) is skipped."""
    inner = delta_totals(totals, customers)
    seen: set[str] = set()

    def handler(event: dict[str, Any], context: Any) -> None:
        fresh = [r for r in event["Records"] if r["dynamodb"]["SequenceNumber"] not in seen]
        seen.update(r["dynamodb"]["SequenceNumber"] for r in fresh)
        inner({"Records": fresh}, context)

    return handler


@pytest.fixture(scope="module")
def totals() -> Exercise:
    return Exercise.from_dict(TOTALS, "totals.json")


def test_a_handler_exercise_passes_with_seeded_tables_and_delivered_records(lab, totals):
    result = _run_case(lab, totals, once_only, totals.cases[0])
    assert result.passed, result
    assert result.got["delivered"] == [["INSERT", "o1"], ["MODIFY", "o1"]]


def test_redelivery_counts_twice_unless_the_handler_is_idempotent(lab, totals):
    naive = _run_case(lab, totals, delta_totals, totals.cases[1])
    assert not naive.passed
    assert naive.got["totals"] == [{"customer": "c1", "tier": "gold", "total": 10}]
    assert _run_case(lab, totals, once_only, totals.cases[1]).passed


def test_a_failing_handler_shows_its_error_unless_failures_are_expected(lab):
    spec = {
        **TOTALS,
        "trigger": {"maximum_retry_attempts": 1},
        "cases": [
            {
                "name": "fails",
                "writes": [{"put": {"pk": "o1", "customer": "c1", "total": 1}}],
                "expect": {"totals": []},
                "hint": "h",
            },
            {
                "name": "fails as expected",
                "writes": [{"put": {"pk": "o1", "customer": "c1", "total": 1}}],
                "expect": {"totals": [], "failed_invocations": 2},
                "hint": "h",
            },
        ],
    }
    exercise = Exercise.from_dict(spec, "fails.json")

    def broken(totals: Any, customers: Any) -> Any:
        def handler(event: dict[str, Any], context: Any) -> None:
            raise ValueError("boom")

        return handler

    first = _run_case(lab, exercise, broken, exercise.cases[0])
    assert not first.passed and "boom" in first.got["error"]
    second = _run_case(lab, exercise, broken, exercise.cases[1])  # first try and one retry
    assert second.passed, second


def test_an_on_failure_destination_names_a_declared_table(lab):
    spec = {
        "id": "t-dest",
        "title": "Failures go to a table",
        "kind": "handler",
        "tables": {"failures": {"key": "pk"}},
        "trigger": {
            "batch_size": 1,
            "maximum_retry_attempts": 0,
            "destination_config": {"OnFailure": {"Destination": "failures"}},
        },
        "cases": [
            {
                "name": "poison",
                "writes": [{"put": {"pk": "o1"}}, {"put": {"pk": "o2"}}],
                "expect": {
                    "failed_invocations": 1,
                    "delivered": [["INSERT", "o1"], ["INSERT", "o2"]],
                    "discarded": [["INSERT", "o1"]],
                },
                "hint": "h",
            }
        ],
    }
    exercise = Exercise.from_dict(spec, "dest.json")
    stored: list[list[Any]] = []

    def poison(failures: Any) -> Any:
        def handler(event: dict[str, Any], context: Any) -> None:
            if event["Records"][0]["dynamodb"]["Keys"]["pk"]["S"] == "o1":
                raise RuntimeError("poison")
            stored.append(failures.scan()["Items"])  # o1's document is there by now

        return handler

    result = _run_case(lab, exercise, poison, exercise.cases[0])
    assert result.passed, result
    assert len(stored[0]) == 1 and "DDBStreamBatchInfo" in str(stored[0][0])


def test_a_keys_only_source_and_a_remove_write(lab):
    spec = {
        "id": "t-keys",
        "title": "Keys only",
        "kind": "filter",
        "source": {"stream": "KEYS_ONLY"},
        "cases": [
            {
                "name": "removals only",
                "writes": [
                    {"put": {"pk": "a", "x": 1}},
                    {"update": {"key": {"pk": "a"}, "remove": ["x"]}},
                    {"delete": {"pk": "a"}},
                ],
                "expect": [["REMOVE", "a"]],
                "hint": "h",
            }
        ],
    }
    exercise = Exercise.from_dict(spec, "keys.json")
    answer = {"Filters": [{"Pattern": '{"eventName": ["REMOVE"]}'}]}
    assert _run_case(lab, exercise, answer, exercise.cases[0]).passed
    everything = _run_case(lab, exercise, {"Filters": []}, exercise.cases[0])
    assert everything.got == [["INSERT", "a"], ["MODIFY", "a"], ["REMOVE", "a"]]


@pytest.mark.parametrize(
    ("change", "problem"),
    [
        ({"tables": {"t": {"key": "pk"}}, "kind": "filter"}, "only a handler exercise"),
        ({"extra": 1}, "unknown key"),
        ({"tables": {"t": {"keys": "pk"}}}, "tables.t must be an object"),
    ],
)
def test_malformed_declarations_are_clear_errors(change, problem):
    with pytest.raises(labkit.QuizError) as caught:
        Exercise.from_dict({**TOTALS, **change}, "bad.json")
    assert problem in str(caught.value) and "Fix:" in str(caught.value)


def test_a_case_expecting_an_undeclared_table_is_refused():
    case = {**TOTALS["cases"][0], "expect": {"nope": []}}
    with pytest.raises(labkit.QuizError) as caught:
        Exercise.from_dict({**TOTALS, "cases": [case]}, "bad.json")
    assert "'nope'" in str(caught.value)


def test_make_handler_must_return_a_handler(lab, totals):
    with pytest.raises(labkit.QuizError) as caught:
        _run_case(lab, totals, lambda totals, customers: None, totals.cases[0])
    assert "return handler" in str(caught.value)
    with pytest.raises(labkit.QuizError) as caught:
        _run_case(lab, totals, lambda target: None, totals.cases[0])
    assert "make_handler(totals, customers)" in str(caught.value)
    assert lab.dynamodb.list_tables()["TableNames"] == [
        t for t in lab.dynamodb.list_tables()["TableNames"] if not t.startswith("check-")
    ]


def test_redeliver_calls_the_handler_again_with_the_same_records(lab, table_name):
    name = table_name("src")
    source = lab.create_table(name)
    calls: list[list[str]] = []

    def handler(event: dict[str, Any], context: Any) -> None:
        calls.append([r["dynamodb"]["SequenceNumber"] for r in event["Records"]])

    trigger = lab.trigger(name, handler)
    source.put_item(Item={"pk": "a"})
    (first,) = trigger.run_until_idle()
    again = trigger.redeliver(first)
    assert again.ok and again.notes == ("redelivered",) and again.number == 2
    assert calls[0] == calls[1] == first.sequence_numbers
    assert trigger.run_until_idle() == []  # the checkpoint did not move back
    with pytest.raises(labkit.TriggerError):
        trigger.redeliver("not an invocation")  # type: ignore[arg-type]


def test_a_typed_sort_key_and_the_source_table_can_be_expected(lab):
    spec = {
        "id": "t-typed",
        "title": "Typed sort key",
        "kind": "handler",
        "source": {"key": "pk", "sort_key": ["version", "N"]},
        "tables": {"latest": {"key": "pk"}},
        "cases": [
            {
                "name": "two versions",
                "writes": [{"put": {"pk": "a", "version": 1}}, {"put": {"pk": "a", "version": 2}}],
                "expect": {
                    "delivered": [["INSERT", "a", 1], ["INSERT", "a", 2]],
                    "source": [{"pk": "a", "version": 1}, {"pk": "a", "version": 2}],
                    "latest": [],
                },
                "hint": "h",
            }
        ],
    }
    exercise = Exercise.from_dict(spec, "typed.json")

    def make_handler(latest: Any) -> Any:
        def handler(event: dict[str, Any], context: Any) -> None:
            return None

        return handler

    result = _run_case(lab, exercise, make_handler, exercise.cases[0])
    assert result.passed, result


def test_a_check_leaves_no_trigger_or_lane_thread_behind(lab):
    import threading

    spec = {**TOTALS, "trigger": {"parallelization_factor": 3}}
    exercise = Exercise.from_dict(spec, "lanes.json")
    before = len(lab.triggers)
    result = _run_case(lab, exercise, once_only, exercise.cases[0])
    assert result.passed, result
    assert len(lab.triggers) == before
    assert not [t for t in threading.enumerate() if t.name.startswith("labkit-lane")]

"""The ``iterator`` exercise kind (lesson 03): a learner's resume_iterator is run on a real shard
and what it reads is compared per case."""

from __future__ import annotations

from typing import Any

import pytest

import labkit
from labkit.teach._check import Exercise, _plain, _run_case

_EXERCISE = {
    "id": "t-iter",
    "title": "t",
    "kind": "iterator",
    "cases": [
        {
            "name": "after the 1st",
            "writes": [{"put": {"pk": "a"}}, {"put": {"pk": "b"}}],
            "checkpoint": 1,
            "expect": [["INSERT", "b"]],
            "hint": "h",
        }
    ],
}


def _iterator(kind: str) -> Any:
    def resume(streams: Any, arn: str, shard_id: str, checkpoint: str | None) -> str:
        kwargs: dict[str, Any] = {"StreamArn": arn, "ShardId": shard_id, "ShardIteratorType": kind}
        if kind.endswith("SEQUENCE_NUMBER"):
            kwargs["SequenceNumber"] = checkpoint
        return str(streams.get_shard_iterator(**kwargs)["ShardIterator"])

    return resume


def test_the_checkpoint_is_the_nth_records_sequence_number(lab):
    seen: list[str | None] = []

    def spy(streams: Any, arn: str, shard_id: str, checkpoint: str | None) -> str:
        seen.append(checkpoint)
        return _iterator("AFTER_SEQUENCE_NUMBER")(streams, arn, shard_id, checkpoint)

    exercise = Exercise.from_dict(_EXERCISE)
    result = _run_case(lab, exercise, spy, exercise.cases[0])
    assert result.passed, result
    # a real sequence number of the shard, as DynamoDB gives it (a numeric string)
    assert seen and seen[0] is not None and seen[0].isdigit()


@pytest.mark.parametrize(
    ("kind", "got"),
    [
        ("AT_SEQUENCE_NUMBER", [["INSERT", "a"], ["INSERT", "b"]]),
        ("TRIM_HORIZON", [["INSERT", "a"], ["INSERT", "b"]]),
        ("LATEST", []),
    ],
)
def test_what_each_iterator_type_reads_is_reported(lab, kind, got):
    exercise = Exercise.from_dict(_EXERCISE)
    result = _run_case(lab, exercise, _iterator(kind), exercise.cases[0])
    assert not result.passed
    assert result.got == _plain(got)


def test_an_error_in_the_answer_is_a_failed_case_not_a_crash(lab):
    def broken(streams: Any, arn: str, shard_id: str, checkpoint: str | None) -> str:
        return "not-an-iterator"

    result = labkit.check("03-resume-after-checkpoint", broken, lab=lab)
    assert not result.passed
    assert all("your code raised" in str(r.got) for r in result.results)


def test_an_iterator_exercise_needs_a_function(lab):
    with pytest.raises(labkit.QuizError) as caught:
        labkit.check("03-resume-after-checkpoint", {"ShardIteratorType": "LATEST"}, lab=lab)
    assert "resume_iterator" in str(caught.value)

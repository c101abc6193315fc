"""When the handler fails: retries, discards and failure documents, bisecting, partial batch
responses, record age, replays, the invocation log, tumbling windows and parallel lanes.

All on a real DynamoDB Local, through ``lab.trigger(...)``. Expectations are those of the AWS
Lambda Developer Guide; each test names the page it follows. Record age and window ends are
driven by the trigger's ``clock`` (a callable giving epoch seconds), never by waiting.
"""

from __future__ import annotations

import re
import threading
import time
from collections import defaultdict
from collections.abc import Callable, Iterator
from typing import Any

import pandas as pd
import pytest
from _esm import (
    created,
    iso,
    iso_epoch,
    ok_records,
    pk,
    pks,
    put_items,
    seq,
    seqs,
    stream_records,
    trigger_factory,
)
from _streamcheck import per_key

import labkit

RBIF = ["ReportBatchItemFailures"]


@pytest.fixture
def make_trigger(lab: labkit.Lab) -> Iterator[Callable[..., labkit.Trigger]]:
    yield from trigger_factory(lab)


def poison_pill(event: dict[str, Any], context: Any) -> None:
    """Fails every batch holding the item "poison"; accepts every other batch."""
    if "poison" in pks(event["Records"]):
        raise ValueError("cannot process poison")


def destination_items(lab: labkit.Lab, name: str) -> list[dict[str, Any]]:
    return lab.items(name)


def without_key(item: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in item.items() if k != "pk"}


# -- maximum_retry_attempts ------------------------------------------------------------------
@pytest.mark.parametrize("retries", [0, 2])
def test_a_poison_record_is_tried_retries_plus_one_times_then_sent_to_the_destination(
    lab, table_name, make_trigger, retries
):
    """Lambda DG, "Retaining discarded records for a DynamoDB event source in Lambda": a failing
    batch is retried until it reaches the retry quota (MaximumRetryAttempts), then "Lambda
    discards the records and continues processing batches from the stream", sending a document
    of the example invocation record's shape (requestContext, responseContext, version,
    timestamp, DDBStreamBatchInfo) to the on-failure destination."""
    name, failures = table_name("orders"), table_name("failures")
    table = lab.create_table(name)
    lab.create_table(failures, stream=None)
    put_items(table, "a", "poison", "c")
    a, poison, c = stream_records(lab, name, 3)
    trigger = make_trigger(
        name,
        poison_pill,
        batch_size=1,
        maximum_retry_attempts=retries,
        destination_config={"OnFailure": {"Destination": failures}},
    )
    invocations = trigger.run_until_idle()

    assert [(pks(i.records), i.ok, i.attempt) for i in invocations] == [
        (["a"], True, 1),
        *[(["poison"], False, n) for n in range(1, retries + 2)],
        (["c"], True, 1),
    ]
    assert seqs(ok_records(invocations)) == [seq(a), seq(c)]  # processing went on after it
    (discard,) = trigger.discards
    assert discard.condition == "RetryAttemptsExhausted"
    assert discard.sequence_numbers == (seq(poison),)
    assert discard.destination == failures
    last_try = invocations[-2]

    document = discard.document
    assert list(document) == [  # in the order of the guide's example and of AWS's recordings
        "requestContext",
        "responseContext",
        "version",
        "timestamp",
        "DDBStreamBatchInfo",
    ]
    assert document["requestContext"]["requestId"] == last_try.request_id
    assert re.fullmatch(
        r"arn:aws:lambda:[a-z0-9-]+:\d{12}:function:poison_pill",
        document["requestContext"]["functionArn"],
    )
    assert document["requestContext"]["condition"] == "RetryAttemptsExhausted"
    assert document["requestContext"]["approximateInvokeCount"] == retries + 1
    assert set(document["requestContext"]) == {
        "requestId",
        "functionArn",
        "condition",
        "approximateInvokeCount",
    }
    assert document["responseContext"] == {
        "statusCode": 200,
        "executedVersion": "$LATEST",
        "functionError": "Unhandled",
    }
    assert document["version"] == "1.0"
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", document["timestamp"])
    assert document["DDBStreamBatchInfo"] == {
        "shardId": last_try.shard_id,
        "startSequenceNumber": seq(poison),
        "endSequenceNumber": seq(poison),
        "approximateArrivalOfFirstRecord": iso(created(poison)),
        "approximateArrivalOfLastRecord": iso(created(poison)),
        "batchSize": 1,
        "streamArn": lab.stream_arn(name),
    }
    # the destination holds that very document, once
    (stored,) = destination_items(lab, failures)
    assert without_key(stored) == document
    assert trigger.run_until_idle() == []  # the poison record is not delivered again


def test_without_a_destination_the_records_are_dropped_after_the_retries(
    lab, table_name, make_trigger
):
    """Lambda DG, "Retaining discarded records for a DynamoDB event source in Lambda": once the
    retries are used up "Lambda discards the records and continues processing batches from the
    stream"; the destination is optional (default none: "Lambda parameters for Amazon DynamoDB
    event source mappings")."""
    name = table_name("orders")
    table = lab.create_table(name)
    put_items(table, "a", "poison", "c")
    _, poison, c = stream_records(lab, name, 3)
    trigger = make_trigger(name, poison_pill, batch_size=1, maximum_retry_attempts=1)
    invocations = trigger.run_until_idle()
    assert [(pks(i.records), i.ok) for i in invocations] == [
        (["a"], True),
        (["poison"], False),
        (["poison"], False),
        (["c"], True),
    ]
    (discard,) = trigger.discards
    assert (discard.condition, discard.sequence_numbers, discard.destination) == (
        "RetryAttemptsExhausted",
        (seq(poison),),
        None,
    )
    (shard,) = trigger.reader.shards.values()
    assert shard.checkpoint == seq(c)
    assert trigger.run_until_idle() == []


def test_unlimited_retries_block_the_shard_until_the_handler_is_fixed(
    lab, table_name, make_trigger
):
    """Lambda DG, "Retaining discarded records for a DynamoDB event source in Lambda": with the
    default settings (MaximumRetryAttempts -1) "a bad record can block processing on the
    affected shard" until it expires; once the function succeeds, processing goes on in order
    ("Using AWS Lambda with Amazon DynamoDB": Lambda retries the batch "until processing
    succeeds")."""
    name = table_name("orders")
    table = lab.create_table(name)
    put_items(table, "a", "poison", "c")
    in_stream = stream_records(lab, name, 3)
    broken = True

    def fragile(event: dict[str, Any], context: Any) -> None:
        if broken and "poison" in pks(event["Records"]):
            raise ValueError("not yet")

    trigger = make_trigger(name, fragile, batch_size=1)
    assert trigger.config.maximum_retry_attempts == -1  # Lambda's default
    runs = [trigger.run_until_idle() for _ in range(3)]
    assert [[(pks(i.records), i.ok, i.attempt) for i in run] for run in runs] == [
        [(["a"], True, 1), (["poison"], False, 1)],
        [(["poison"], False, 2)],
        [(["poison"], False, 3)],
    ]
    assert all(any("blocked" in n for n in inv.notes) for inv in trigger.invocations[1:])
    assert all("blocked" in row for row in trigger.log()["Notes"].iloc[1:])
    assert trigger.discards == []
    (shard,) = trigger.reader.shards.values()
    assert shard.checkpoint == seq(in_stream[0])

    broken = False
    assert [(pks(i.records), i.ok) for i in trigger.run_until_idle()] == [
        (["poison"], True),
        (["c"], True),
    ]
    assert seqs(ok_records(trigger.invocations)) == seqs(in_stream)
    assert shard.checkpoint == seq(in_stream[-1])


# -- bisect_batch_on_function_error ----------------------------------------------------------
@pytest.mark.parametrize("retries", [1, 2])
def test_bisecting_lets_the_healthy_records_through_without_using_up_retries(
    lab, table_name, make_trigger, retries
):
    """Lambda DG, "Retaining discarded records for a DynamoDB event source in Lambda":
    BisectBatchOnFunctionError "splits a failed batch into two smaller batches, isolating bad
    records"; "Splitting batches doesn't consume the retry quota". A batch of four fails and is
    split twice, down to the poison record alone ([a, b, poison, d] -> [poison, d] -> [poison]);
    the healthy halves go through, and the poison record alone still gets its full quota: one
    attempt and MaximumRetryAttempts retries. Were the two splits counted as retries, it would
    be discarded after retries - 1 solo attempts (or at once), with approximateInvokeCount
    short by two."""
    name = table_name("orders")
    table = lab.create_table(name)
    put_items(table, "a", "b", "poison", "d")
    *_, poison, d = stream_records(lab, name, 4)
    trigger = make_trigger(
        name,
        poison_pill,
        batch_size=4,
        maximum_retry_attempts=retries,
        bisect_batch_on_function_error=True,
    )
    invocations = trigger.run_until_idle()
    solo_attempts = [(["poison"], False, n) for n in range(1, retries + 2)]
    assert [(pks(i.records), i.ok, i.attempt) for i in invocations] == [
        (["a", "b", "poison", "d"], False, 1),  # fails: split, no retry used
        (["a", "b"], True, 1),
        (["poison", "d"], False, 1),  # fails: split again, still no retry used
        *solo_attempts,  # the poison record alone: 1 attempt + `retries` retries
        (["d"], True, 1),
    ]
    assert pks(ok_records(invocations)) == ["a", "b", "d"]  # each healthy record once
    (discard,) = trigger.discards
    assert (discard.condition, discard.sequence_numbers) == (
        "RetryAttemptsExhausted",
        (seq(poison),),
    )
    assert discard.document["requestContext"]["approximateInvokeCount"] == retries + 1
    assert discard.document["DDBStreamBatchInfo"]["batchSize"] == 1
    (shard,) = trigger.reader.shards.values()
    assert shard.checkpoint == seq(d)


def test_without_bisecting_the_whole_batch_is_discarded(lab, table_name, make_trigger):
    """Lambda DG, "Retaining discarded records for a DynamoDB event source in Lambda": without
    splitting, the failed batch is retried as a whole and then discarded as a whole (the
    counterpart of the test above)."""
    name = table_name("orders")
    table = lab.create_table(name)
    put_items(table, "a", "b", "poison", "d")
    in_stream = stream_records(lab, name, 4)
    trigger = make_trigger(name, poison_pill, batch_size=4, maximum_retry_attempts=0)
    invocations = trigger.run_until_idle()
    assert [(pks(i.records), i.ok) for i in invocations] == [(["a", "b", "poison", "d"], False)]
    assert [x.sequence_numbers for x in trigger.discards] == [tuple(seqs(in_stream))]
    assert trigger.discards[0].document["DDBStreamBatchInfo"]["batchSize"] == 4


# -- ReportBatchItemFailures -----------------------------------------------------------------
def test_a_partial_batch_failure_resumes_from_the_lowest_failed_sequence_number(
    lab, table_name, make_trigger
):
    """Lambda DG, "Configuring partial batch response with DynamoDB and Lambda": "If the
    batchItemFailures array contains multiple items, Lambda uses the record with the lowest
    sequence number as the checkpoint. Lambda then retries all records starting from that
    checkpoint."""
    name = table_name("orders")
    table = lab.create_table(name)
    put_items(table, "a", "b", "c", "d", "e")
    in_stream = stream_records(lab, name, 5)
    by_pk = {pk(r): seq(r) for r in in_stream}
    calls: list[list[str]] = []

    def reports_c_and_d(event: dict[str, Any], context: Any) -> dict[str, Any]:
        calls.append(pks(event["Records"]))
        if len(calls) == 1:  # d listed before c: the lowest, not the first, counts
            return {
                "batchItemFailures": [
                    {"itemIdentifier": by_pk["d"]},
                    {"itemIdentifier": by_pk["c"]},
                ]
            }
        return {"batchItemFailures": []}

    trigger = make_trigger(name, reports_c_and_d, function_response_types=RBIF)
    invocations = trigger.run_until_idle()
    assert calls == [["a", "b", "c", "d", "e"], ["c", "d", "e"]]
    assert [i.outcome for i in invocations] == [
        labkit.Outcome.PARTIAL_FAILURE,
        labkit.Outcome.SUCCESS,
    ]
    delivered = [r for i in invocations for r in i.records]
    assert [pk(r) for r in delivered].count("a") == 1  # before the lowest failure: not again
    assert [pk(r) for r in delivered].count("e") == 2  # after it: again
    (shard,) = trigger.reader.shards.values()
    assert shard.checkpoint == by_pk["e"]
    assert trigger.run_until_idle() == []


@pytest.mark.parametrize(
    "response",
    [None, {}, [], (), "", {"batchItemFailures": []}, {"batchItemFailures": None}],
    ids=[
        "null-response",
        "empty-response",
        "empty-json-array",
        "empty-tuple",
        "empty-string",
        "empty-list",
        "null-list",
    ],
)
def test_an_empty_or_null_partial_response_is_a_complete_success(
    lab, table_name, make_trigger, response
):
    """Lambda DG, "Configuring partial batch response with DynamoDB and Lambda": "Lambda treats
    a batch as a complete success if you return ... An empty batchItemFailure list, A null
    batchItemFailure list, An empty EventResponse, A null EventResponse". Recorded on AWS
    (LocalStack's AWS-validated test_dynamodb_report_batch_item_success_scenarios, 2025-11-25,
    MaximumRetryAttempts 2): ``[]``, ``None``, ``{}``, ``{"batchItemFailures": []}`` and
    ``{"batchItemFailures": None}`` each give one invocation and no retry. An empty string (and
    a tuple, sent as ``[]``) is an empty response too: one invocation, checkpointed."""
    name = table_name("orders")
    table = lab.create_table(name)
    put_items(table, "a", "b", "c")
    in_stream = stream_records(lab, name, 3)
    trigger = make_trigger(name, lambda event, context: response, function_response_types=RBIF)
    invocations = trigger.run_until_idle()
    assert [(pks(i.records), i.outcome) for i in invocations] == [
        (["a", "b", "c"], labkit.Outcome.SUCCESS)
    ]
    (shard,) = trigger.reader.shards.values()
    assert shard.checkpoint == seq(in_stream[-1])
    assert trigger.run_until_idle() == []


MALFORMED: dict[str, Callable[[str], Any]] = {
    "empty-string-identifier": lambda s: {"batchItemFailures": [{"itemIdentifier": ""}]},
    "null-identifier": lambda s: {"batchItemFailures": [{"itemIdentifier": None}]},
    "bad-key-name": lambda s: {"batchItemFailures": [{"ItemIdentifier": s}]},
    "missing-key": lambda s: {"batchItemFailures": [{}]},
    "unknown-sequence-number": lambda s: {"batchItemFailures": [{"itemIdentifier": "9" * 30}]},
}


@pytest.mark.parametrize("malformed", list(MALFORMED.values()), ids=list(MALFORMED))
def test_a_malformed_item_identifier_fails_the_whole_batch(
    lab, table_name, make_trigger, malformed
):
    """Lambda DG, "Configuring partial batch response with DynamoDB and Lambda": "Lambda treats
    a batch as a complete failure if you return ... An empty string itemIdentifier, A null
    itemIdentifier, An itemIdentifier with a bad key name" and "retries failures based on your
    retry strategy". (A sequence number that is in no record of the batch cannot be a
    checkpoint either; labkit treats it as the same complete failure.)"""
    name = table_name("orders")
    table = lab.create_table(name)
    put_items(table, "a", "b", "c")
    in_stream = stream_records(lab, name, 3)
    calls: list[list[str]] = []

    def once_malformed(event: dict[str, Any], context: Any) -> Any:
        calls.append(pks(event["Records"]))
        return malformed(seq(in_stream[1])) if len(calls) == 1 else None

    trigger = make_trigger(
        name, once_malformed, function_response_types=RBIF, maximum_retry_attempts=1
    )
    invocations = trigger.run_until_idle()
    assert calls == [["a", "b", "c"], ["a", "b", "c"]]  # the whole batch again
    assert [i.outcome for i in invocations] == [labkit.Outcome.ERROR, labkit.Outcome.SUCCESS]
    assert trigger.discards == []


@pytest.mark.parametrize(
    "response",
    ["abc", 5, True, ["x"], {"batchItemFailures": "abc"}],
    ids=["string", "number", "boolean", "list", "failures-not-a-list"],
)
def test_a_response_that_is_no_event_response_fails_the_whole_batch(
    lab, table_name, make_trigger, response
):
    """A non-empty response that is not ``{"batchItemFailures": [...]}`` cannot be read as a
    partial batch response. The stream pages of the Lambda guide list no such case; the SQS page
    ("Handling errors for an SQS event source", success and failure conditions) lists "An
    invalid JSON response" among the complete failures, and labkit reads every other shape the
    same way: the whole batch fails and is retried (no recording of AWS covers these shapes)."""
    name = table_name("orders")
    table = lab.create_table(name)
    put_items(table, "a", "b")
    in_stream = stream_records(lab, name, 2)
    calls: list[list[str]] = []

    def answers_oddly(event: dict[str, Any], context: Any) -> Any:
        calls.append(pks(event["Records"]))
        return response if len(calls) == 1 else None

    trigger = make_trigger(
        name, answers_oddly, function_response_types=RBIF, maximum_retry_attempts=1
    )
    invocations = trigger.run_until_idle()
    assert calls == [["a", "b"], ["a", "b"]]
    assert [i.outcome for i in invocations] == [labkit.Outcome.ERROR, labkit.Outcome.SUCCESS]
    assert "the whole batch counts as failed" in (invocations[0].error or "")
    assert invocations[0].function_error is None  # the function itself returned normally
    (shard,) = trigger.reader.shards.values()
    assert shard.checkpoint == seq(in_stream[-1])


# -- responseContext.functionError -----------------------------------------------------------
def _discard_after_one_try(
    lab: labkit.Lab, table_name: Callable[[str], str], make_trigger: Callable[..., Any], handler
) -> dict[str, Any]:
    name, failures = table_name("orders"), table_name("failures")
    table = lab.create_table(name)
    lab.create_table(failures, stream=None)
    put_items(table, "a", "b")
    stream_records(lab, name, 2)
    trigger = make_trigger(
        name,
        handler,
        function_response_types=RBIF,
        maximum_retry_attempts=0,
        destination_config={"OnFailure": {"Destination": failures}},
    )
    trigger.run_until_idle()
    (discard,) = trigger.discards
    (stored,) = destination_items(lab, failures)
    assert without_key(stored) == discard.document  # null is stored as null
    return discard.document


def _raises(event: dict[str, Any], context: Any) -> Any:
    raise ValueError("cannot process")


def _bad_identifier(event: dict[str, Any], context: Any) -> Any:
    return {"batchItemFailures": [{"itemIdentifier": ""}]}


def _reports_the_last(event: dict[str, Any], context: Any) -> Any:
    return {"batchItemFailures": [{"itemIdentifier": seq(event["Records"][-1])}]}


@pytest.mark.parametrize(
    ("handler", "function_error"),
    [(_raises, "Unhandled"), (_bad_identifier, None), (_reports_the_last, None)],
    ids=["exception", "invalid-item-identifier", "partial-failure"],
)
def test_function_error_is_unhandled_only_when_the_function_raised(
    lab, table_name, make_trigger, handler, function_error
):
    """AWS's failure documents (LocalStack's AWS-validated snapshots of
    test_dynamodb_report_batch_item_failure_scenarios and test_dynamodb_report_batch_item_failures,
    DynamoDB source, SQS destination, 2025-11-25): ``responseContext`` is
    ``{"statusCode": 200, "executedVersion": "$LATEST", "functionError": ...}`` with
    ``"Unhandled"`` for ``unhandled_exception_in_function`` and ``null`` for an empty-string,
    null or missing ``itemIdentifier`` and for a real partial failure: the key is always there,
    and "Unhandled" says the function raised (the guide's example document, an exception)."""
    document = _discard_after_one_try(lab, table_name, make_trigger, handler)
    assert document["responseContext"] == {
        "statusCode": 200,
        "executedVersion": "$LATEST",
        "functionError": function_error,
    }
    assert document["requestContext"]["approximateInvokeCount"] == 1


def test_batch_item_failures_are_ignored_unless_report_batch_item_failures_is_on(
    lab, table_name, make_trigger
):
    """Lambda DG, "Configuring partial batch response with DynamoDB and Lambda": "Even when your
    function code returns partial batch failure responses, these responses will not be
    processed by Lambda unless the ReportBatchItemFailures feature is explicitly turned on"."""
    name = table_name("orders")
    table = lab.create_table(name)
    put_items(table, "a", "b", "c")
    in_stream = stream_records(lab, name, 3)

    def reports_b(event: dict[str, Any], context: Any) -> dict[str, Any]:
        return {"batchItemFailures": [{"itemIdentifier": seq(in_stream[1])}]}

    trigger = make_trigger(name, reports_b)
    invocations = trigger.run_until_idle()
    assert [(pks(i.records), i.outcome) for i in invocations] == [
        (["a", "b", "c"], labkit.Outcome.SUCCESS)
    ]
    assert trigger.run_until_idle() == []


# -- maximum_record_age_in_seconds -----------------------------------------------------------
def test_records_older_than_the_maximum_age_are_discarded_without_an_invocation(
    lab, table_name, make_trigger
):
    """Lambda DG, "Lambda parameters for Amazon DynamoDB event source mappings" and "Using AWS
    Lambda with Amazon DynamoDB": MaximumRecordAgeInSeconds is "the maximum age of a record
    that Lambda sends to your function"; older records are discarded and their batch is
    described to the on-failure destination ("Retaining discarded records"). No invocation was
    made, so the document has no response context."""
    name, failures = table_name("orders"), table_name("failures")
    table = lab.create_table(name)
    lab.create_table(failures, stream=None)
    put_items(table, "a", "b", "c")
    in_stream = stream_records(lab, name, 3)
    seen: list[str] = []

    def recorder(event: dict[str, Any], context: Any) -> None:
        seen.extend(pks(event["Records"]))

    trigger = make_trigger(
        name,
        recorder,
        maximum_record_age_in_seconds=600,
        destination_config={"OnFailure": {"Destination": failures}},
    )
    trigger.clock = lambda: time.time() + 3600  # an hour later: every record is too old
    assert trigger.run_until_idle() == []
    assert seen == []
    (discard,) = trigger.discards
    assert discard.condition == "RecordAgeExceeded"
    assert discard.sequence_numbers == tuple(seqs(in_stream))
    assert "responseContext" not in discard.document
    assert discard.document["requestContext"]["condition"] == "RecordAgeExceeded"
    # AWS counts the attempt it did not make: 1 for records never sent to the function
    # (LocalStack's AWS-validated snapshot test_kinesis_maximum_record_age_exceeded
    # [expire-before-ingestion], 2025-11-25: Lambda's stream poller, Kinesis source).
    assert discard.document["requestContext"]["approximateInvokeCount"] == 1
    info = discard.document["DDBStreamBatchInfo"]
    assert (info["startSequenceNumber"], info["endSequenceNumber"], info["batchSize"]) == (
        seq(in_stream[0]),
        seq(in_stream[-1]),
        3,
    )
    (stored,) = destination_items(lab, failures)
    assert without_key(stored) == discard.document

    trigger.clock = time.time  # back to now: a fresh record is young enough
    table.put_item(Item={"pk": "d"})
    stream_records(lab, name, 4)
    assert [pks(i.records) for i in trigger.run_until_idle()] == [["d"]]
    assert seen == ["d"]


def test_record_age_ends_the_retries_of_a_blocked_shard(lab, table_name, make_trigger):
    """Lambda DG, "Retaining discarded records for a DynamoDB event source in Lambda": "If the
    function is invoked but returns an error, Lambda retries until the records expire, exceed
    the maximum age (MaximumRecordAgeInSeconds), or reach the configured retry quota"; then it
    discards them and continues."""
    name = table_name("orders")
    table = lab.create_table(name)
    put_items(table, "poison", "b")
    poison, b = stream_records(lab, name, 2)
    trigger = make_trigger(name, poison_pill, batch_size=1, maximum_record_age_in_seconds=600)
    assert [(pks(i.records), i.ok) for i in trigger.run_until_idle()] == [(["poison"], False)]

    trigger.clock = lambda: time.time() + 3600
    assert trigger.run_until_idle() == []  # no further attempt at a record that is too old
    assert [(x.condition, x.sequence_numbers) for x in trigger.discards] == [
        ("RecordAgeExceeded", (seq(poison),)),
        ("RecordAgeExceeded", (seq(b),)),
    ]
    # AWS's document for records that aged out while retrying has no responseContext
    # (test_kinesis_maximum_record_age_exceeded[expire-while-retrying], recorded 2025-11-25);
    # its approximateInvokeCount counts the attempt not made: one failed call, so 2 (labkit's
    # reading: AWS recorded 8 without recording how many calls ran), and 1 for b, never sent.
    documents = [x.document for x in trigger.discards]
    assert all("responseContext" not in d for d in documents)
    assert [d["requestContext"]["approximateInvokeCount"] for d in documents] == [2, 1]
    trigger.clock = time.time
    table.put_item(Item={"pk": "c"})
    stream_records(lab, name, 3)
    assert [(pks(i.records), i.ok) for i in trigger.run_until_idle()] == [(["c"], True)]


# -- replay and the invocation log -----------------------------------------------------------
def test_replay_delivers_exactly_the_records_a_failure_document_names(
    lab, table_name, make_trigger
):
    """Lambda DG, "Retaining discarded records for a DynamoDB event source in Lambda": "You can
    use this information to retrieve the affected records from the stream ... The actual
    records aren't included, so you must process this record and retrieve them from the stream
    before they expire"."""
    name, failures = table_name("orders"), table_name("failures")
    table = lab.create_table(name)
    lab.create_table(failures, stream=None)
    put_items(table, "a", "poison", "c", "d")
    in_stream = stream_records(lab, name, 4)
    trigger = make_trigger(
        name,
        poison_pill,
        batch_size=3,
        maximum_retry_attempts=0,
        destination_config={"OnFailure": {"Destination": failures}},
    )
    trigger.run_until_idle()
    (discard,) = trigger.discards
    assert discard.sequence_numbers == tuple(seqs(in_stream[:3]))
    (shard,) = trigger.reader.shards.values()
    checkpoint = shard.checkpoint
    assert checkpoint == seq(in_stream[-1])
    repaired: list[list[str]] = []

    def repair(event: dict[str, Any], context: Any) -> None:
        repaired.append(pks(event["Records"]))

    (stored,) = destination_items(lab, failures)  # as read back from the destination
    for document in (stored, discard.document):
        replay = trigger.replay(document, handler=repair)
        assert replay.ok and "replay" in replay.notes
        assert replay.sequence_numbers == list(discard.sequence_numbers)
        assert per_key(replay.records) == per_key(in_stream[:3])
    assert repaired == [["a", "poison", "c"], ["a", "poison", "c"]]
    assert shard.checkpoint == checkpoint  # a repair, not progress
    assert trigger.run_until_idle() == []


def test_the_invocation_log_has_a_row_per_invocation_and_discard(lab, table_name, make_trigger):
    """Lambda DG, "Retaining discarded records for a DynamoDB event source in Lambda" and
    "Using AWS Lambda with Amazon DynamoDB": each attempt is an invocation and each discarded
    batch is reported (here as a row of the log, with its condition)."""
    name = table_name("orders")
    table = lab.create_table(name)
    put_items(table, "a", "poison", "c")
    stream_records(lab, name, 3)
    trigger = make_trigger(name, poison_pill, batch_size=1, maximum_retry_attempts=1)
    invocations = trigger.run_until_idle()
    log = trigger.log()
    assert isinstance(log, pd.DataFrame)
    assert len(log) == len(invocations) + len(trigger.discards) == 5
    assert list(log["Outcome"]) == [
        "success",
        "error",
        "error",
        "discarded (RetryAttemptsExhausted), dropped",
        "success",
    ]
    assert list(log["Records"]) == [1, 1, 1, 1, 1]
    assert "ValueError: cannot process poison" in log["Notes"].iloc[1]


# -- tumbling windows ------------------------------------------------------------------------
WINDOW = 60


def counting(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """Aggregates per window: how many records, and which keys, in order."""
    state = dict(event["state"])
    state["count"] = state.get("count", 0) + len(event["Records"])
    state["keys"] = [*state.get("keys", []), *pks(event["Records"])]
    return {"state": state}


def test_tumbling_windows_carry_state_and_end_with_a_final_invocation(
    lab, table_name, make_trigger
):
    """Lambda DG, "Implementing stateful DynamoDB stream processing in Lambda": the event has
    window {start, end}, state, shardId, eventSourceARN, isFinalInvokeForWindow and
    isWindowTerminatedEarly; each invocation gets the state the previous one returned; window
    boundaries come from the records' approximate creation time; "At the end of the window, the
    flag isFinalInvokeForWindow is set to true". (DynamoDB Local rounds ApproximateCreationDateTime
    down to the minute, so the records' windows are computed from what the stream says.)"""
    name = table_name("orders")
    table = lab.create_table(name)
    put_items(table, "a", "b", "c", "d", "e")
    in_stream = stream_records(lab, name, 5)
    trigger = make_trigger(name, counting, batch_size=2, tumbling_window_in_seconds=WINDOW)
    invocations = trigger.run_until_idle()
    trigger.clock = lambda: time.time() + 2 * WINDOW  # every window has ended by now
    invocations += trigger.run_until_idle()

    def window_of(record: dict[str, Any]) -> float:
        return created(record) - created(record) % WINDOW

    expected: dict[float, list[str]] = defaultdict(list)
    for record in in_stream:
        expected[window_of(record)].append(pk(record))

    keys = {
        "Records",
        "window",
        "state",
        "shardId",
        "eventSourceARN",
        "isFinalInvokeForWindow",
        "isWindowTerminatedEarly",
    }
    last_state: dict[float, dict[str, Any]] = {}
    finals: dict[float, dict[str, Any]] = {}
    for inv in invocations:
        event = inv.event
        assert set(event) == keys and inv.ok
        start, end = iso_epoch(event["window"]["start"]), iso_epoch(event["window"]["end"])
        assert start % WINDOW == 0 and end == start + WINDOW
        assert event["shardId"] == inv.shard_id
        assert event["eventSourceARN"] == lab.stream_arn(name)
        assert event["isWindowTerminatedEarly"] is False
        assert start not in finals  # nothing of a window after its final invocation
        assert event["state"] == last_state.get(start, {})
        if event["isFinalInvokeForWindow"]:
            assert event["Records"] == []
            finals[start] = event["state"]
        else:
            assert all(window_of(r) == start for r in event["Records"])
            last_state[start] = inv.result["state"]
    assert {s: f["keys"] for s, f in finals.items()} == dict(expected)
    assert {s: f["count"] for s, f in finals.items()} == {s: len(k) for s, k in expected.items()}
    assert seqs([r for i in invocations for r in i.records]) == seqs(in_stream)
    assert trigger.run_until_idle() == []


def test_with_a_tumbling_window_a_response_without_state_fails_the_batch(
    lab, table_name, make_trigger
):
    """Lambda DG, "Implementing stateful DynamoDB stream processing in Lambda": "your Lambda
    function response must contain a state property. If the response does not contain a state
    property, Lambda considers this a failed invocation"."""
    name = table_name("orders")
    table = lab.create_table(name)
    put_items(table, "a")
    (a,) = stream_records(lab, name, 1)

    def forgets_state(event: dict[str, Any], context: Any) -> dict[str, Any]:
        return {"batchItemFailures": []}

    trigger = make_trigger(
        name, forgets_state, tumbling_window_in_seconds=WINDOW, maximum_retry_attempts=1
    )
    invocations = [i for i in trigger.run_until_idle() if i.records]
    assert [(pks(i.records), i.outcome) for i in invocations] == [
        (["a"], labkit.Outcome.ERROR),
        (["a"], labkit.Outcome.ERROR),
    ]
    assert [(x.condition, x.sequence_numbers) for x in trigger.discards] == [
        ("RetryAttemptsExhausted", (seq(a),))
    ]


def test_a_failing_final_window_invocation_suspends_processing_until_it_succeeds(
    lab, table_name, make_trigger
):
    """Lambda DG, "Implementing stateful DynamoDB stream processing in Lambda": "At the end of
    your window, Lambda uses final processing ... After successful invocation, your function
    checkpoints the sequence number and stream processing continues. If invocation is
    unsuccessful, your Lambda function suspends further processing until a successful
    invocation." A final invocation carries no records, so there is nothing to discard: even
    with MaximumRetryAttempts 0 it is retried, with the same state, until it succeeds."""
    name = table_name("orders")
    table = lab.create_table(name)
    put_items(table, "a", "b")
    stream_records(lab, name, 2)
    broken = True

    def final_fails(event: dict[str, Any], context: Any) -> dict[str, Any]:
        if broken and event["isFinalInvokeForWindow"]:
            raise RuntimeError("cannot publish the window's result")
        return counting(event, context)

    trigger = make_trigger(
        name, final_fails, tumbling_window_in_seconds=WINDOW, maximum_retry_attempts=0
    )
    trigger.run_until_idle()
    trigger.clock = lambda: time.time() + 2 * WINDOW
    trigger.run_until_idle()  # the final invocation fails here
    trigger.run_until_idle()  # and is tried again
    finals = [i for i in trigger.invocations if i.event["isFinalInvokeForWindow"]]
    assert len(finals) >= 2 and not any(i.ok for i in finals)
    assert trigger.discards == []
    broken = False
    trigger.run_until_idle()
    finals = [i for i in trigger.invocations if i.event["isFinalInvokeForWindow"]]
    assert finals[-1].ok and finals[-1].event["state"]["keys"] == ["a", "b"]
    assert all(i.event["state"] == finals[-1].event["state"] for i in finals)


# -- parallelization_factor ------------------------------------------------------------------
def test_parallel_lanes_deliver_every_record_once_in_order_per_item(lab, table_name, make_trigger):
    """Lambda DG, "Using AWS Lambda with Amazon DynamoDB": with ParallelizationFactor "Lambda can
    process up to 10 batches in each shard simultaneously" and "still ensures in-order
    processing at the item (partition and sort key) level"."""
    name = table_name("orders")
    table = lab.create_table(name)
    items = [f"item-{n:02}" for n in range(16)]
    for version in range(3):
        for item in items:
            table.put_item(Item={"pk": item, "version": version})
    in_stream = stream_records(lab, name, 48)
    delivered: list[dict[str, Any]] = []
    lock = threading.Lock()

    def collect(event: dict[str, Any], context: Any) -> None:
        with lock:
            delivered.extend(event["Records"])

    trigger = make_trigger(name, collect, batch_size=4, parallelization_factor=4)
    invocations = trigger.run_until_idle()
    assert sorted(seqs(delivered)) == sorted(seqs(in_stream))  # every record...
    assert len(set(seqs(delivered))) == len(in_stream)  # ...once
    assert per_key(delivered) == per_key(in_stream)  # each item's changes in order
    lanes_of_item: dict[str, set[int]] = defaultdict(set)
    for inv in invocations:
        assert len(inv.records) <= 4
        for record in inv.records:
            lanes_of_item[pk(record)].add(inv.lane)
    assert all(len(lanes) == 1 for lanes in lanes_of_item.values())  # an item keeps its lane
    assert len({inv.lane for inv in invocations}) > 1  # the shard was processed on several
    assert trigger.run_until_idle() == []


def test_a_blocked_lane_never_lets_the_checkpoint_pass_its_record(lab, table_name, make_trigger):
    """Lambda DG, "Configuring partial batch response with DynamoDB and Lambda": "by default
    Lambda checkpoints to the highest sequence number of a batch only when the batch is a
    complete success"; with ParallelizationFactor order still holds per item ("Using AWS Lambda
    with Amazon DynamoDB"). So while one item's batch keeps failing, the shard's checkpoint stays
    before that record, and the item's later changes wait behind it."""
    name = table_name("orders")
    table = lab.create_table(name)
    items = [f"item-{n:02}" for n in range(8)]
    put_items(table, *items)
    put_items(table, "poison")
    put_items(table, *items, "poison", version=2)
    in_stream = stream_records(lab, name, 18)
    first_poison = next(r for r in in_stream if pk(r) == "poison")
    broken = True

    def fragile(event: dict[str, Any], context: Any) -> None:
        if broken and "poison" in pks(event["Records"]):
            raise ValueError("not yet")

    trigger = make_trigger(name, fragile, batch_size=2, parallelization_factor=4)
    trigger.run_until_idle()
    (shard,) = trigger.reader.shards.values()
    assert shard.checkpoint is None or int(shard.checkpoint) < int(seq(first_poison))
    assert [pk(r) for r in ok_records(trigger.invocations)].count("poison") == 0

    broken = False
    trigger.run_until_idle()
    delivered = ok_records(trigger.invocations)
    assert sorted(seqs(delivered)) == sorted(seqs(in_stream))
    assert per_key(delivered) == per_key(in_stream)
    assert shard.checkpoint == seq(in_stream[-1])

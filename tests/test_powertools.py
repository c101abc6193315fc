"""The events labkit builds are accepted, unchanged, by Powertools for AWS Lambda (Python).

Powertools parses the event AWS Lambda delivers for a DynamoDB stream ("Using AWS Lambda with
Amazon DynamoDB", the example event) and answers partial batch failures in the shape Lambda
reads ("Configuring partial batch response with DynamoDB and Lambda"). A handler written with it
must work under labkit's trigger exactly as it would on Lambda.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterator
from decimal import Decimal
from typing import Any

import pytest
from _esm import created, pks, seq, seqs, stream_records, trigger_factory
from aws_lambda_powertools.utilities.batch import (
    BatchProcessor,
    EventType,
    process_partial_response,
)
from aws_lambda_powertools.utilities.data_classes import DynamoDBStreamEvent
from aws_lambda_powertools.utilities.data_classes.dynamo_db_stream_event import (
    DynamoDBRecord,
    DynamoDBRecordEventName,
    StreamViewType,
)

import labkit


@pytest.fixture
def make_trigger(lab: labkit.Lab) -> Iterator[Callable[..., labkit.Trigger]]:
    yield from trigger_factory(lab)


def test_dynamodb_stream_event_parses_labkits_events(lab, table_name, make_trigger):
    """Lambda DG, "Using AWS Lambda with Amazon DynamoDB" (example event: Records with eventName,
    dynamodb.Keys/NewImage/OldImage in DynamoDB JSON, SequenceNumber, StreamViewType,
    eventSourceARN); Powertools' ``DynamoDBStreamEvent`` reads that shape into typed views."""
    name = table_name("orders")
    table = lab.create_table(name)
    table.put_item(
        Item={
            "pk": "order-1",
            "qty": 2,
            "paid": False,
            "tags": {"gift", "fragile"},
            "lines": [{"sku": "A-1", "n": 1}],
            "note": "first",
        }
    )
    table.update_item(
        Key={"pk": "order-1"},
        UpdateExpression="SET qty = :q, paid = :p",
        ExpressionAttributeValues={":q": 3, ":p": True},
    )
    table.delete_item(Key={"pk": "order-1"})
    in_stream = stream_records(lab, name, 3)
    parsed: list[dict[str, Any]] = []

    def handler(event: dict[str, Any], context: Any) -> None:
        for record in DynamoDBStreamEvent(event).records:
            ddb = record.dynamodb
            assert ddb is not None
            parsed.append(
                {
                    "event_name": record.event_name,
                    "event_source": record.event_source,
                    "event_source_arn": record.event_source_arn,
                    "keys": ddb.keys,
                    "new_image": ddb.new_image,
                    "old_image": ddb.old_image,
                    "sequence_number": ddb.sequence_number,
                    "stream_view_type": ddb.stream_view_type,
                    "created": ddb.approximate_creation_date_time,
                    "size_bytes": ddb.size_bytes,
                }
            )

    trigger = make_trigger(name, handler)
    assert all(i.ok for i in trigger.run_until_idle())
    before = {
        "pk": "order-1",
        "qty": Decimal(2),
        "paid": False,
        "tags": {"gift", "fragile"},
        "lines": [{"sku": "A-1", "n": Decimal(1)}],
        "note": "first",
    }
    after = {**before, "qty": Decimal(3), "paid": True}
    common = {
        "event_source": "aws:dynamodb",
        "event_source_arn": lab.stream_arn(name),
        "keys": {"pk": "order-1"},
        "stream_view_type": StreamViewType.NEW_AND_OLD_IMAGES,
    }
    assert [{k: v for k, v in p.items() if k in common} for p in parsed] == [common] * 3
    assert [p["event_name"] for p in parsed] == [
        DynamoDBRecordEventName.INSERT,
        DynamoDBRecordEventName.MODIFY,
        DynamoDBRecordEventName.REMOVE,
    ]
    assert [(p["old_image"], p["new_image"]) for p in parsed] == [
        ({}, before),
        (before, after),
        (after, {}),
    ]
    assert [p["sequence_number"] for p in parsed] == seqs(in_stream)
    assert [p["created"] for p in parsed] == [int(created(r)) for r in in_stream]
    assert all(isinstance(p["size_bytes"], int) and p["size_bytes"] > 0 for p in parsed)


def test_dynamodb_stream_event_reads_a_tumbling_window_event(lab, table_name, make_trigger):
    """Lambda DG, "Implementing stateful DynamoDB stream processing in Lambda" (the example
    DynamodbTimeWindowEvent: window, state, shardId, eventSourceARN, isFinalInvokeForWindow,
    isWindowTerminatedEarly); Powertools exposes each as a property."""
    name = table_name("orders")
    table = lab.create_table(name)
    table.put_item(Item={"pk": "a"})
    stream_records(lab, name, 1)
    seen: list[tuple[Any, ...]] = []

    def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
        parsed = DynamoDBStreamEvent(event)
        window = parsed.window
        assert window is not None
        seen.append(
            (
                window.start,
                window.end,
                parsed.state,
                parsed.shard_id,
                parsed.event_source_arn,
                parsed.is_final_invoke_for_window,
                parsed.is_window_terminated_early,
                [r.dynamodb.keys for r in parsed.records],
            )
        )
        return {"state": {"seen": len(list(parsed.records))}}

    trigger = make_trigger(name, handler, tumbling_window_in_seconds=300)
    (invocation,) = [i for i in trigger.run_until_idle() if i.records]
    event = invocation.event
    assert seen[0] == (
        event["window"]["start"],
        event["window"]["end"],
        {},
        invocation.shard_id,
        lab.stream_arn(name),
        False,
        False,
        [{"pk": "a"}],
    )


def test_batch_processor_reports_the_failed_record_and_the_rest_is_checkpointed(
    lab, table_name, make_trigger
):
    """Lambda DG, "Configuring partial batch response with DynamoDB and Lambda": with
    ReportBatchItemFailures the function returns ``{"batchItemFailures": [{"itemIdentifier":
    "<SequenceNumber>"}]}`` (what Powertools' BatchProcessor builds); Lambda checkpoints before
    the lowest failed record and "retries all records starting from that checkpoint"."""
    name = table_name("orders")
    table = lab.create_table(name)
    for key in "abcde":
        table.put_item(Item={"pk": key})
    in_stream = stream_records(lab, name, 5)
    attempts: Counter[str] = Counter()
    processor = BatchProcessor(event_type=EventType.DynamoDBStreams)

    def record_handler(record: DynamoDBRecord) -> None:
        assert record.dynamodb is not None
        key = record.dynamodb.keys["pk"]
        attempts[key] += 1
        if key == "c" and attempts[key] == 1:
            raise ValueError("c fails the first time")

    def lambda_handler(event: dict[str, Any], context: Any) -> Any:
        return process_partial_response(
            event=event, record_handler=record_handler, processor=processor, context=context
        )

    trigger = make_trigger(
        name, lambda_handler, function_response_types=["ReportBatchItemFailures"]
    )
    invocations = trigger.run_until_idle()
    assert [(pks(i.records), i.outcome) for i in invocations] == [
        (["a", "b", "c", "d", "e"], labkit.Outcome.PARTIAL_FAILURE),
        (["c", "d", "e"], labkit.Outcome.SUCCESS),
    ]
    assert invocations[0].result == {"batchItemFailures": [{"itemIdentifier": seq(in_stream[2])}]}
    assert invocations[1].result == {"batchItemFailures": []}
    assert attempts == Counter({"a": 1, "b": 1, "c": 2, "d": 2, "e": 2})
    (shard,) = trigger.reader.shards.values()
    assert shard.checkpoint == seq(in_stream[-1])
    assert trigger.run_until_idle() == []


def test_batch_processor_failing_every_record_fails_the_batch(lab, table_name, make_trigger):
    """Lambda DG, "Configuring partial batch response with DynamoDB and Lambda": a handler error
    is a complete failure, retried per the retry settings; Powertools raises when every record
    failed, so the batch is retried as a whole and then discarded ("Retaining discarded records
    for a DynamoDB event source in Lambda")."""
    name = table_name("orders")
    table = lab.create_table(name)
    for key in "ab":
        table.put_item(Item={"pk": key})
    in_stream = stream_records(lab, name, 2)
    processor = BatchProcessor(event_type=EventType.DynamoDBStreams)

    def record_handler(record: DynamoDBRecord) -> None:
        raise ValueError("nothing works")

    def lambda_handler(event: dict[str, Any], context: Any) -> Any:
        return process_partial_response(
            event=event, record_handler=record_handler, processor=processor, context=context
        )

    trigger = make_trigger(
        name,
        lambda_handler,
        maximum_retry_attempts=1,
        function_response_types=["ReportBatchItemFailures"],
    )
    invocations = trigger.run_until_idle()
    assert [(pks(i.records), i.outcome) for i in invocations] == [
        (["a", "b"], labkit.Outcome.ERROR),
        (["a", "b"], labkit.Outcome.ERROR),
    ]
    assert all("BatchProcessingError" in (i.error or "") for i in invocations)
    assert [(d.condition, d.sequence_numbers) for d in trigger.discards] == [
        ("RetryAttemptsExhausted", tuple(seqs(in_stream)))
    ]

"""The event and context a handler receives have the shape AWS Lambda delivers.

Reference: AWS Lambda developer guide, "Using AWS Lambda with Amazon DynamoDB" (example event)
and "Lambda context object in Python". The real-server tests take their records from DynamoDB
Local; the unit tests feed ``lambda_event`` hand-built GetRecords output.
"""

from __future__ import annotations

import base64
import calendar
import copy
import datetime as dt
import json
import re
import time
import uuid
from decimal import Decimal
from typing import Any

import pytest
from _streamcheck import RECORD_FIELDS, at_least, records_of, run_trigger_until

import labkit


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


class Recorder:
    """A handler that keeps each event it was called with, as JSON text."""

    def __init__(self) -> None:
        self.calls: list[dict[str, Any]] = []

    def __call__(self, event: dict[str, Any], context: Any) -> None:
        # serialised inside the handler, as Lambda's runtime would have to
        self.calls.append({"json": json.dumps(event)})


ORDER_CALLS: list[dict[str, Any]] = []


def handle_orders(event: dict[str, Any], context: Any) -> None:
    """A named handler, so that the context's function name can be checked against it."""
    ORDER_CALLS.append({"context": context, "remaining_ms": context.get_remaining_time_in_millis()})


# -- the event from a real stream ------------------------------------------------------------
def test_each_record_has_the_lambda_shape(lab, table_name):
    name = table_name("orders")
    table = lab.create_table(name)
    recorder = Recorder()
    trigger = lab.trigger(name, recorder)
    before = time.time()
    table.put_item(Item={"pk": "a", "qty": 1})
    table.update_item(
        Key={"pk": "a"}, UpdateExpression="SET qty = :q", ExpressionAttributeValues={":q": 2}
    )
    table.delete_item(Key={"pk": "a"})
    invocations = run_trigger_until(trigger, at_least(3))

    stream_arn = lab.dynamodb.describe_table(TableName=name)["Table"]["LatestStreamArn"]
    records = [r for call in recorder.calls for r in json.loads(call["json"])["Records"]]
    assert records == records_of(invocations)  # what the handler got is what was recorded
    assert [r["eventName"] for r in records] == ["INSERT", "MODIFY", "REMOVE"]
    arn_region = stream_arn.split(":")[3]
    for record in records:
        assert set(record) == RECORD_FIELDS
        assert record["eventSource"] == "aws:dynamodb"
        assert record["eventSourceARN"] == stream_arn
        assert record["awsRegion"] == arn_region  # the region the stream's ARN names
        assert isinstance(record["eventVersion"], str) and record["eventVersion"]
        assert isinstance(record["eventID"], str) and record["eventID"]
        ddb = record["dynamodb"]
        created = ddb["ApproximateCreationDateTime"]
        assert type(created) is float and created == int(created)  # whole seconds, as a float
        # epoch *seconds* (milliseconds would be ~1000 times larger); a day's slack for clocks
        assert abs(created - before) < 86_400
        assert isinstance(ddb["SequenceNumber"], str) and ddb["SequenceNumber"].isdigit()
        assert isinstance(ddb["SizeBytes"], int) and not isinstance(ddb["SizeBytes"], bool)
        assert ddb["SizeBytes"] > 0
        assert ddb["StreamViewType"] == "NEW_AND_OLD_IMAGES"
        assert ddb["Keys"] == {"pk": {"S": "a"}}
    assert len({r["eventID"] for r in records}) == 3
    assert [int(r["dynamodb"]["SequenceNumber"]) for r in records] == sorted(
        int(r["dynamodb"]["SequenceNumber"]) for r in records
    )
    insert, modify, remove = (r["dynamodb"] for r in records)
    assert insert["NewImage"] == {"pk": {"S": "a"}, "qty": {"N": "1"}} and "OldImage" not in insert
    assert modify["OldImage"] == insert["NewImage"]
    assert modify["NewImage"] == {"pk": {"S": "a"}, "qty": {"N": "2"}}
    assert remove["OldImage"] == modify["NewImage"] and "NewImage" not in remove


def test_binary_values_arrive_base64_encoded_and_the_event_is_json(lab, table_name):
    name = table_name("blobs")
    table = lab.create_table(name, key=("id", "B"))
    recorder = Recorder()
    trigger = lab.trigger(name, recorder)
    key, blob, other = b"\xff\x00key", b"\x00\x01", b"\x02\x03\x04"
    item = {
        "id": key,
        "blob": blob,
        "blobs": {blob, other},
        "nested": {"inner": blob, "n": Decimal(3), "list": [other, "text", True, None]},
        "tags": {"x", "y"},
        "nums": {Decimal(1), Decimal(2)},
    }
    table.put_item(Item=item)
    table.update_item(
        Key={"id": key},
        UpdateExpression="SET #b = :b",
        ExpressionAttributeNames={"#b": "blob"},
        ExpressionAttributeValues={":b": other},
    )
    run_trigger_until(trigger, at_least(2))

    events = [call["json"] for call in recorder.calls]
    records = [r for text in events for r in json.loads(text)["Records"]]
    assert [r["eventName"] for r in records] == ["INSERT", "MODIFY"]
    assert b64(blob) == "AAE="  # the brief's own example, from the base64 alphabet
    new = records[0]["dynamodb"]["NewImage"]
    assert records[0]["dynamodb"]["Keys"] == {"id": {"B": b64(key)}}
    assert new["id"] == {"B": b64(key)}
    assert new["blob"] == {"B": "AAE="}
    assert sorted(new["blobs"]["BS"]) == sorted([b64(blob), b64(other)])
    assert new["nested"] == {
        "M": {
            "inner": {"B": b64(blob)},
            "n": {"N": "3"},
            "list": {"L": [{"B": b64(other)}, {"S": "text"}, {"BOOL": True}, {"NULL": True}]},
        }
    }
    assert sorted(new["tags"]["SS"]) == ["x", "y"]
    assert sorted(new["nums"]["NS"]) == ["1", "2"]
    modify = records[1]["dynamodb"]
    assert modify["OldImage"]["blob"] == {"B": b64(blob)}
    assert modify["NewImage"]["blob"] == {"B": b64(other)}
    assert modify["Keys"] == {"id": {"B": b64(key)}}
    # the event object itself (not only the handler's copy) is JSON all the way down
    for invocation in trigger.invocations:
        assert json.loads(json.dumps(invocation.event)) == invocation.event


# -- the context -----------------------------------------------------------------------------
def test_context_names_the_function_and_gives_one_request_id_per_invocation(lab, table_name):
    name = table_name("orders")
    table = lab.create_table(name)
    ORDER_CALLS.clear()
    trigger = lab.trigger(name, handle_orders, batch_size=1)
    for pk in "abc":
        table.put_item(Item={"pk": pk})
    invocations = run_trigger_until(trigger, at_least(3))

    calls = list(ORDER_CALLS)
    contexts = [call["context"] for call in calls]
    assert len(contexts) == len(invocations) == 3
    assert {c.function_name for c in contexts} == {handle_orders.__name__}
    assert [c.aws_request_id for c in contexts] == [i.request_id for i in invocations]
    assert len({c.aws_request_id for c in contexts}) == 3
    for call in calls:
        c = call["context"]
        assert 0 < call["remaining_ms"] <= 3000  # measured while the handler ran
        uuid.UUID(c.aws_request_id)
        assert (
            c.invoked_function_arn
            == f"arn:aws:lambda:{c.region}:{c.account_id}:function:{handle_orders.__name__}"
        )
        assert re.fullmatch(
            r"arn:aws:lambda:[a-z]{2}(-[a-z]+)+-\d:\d{12}:function:[A-Za-z0-9_-]+",
            c.invoked_function_arn,
        )
        assert c.log_group_name == f"/aws/lambda/{handle_orders.__name__}"
        # AWS's Python runtime reads it from AWS_LAMBDA_FUNCTION_MEMORY_SIZE: a string.
        assert c.memory_limit_in_mb == "128"


def test_context_function_name_is_the_handlers_name(lab, table_name):
    name = table_name("orders")
    table = lab.create_table(name)
    seen: list[str] = []

    def process_order_events(event: dict[str, Any], context: Any) -> None:
        seen.append(context.function_name)

    trigger = lab.trigger(name, process_order_events)
    table.put_item(Item={"pk": "a"})
    run_trigger_until(trigger, at_least(1))
    assert seen == ["process_order_events"] == [process_order_events.__name__]


# -- lambda_event on hand-built GetRecords output --------------------------------------------
ARN = "arn:aws:dynamodb:us-east-1:123456789012:table/orders/stream/2024-01-02T03:04:05.678"
WHEN = dt.datetime(2024, 1, 2, 3, 4, 5, 678_000, tzinfo=dt.UTC)


def get_records_record(seq: str = "100", when: Any = WHEN) -> dict[str, Any]:
    """One record as boto3's GetRecords returns it (datetime, bytes)."""
    return {
        "eventID": "e-" + seq,
        "eventName": "MODIFY",
        "eventVersion": "1.1",
        "eventSource": "aws:dynamodb",
        "awsRegion": "us-east-1",
        "dynamodb": {
            "ApproximateCreationDateTime": when,
            "Keys": {"pk": {"S": "a"}, "sk": {"B": b"\x00\x01"}},
            "OldImage": {"pk": {"S": "a"}, "sk": {"B": b"\x00\x01"}, "n": {"N": "1"}},
            "NewImage": {
                "pk": {"S": "a"},
                "sk": {"B": b"\x00\x01"},
                "n": {"N": "2"},
                "bs": {"BS": [b"\x01", b"\x02"]},
                "m": {"M": {"b": {"B": b"\xff"}, "l": {"L": [{"B": b"\x00"}]}}},
            },
            "SequenceNumber": seq,
            "SizeBytes": 42,
            "StreamViewType": "NEW_AND_OLD_IMAGES",
        },
    }


def test_lambda_event_converts_datetime_to_epoch_seconds_and_bytes_to_base64():
    records = [get_records_record("100"), get_records_record("101")]
    event = labkit.lambda_event(records, ARN)

    assert list(event) == ["Records"]
    assert [r["dynamodb"]["SequenceNumber"] for r in event["Records"]] == ["100", "101"]
    record = event["Records"][0]
    assert record["eventSourceARN"] == ARN
    created = record["dynamodb"]["ApproximateCreationDateTime"]
    assert type(created) is float  # a JSON number with a fraction, as Lambda sends it
    assert created == calendar.timegm(WHEN.utctimetuple())  # rounded down to the second
    ddb = record["dynamodb"]
    assert ddb["Keys"] == {"pk": {"S": "a"}, "sk": {"B": b64(b"\x00\x01")}}
    assert ddb["OldImage"]["sk"] == {"B": b64(b"\x00\x01")}
    assert ddb["NewImage"]["bs"] == {"BS": [b64(b"\x01"), b64(b"\x02")]}
    assert ddb["NewImage"]["m"] == {
        "M": {"b": {"B": b64(b"\xff")}, "l": {"L": [{"B": b64(b"\x00")}]}}
    }
    assert ddb["NewImage"]["n"] == {"N": "2"}
    for field in ("eventID", "eventName", "eventVersion", "eventSource", "awsRegion"):
        assert record[field] == records[0][field]
    for field in ("SequenceNumber", "SizeBytes", "StreamViewType"):
        assert ddb[field] == records[0]["dynamodb"][field]
    json.dumps(event)


def test_lambda_event_does_not_change_its_input():
    records = [get_records_record()]
    untouched = copy.deepcopy(records)
    labkit.lambda_event(records, ARN)
    assert records == untouched
    assert "eventSourceARN" not in records[0]
    assert isinstance(records[0]["dynamodb"]["ApproximateCreationDateTime"], dt.datetime)


def test_a_handler_changing_its_event_does_not_change_the_records_read():
    record = get_records_record()
    record["dynamodb"]["NewImage"]["tags"] = {"SS": ["a", "b"]}
    event = labkit.lambda_event([record], ARN)
    event["Records"][0]["dynamodb"]["NewImage"]["tags"]["SS"].append("c")
    assert record["dynamodb"]["NewImage"]["tags"] == {"SS": ["a", "b"]}


@pytest.mark.parametrize("when", [1_704_164_645, 1_704_164_645.0, 1_704_164_645.5])
def test_lambda_event_keeps_a_numeric_creation_time_as_a_float(when):
    event = labkit.lambda_event([get_records_record(when=when)], ARN)
    created = event["Records"][0]["dynamodb"]["ApproximateCreationDateTime"]
    assert type(created) is float and created == when


def test_lambda_event_of_no_records_is_an_empty_list():
    assert labkit.lambda_event([], ARN) == {"Records": []}


# -- ApproximateCreationDateTime is a float, as on AWS -----------------------------------------
def test_the_creation_time_arrives_as_a_float_like_on_aws(lab, table_name):
    """On AWS the Lambda event's ApproximateCreationDateTime is a JSON number with a fraction
    (``1733418659.0``), a Python ``float`` after ``json.loads``. Sources: LocalStack's
    AWS-validated ``test_dynamodb_event_filter`` (tests/aws/services/lambda_/event_source_mapping/
    test_lambda_integration_dynamodbstreams.py) asserts ``isinstance(creation_time, float)`` on
    the events AWS delivered, and its EventBridge templates quote a real record's
    ``"ApproximateCreationDateTime": 1733418659.0``; Powertools' parser model
    (aws_lambda_powertools/utilities/parser/models/dynamodb.py) says "AWS sends this as Unix
    epoch float" (example ``1693997155.0``); the Lambda guide's DynamoDB filtering page shows
    ``"1678831218.0"``. What the handler got, and the JSON it was sent as, agree."""
    name = table_name("orders")
    table = lab.create_table(name)
    seen: list[Any] = []

    def handler(event: dict[str, Any], context: Any) -> None:
        seen.append(event["Records"][0]["dynamodb"]["ApproximateCreationDateTime"])

    trigger = lab.trigger(name, handler)
    table.put_item(Item={"pk": "a"})
    (invocation,) = run_trigger_until(trigger, at_least(1))
    (created,) = seen
    assert type(created) is float and created.is_integer()
    text = json.dumps(invocation.event)
    assert f'"ApproximateCreationDateTime": {created!r}' in text  # 1795972680.0, with a fraction
    assert type(json.loads(text)["Records"][0]["dynamodb"]["ApproximateCreationDateTime"]) is float


def test_copying_the_creation_time_into_an_item_fails_as_on_aws(lab, table_name):
    """The trap lesson 05 teaches, met where AWS sets it: a handler that stores the record's
    ApproximateCreationDateTime as it came gets boto3's ``TypeError: Float types are not
    supported. Use Decimal types instead.`` (boto3/dynamodb/types.py, ``TypeSerializer._is_number``
    raises it for any ``float``), because the value is a float on AWS (see the test above). The
    same handler converting with ``Decimal(str(...))`` (or ``int(...)``) stores it."""
    name, copies = table_name("orders"), table_name("copies")
    table = lab.create_table(name)
    target = lab.create_table(copies, stream=None)
    convert = False

    def copy_created(event: dict[str, Any], context: Any) -> None:
        for record in event["Records"]:
            created = record["dynamodb"]["ApproximateCreationDateTime"]
            value = Decimal(str(created)) if convert else created
            target.put_item(Item={"pk": record["dynamodb"]["Keys"]["pk"]["S"], "created": value})

    trigger = lab.trigger(name, copy_created, maximum_retry_attempts=0)
    table.put_item(Item={"pk": "a"})
    (failed,) = run_trigger_until(trigger, at_least(1))
    assert not failed.ok
    assert failed.error == ("TypeError: Float types are not supported. Use Decimal types instead.")
    assert lab.items(copies) == []

    convert = True
    table.put_item(Item={"pk": "b"})
    (stored,) = run_trigger_until(trigger, at_least(1))
    assert stored.ok
    (item,) = lab.items(copies)
    assert item["pk"] == "b" and item["created"] == Decimal(int(item["created"]))

"""Kinesis Data Streams for DynamoDB (lesson 15) on a real local Kinesis (moto's server mode) and
the real DynamoDB Local: the records' shape as AWS documents it, the Kinesis event a trigger
delivers, injected duplicates and reordering, bad input, and the Kinesis server stopped by
``lab.close()`` and by its guard when the Python process dies.

Shapes: the DynamoDB guide's kds.html and Powertools' ``DynamoDBStreamToKinesisRecord`` (the
data), the Lambda guide's Kinesis example event and Powertools' ``KinesisDataStreamRecord`` (the
event).
"""

from __future__ import annotations

import base64
import itertools
import json
import os
import re
import signal
import textwrap
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError
from test_backend_process import (
    GONE_WITHIN_S,
    START_WITHIN_S,
    alive,
    kill_if_alive,
    read_line,
    start_child,
    wait_gone,
)

import labkit
from labkit import _lab
from labkit._errors import LabError, StreamNotEnabledError, TriggerError
from labkit.backend._server import _answers

ROOT = Path(__file__).resolve().parents[1]
_streams = itertools.count(1)

DATA_KEYS = [
    "awsRegion",
    "eventID",
    "eventName",
    "userIdentity",
    "recordFormat",
    "tableName",
    "dynamodb",
    "eventSource",
]
EVENT_KEYS = {
    "kinesis",
    "eventSource",
    "eventVersion",
    "eventID",
    "eventName",
    "invokeIdentityArn",
    "awsRegion",
    "eventSourceARN",
}


def stream_name() -> str:
    return f"test-kinesis-{os.getpid()}-{next(_streams)}"


def collect() -> tuple[list[dict[str, Any]], Callable[[dict[str, Any], Any], None]]:
    events: list[dict[str, Any]] = []

    def handler(event: dict[str, Any], context: Any) -> None:
        events.append(event)

    return events, handler


def data_of(record: dict[str, Any]) -> dict[str, Any]:
    decoded: dict[str, Any] = json.loads(base64.b64decode(record["kinesis"]["data"]))
    return decoded


@pytest.fixture
def changes(lab: labkit.Lab, table_name: Callable[[str], str]) -> Any:
    """A table with a MILLISECOND destination to a 2-shard stream, and three changes of o1."""
    table = lab.create_table(table_name("orders"))
    arn = lab.kinesis_stream(stream_name(), shard_count=2)
    destination = lab.enable_kinesis_streaming_destination(table.table_name, arn, "MILLISECOND")
    table.put_item(Item={"pk": "o1", "version": 1})
    table.update_item(
        Key={"pk": "o1"}, UpdateExpression="SET version = :v", ExpressionAttributeValues={":v": 2}
    )
    table.delete_item(Key={"pk": "o1"})
    return table, arn, destination


def test_dynamodb_local_has_no_kinesis_streaming_destination(
    lab: labkit.Lab, table_name: Callable[[str], str]
) -> None:
    """Why labkit forwards the changes itself (README, Known differences)."""
    if lab.server is None:
        pytest.skip("about the DynamoDB Local labkit starts")
    table = lab.create_table(table_name("orders")).table_name
    arn = lab.kinesis_stream(stream_name())
    with pytest.raises(ClientError) as caught:
        lab.dynamodb.enable_kinesis_streaming_destination(TableName=table, StreamArn=arn)
    assert caught.value.response["Error"]["Code"] == "UnknownOperationException"


def test_records_have_the_shape_aws_documents(lab: labkit.Lab, changes: Any) -> None:
    table, arn, _ = changes
    events, handler = collect()
    lab.trigger(arn, handler).run_until_idle()
    records = [r for e in events for r in e["Records"]]
    assert [data_of(r)["eventName"] for r in records] == ["INSERT", "MODIFY", "REMOVE"]
    for record in records:
        data = data_of(record)
        assert list(data) == DATA_KEYS
        assert data["recordFormat"] == "application/json"
        assert data["eventSource"] == "aws:dynamodb"
        assert data["tableName"] == table.table_name
        assert data["awsRegion"] == lab.region
        assert data["userIdentity"] is None
        ddb = data["dynamodb"]
        assert ddb["Keys"] == {"pk": {"S": "o1"}}
        assert ddb["ApproximateCreationDateTimePrecision"] == "MILLISECOND"
        assert isinstance(ddb["SizeBytes"], int) and ddb["SizeBytes"] > 0
        # epoch milliseconds: 13 digits, close to the record's arrival in Kinesis
        created = ddb["ApproximateCreationDateTime"]
        assert isinstance(created, int) and len(str(created)) == 13
        assert abs(created / 1000 - record["kinesis"]["approximateArrivalTimestamp"]) < 60
    images = [{k for k in ("NewImage", "OldImage") if k in data_of(r)["dynamodb"]} for r in records]
    assert images == [{"NewImage"}, {"NewImage", "OldImage"}, {"OldImage"}]
    assert data_of(records[1])["dynamodb"]["OldImage"]["version"] == {"N": "1"}
    stamps = [data_of(r)["dynamodb"]["ApproximateCreationDateTime"] for r in records]
    assert stamps == sorted(stamps) and len(set(stamps)) == 3
    # one item, one partition key: 32 hex digits, as AWS writes them
    keys = {r["kinesis"]["partitionKey"] for r in records}
    assert len(keys) == 1 and re.fullmatch(r"[0-9A-F]{32}", keys.pop())


def test_microsecond_precision_is_the_default(
    lab: labkit.Lab, table_name: Callable[[str], str]
) -> None:
    table = lab.create_table(table_name("orders"))
    arn = lab.kinesis_stream(stream_name())
    destination = lab.enable_kinesis_streaming_destination(table.table_name, arn)
    assert destination.describe() == {
        "StreamArn": arn,
        "DestinationStatus": "ACTIVE",
        "ApproximateCreationDateTimePrecision": "MICROSECOND",
    }
    table.put_item(Item={"pk": "a"})
    shard = lab.kinesis.list_shards(StreamARN=arn)["Shards"][0]["ShardId"]
    iterator = lab.kinesis.get_shard_iterator(
        StreamARN=arn, ShardId=shard, ShardIteratorType="TRIM_HORIZON"
    )["ShardIterator"]
    # a GetRecords through lab.kinesis forwards the pending change first
    (record,) = lab.kinesis.get_records(ShardIterator=iterator, StreamARN=arn)["Records"]
    created = json.loads(record["Data"])["dynamodb"]["ApproximateCreationDateTime"]
    assert len(str(created)) == 16  # epoch microseconds


def test_trigger_event_has_the_kinesis_shape(lab: labkit.Lab, changes: Any) -> None:
    _, arn, _ = changes
    events, handler = collect()
    invocations = lab.trigger(arn, handler, batch_size=2).run_until_idle()
    assert [len(i.records) for i in invocations] == [2, 1]  # batch_size holds
    record = events[0]["Records"][0]
    assert set(record) == EVENT_KEYS
    assert record["eventSource"] == "aws:kinesis"
    assert record["eventName"] == "aws:kinesis:record"
    assert record["eventVersion"] == "1.0"
    assert record["eventSourceARN"] == arn
    assert record["awsRegion"] == arn.split(":")[3]
    kinesis = record["kinesis"]
    assert set(kinesis) == {
        "kinesisSchemaVersion",
        "partitionKey",
        "sequenceNumber",
        "data",
        "approximateArrivalTimestamp",
    }
    assert isinstance(kinesis["approximateArrivalTimestamp"], float)
    shard = lab.kinesis.list_shards(StreamARN=arn)["Shards"]
    assert record["eventID"].split(":")[0] in {s["ShardId"] for s in shard}
    assert record["eventID"].endswith(f":{kinesis['sequenceNumber']}")
    assert invocations[0].sequence_numbers == [
        r["kinesis"]["sequenceNumber"] for r in events[0]["Records"]
    ]


def test_injected_duplicates_and_reordering_are_labelled(lab: labkit.Lab, changes: Any) -> None:
    _, arn, destination = changes
    rows = destination.forward(duplicates=1, out_of_order=1)
    assert [(r["eventName"], r["injected"][:12]) for r in rows] == [
        ("MODIFY", "sent before "),
        ("INSERT", "sent after t"),
        ("REMOVE", ""),
        ("INSERT", "duplicate of"),
    ]
    assert rows[3]["injected"] == f"duplicate of #{rows[1]['SequenceNumber']}"
    events, handler = collect()
    lab.trigger(arn, handler).run_until_idle()
    data = [data_of(r) for e in events for r in e["Records"]]
    assert [d["eventName"] for d in data] == ["MODIFY", "INSERT", "REMOVE", "INSERT"]
    assert data[3] == data[1]  # the very same notification, a new sequence number
    assert destination.forward() == []  # nothing pending, nothing injected unasked


def test_more_than_two_consumers_each_get_every_record(lab: labkit.Lab, changes: Any) -> None:
    _, arn, _ = changes
    seen = []
    for n in range(3):
        events, handler = collect()
        lab.trigger(arn, handler, function_name=f"consumer_{n}").run_until_idle()
        seen.append([data_of(r)["eventName"] for e in events for r in e["Records"]])
    assert seen == [["INSERT", "MODIFY", "REMOVE"]] * 3


def test_retention_is_24_hours_by_default_and_up_to_365_days(lab: labkit.Lab) -> None:
    short = lab.kinesis_stream(stream_name())
    long = lab.kinesis_stream(stream_name(), retention_period_hours=8760)
    hours = [
        lab.kinesis.describe_stream_summary(StreamARN=arn)["StreamDescriptionSummary"][
            "RetentionPeriodHours"
        ]
        for arn in (short, long)
    ]
    assert hours == [24, 8760]


@pytest.mark.parametrize(
    ("call", "error", "words"),
    [
        (lambda lab, t, a: lab.kinesis_stream("bad name!"), StreamNotEnabledError, "stream name"),
        (
            lambda lab, t, a: lab.kinesis_stream(stream_name(), retention_period_hours=12),
            StreamNotEnabledError,
            "24 hours to 365 days",
        ),
        (
            lambda lab, t, a: lab.kinesis_stream(stream_name(), shard_count=0),
            StreamNotEnabledError,
            "shard_count",
        ),
        (
            lambda lab, t, a: lab.enable_kinesis_streaming_destination(t, a, "SECOND"),
            TriggerError,
            "MILLISECOND",
        ),
        (
            lambda lab, t, a: lab.enable_kinesis_streaming_destination(t, "orders-stream"),
            StreamNotEnabledError,
            "not a Kinesis stream ARN",
        ),
        (
            lambda lab, t, a: lab.enable_kinesis_streaming_destination(
                t, a.replace("stream/", "stream/missing-")
            ),
            StreamNotEnabledError,
            "no Kinesis stream",
        ),
        (
            lambda lab, t, a: lab.trigger(a, print, filter_criteria={"Filters": []}),
            TriggerError,
            "filter_criteria",
        ),
        (lambda lab, t, a: lab.trigger(a, print, batch_size=0), LabError, "batch_size"),
    ],
)
def test_bad_input_is_a_labkit_error(
    lab: labkit.Lab,
    table_name: Callable[[str], str],
    call: Callable[..., Any],
    error: type[LabError],
    words: str,
) -> None:
    table = lab.create_table(table_name("orders")).table_name
    arn = lab.kinesis_stream(stream_name())
    with pytest.raises(error, match=words):
        call(lab, table, arn)


def test_reset_deletes_the_labs_streams_and_destinations() -> None:
    lab = _lab._launch(None)  # reset deletes every table of a lab: not the session's
    try:
        lab.create_table("orders")
        arn = lab.kinesis_stream("reset-test")
        lab.enable_kinesis_streaming_destination("orders", arn)
        lab.reset()
        assert lab.kinesis_streams == [] and lab.kinesis_destinations == []
        assert lab.kinesis.list_streams()["StreamNames"] == []
        assert lab.kinesis_stream("reset-test") == arn  # the name is free again
    finally:
        lab.close()


def test_a_keys_only_table_cannot_stream_to_kinesis(
    lab: labkit.Lab, table_name: Callable[[str], str]
) -> None:
    table = lab.create_table(table_name("orders"), stream="KEYS_ONLY").table_name
    with pytest.raises(StreamNotEnabledError, match="NEW_AND_OLD_IMAGES"):
        lab.enable_kinesis_streaming_destination(table, lab.kinesis_stream(stream_name()))


def test_kinesis_starts_only_when_asked_and_close_stops_it() -> None:
    threads_before = set(threading.enumerate())
    lab = _lab._launch(None)  # a lab of its own, beside the session's
    try:
        assert lab.kinesis_server is None  # lk.start() does not start Kinesis
        lab.kinesis_stream("close-test")
        server = lab.kinesis_server
        assert server is not None and server.pid is not None and server._guard is not None
        pid, guard, log = server.pid, server._guard.pid, server.log_path
        assert alive(pid) and alive(guard) and _answers(server.port)
        lab.close()
        assert wait_gone(pid), f"the Kinesis server (pid {pid}) still runs after close()"
        assert wait_gone(guard), f"its guard (pid {guard}) still runs after close()"
        assert not _answers(server.port)
        assert log is not None and not log.exists()
        assert set(threading.enumerate()) == threads_before
    finally:
        lab.close()


def test_a_killed_kinesis_is_a_labkit_error_and_the_next_use_starts_a_fresh_one() -> None:
    lab = _lab._launch(None)
    try:
        arn = lab.kinesis_stream("killed-test")
        server = lab.kinesis_server
        assert server is not None and server.pid is not None
        os.kill(server.pid, signal.SIGKILL)
        assert wait_gone(server.pid)
        with pytest.raises(labkit.BackendStoppedError, match="local Kinesis stopped"):
            lab.kinesis.describe_stream_summary(StreamARN=arn)
        assert lab.kinesis_streams == []
        assert lab.kinesis_stream("killed-test") == arn  # a fresh server, the name free
        assert lab.kinesis_server is not server
    finally:
        lab.close()


CHILD = textwrap.dedent("""
    import time
    import labkit
    lab = labkit.start()
    lab.kinesis_stream("guard-test")
    k = lab.kinesis_server
    print(k.pid, k._guard.pid, k.port, k.log_path, flush=True)
    time.sleep(600)
""")


def test_the_guard_stops_kinesis_when_its_python_process_is_sigkilled() -> None:
    child = start_child(CHILD)
    pid = guard = None
    log = None
    try:
        line = read_line(child.stdout, START_WITHIN_S)
        assert line, "the child did not start the Kinesis server"
        first, second, port, path = line.split(maxsplit=3)
        pid, guard, log = int(first), int(second), Path(path)
        assert alive(pid) and _answers(int(port))
        child.send_signal(signal.SIGKILL)  # no atexit, no finally: only the guard can help
        child.wait()
        assert wait_gone(pid), f"the Kinesis server (pid {pid}) outlived its SIGKILLed parent"
        assert wait_gone(guard, zombie_ok=True)
        assert not _answers(int(port))
        deadline = time.monotonic() + GONE_WITHIN_S  # the guard removes the log it wrote
        while log.exists() and time.monotonic() < deadline:
            time.sleep(0.05)
        assert not log.exists(), f"{log} outlived the SIGKILLed parent"
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()
        assert child.stdout is not None
        child.stdout.close()
        kill_if_alive(pid)
        kill_if_alive(guard)
        if log is not None:
            log.unlink(missing_ok=True)


def test_default_kinesis_clients_reach_the_local_kinesis(lab: labkit.Lab) -> None:
    """A function written the AWS way (``boto3.client("kinesis")``, no endpoint) reaches the
    lab's local Kinesis, as its DynamoDB client reaches DynamoDB Local (backend/_sdk.py,
    ``redirect_service``: the service-specific ``AWS_ENDPOINT_URL_KINESIS``)."""
    import boto3

    arn = lab.kinesis_stream(stream_name())
    assert os.environ.get("AWS_ENDPOINT_URL_KINESIS") == lab.kinesis_server.endpoint_url
    seen: list[str] = []

    def handler(event: dict[str, Any], context: Any) -> None:
        summary = boto3.client("kinesis").describe_stream_summary(StreamARN=arn)
        seen.append(summary["StreamDescriptionSummary"]["StreamARN"])

    trigger = lab.trigger(arn, handler, starting_position="TRIM_HORIZON")
    lab.kinesis.put_record(StreamARN=arn, Data=b"{}", PartitionKey="k")
    trigger.run_until_idle()
    assert seen == [arn]


def test_redirect_service_restores_its_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    from labkit.backend import _sdk

    monkeypatch.setenv("AWS_ENDPOINT_URL_KINESIS", "http://127.0.0.1:1")
    extra = _sdk.redirect_service("AWS_ENDPOINT_URL_KINESIS", "http://127.0.0.1:2/", "us-east-1")
    assert os.environ["AWS_ENDPOINT_URL_KINESIS"] == "http://127.0.0.1:2"
    extra.restore()
    assert os.environ["AWS_ENDPOINT_URL_KINESIS"] == "http://127.0.0.1:1"


def test_a_tracer_follows_a_kinesis_trigger_through_its_tables_changes(lab: labkit.Lab) -> None:
    """lk.Tracer on a Kinesis trigger: a step's records are the changes of the table whose
    Kinesis destination the stream is, and its invocations are the Kinesis trigger's."""
    from labkit.teach import Tracer

    table = lab.create_table(f"traced-{stream_name()}")
    arn = lab.kinesis_stream(stream_name())
    got: list[str] = []

    def handler(event: dict[str, Any], context: Any) -> None:
        for record in event["Records"]:
            got.append(json.loads(base64.b64decode(record["kinesis"]["data"]))["eventName"])

    trigger = lab.trigger(arn, handler, starting_position="TRIM_HORIZON")
    with pytest.raises(labkit.TraceError, match="no table of the lab sends its changes"):
        Tracer(lab, trigger)
    lab.enable_kinesis_streaming_destination(table.table_name, arn)
    trace = Tracer(lab, trigger)
    with trace.step("insert then update"):
        table.put_item(Item={"pk": "a", "n": 1})
        table.put_item(Item={"pk": "a", "n": 2})
    step = trace.steps[0]
    assert step.event_names == ["INSERT", "MODIFY"]
    assert got == ["INSERT", "MODIFY"]
    assert sum(len(i.records) for i in step.invocations) == 2


def test_a_kinesis_triggers_policy_reads_kinesis_and_the_template_says_it_is_for_tables(
    lab: labkit.Lab,
) -> None:
    """The execution role of a function on a Kinesis stream needs the Kinesis read actions of
    AWSLambdaKinesisExecutionRole on the stream's ARN in the account deployed to, not DynamoDB
    Streams' (labkit/esm/_deploy.py [L5]); the CloudFormation template, which describes a table
    and its DynamoDB stream, refuses such a trigger with a fix."""
    arn = lab.kinesis_stream(stream_name())
    trigger = lab.trigger(arn, lambda event, context: None, function_name="kinesis-reader")
    with pytest.raises(labkit.DeployError, match="local Kinesis"):
        labkit.iam_policy(trigger)
    policy = labkit.iam_policy(trigger, region="eu-west-1", account="123456789012")
    read = policy["Statement"][0]
    assert (
        read["Resource"]
        == f"arn:aws:kinesis:eu-west-1:123456789012:stream/{arn.rpartition('/')[2]}"
    )
    assert {"kinesis:GetRecords", "kinesis:GetShardIterator", "kinesis:ListShards"} <= set(
        read["Action"]
    )
    assert not any(a.startswith("dynamodb:") for s in policy["Statement"] for a in s["Action"])
    with pytest.raises(labkit.DeployError, match="Kinesis stream"):
        labkit.cloudformation_template(trigger)

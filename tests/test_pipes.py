"""EventBridge Pipes from a DynamoDB stream (``lab.pipe``): source parameters with the Pipes API's
ranges, filtering with Pipes' rules, enrichment, input transformers, Lambda and queue targets,
partial batch failures by eventID, AUTOMATIC_BISECT, retries and the dead-letter queue.

All on a real DynamoDB Local. Each expectation names the AWS page it follows (quoted in
``labkit/esm/_pipe.py``, ``_pipe_params.py`` and ``_transformer.py``).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest

import labkit
from labkit.esm._pipe_params import DEFAULTS, pipes_shape
from labkit.esm._transformer import InputTemplate, PipeNames

TRIM = {"DynamoDBStreamParameters": {"StartingPosition": "TRIM_HORIZON"}}


def source(**params: Any) -> dict[str, Any]:
    return {"DynamoDBStreamParameters": {"StartingPosition": "TRIM_HORIZON", **params}}


def pk(record: dict[str, Any]) -> str:
    return str(record["dynamodb"]["Keys"]["pk"]["S"])


@pytest.fixture
def orders(lab: labkit.Lab, table_name: Callable[[str], str]) -> str:
    name = table_name("orders")
    lab.create_table(name)
    return name


def write(lab: labkit.Lab, table: str, *keys: str) -> None:
    for key in keys:
        lab.table(table).put_item(Item={"pk": key, "status": "new", "total": 10})


# -- what the target gets ----------------------------------------------------------------------
def test_a_lambda_target_gets_a_json_array_of_lambda_shaped_records(lab, orders):
    """ "Amazon DynamoDB stream as a source": the pipe's event is an array of records, each as a
    Lambda mapping delivers it (eventID, eventName, dynamodb, eventSourceARN); never
    {"Records": [...]}, even for one record."""
    got: list[Any] = []
    pipe = lab.pipe("array-shape", orders, lambda e, c: got.append(e), source_parameters=TRIM)
    write(lab, orders, "o1")
    pipe.run_until_idle()
    (event,) = got
    assert isinstance(event, list) and len(event) == 1
    assert set(event[0]) >= {"eventID", "eventName", "dynamodb", "eventSourceARN", "awsRegion"}
    assert event[0]["eventSourceARN"] == lab.stream_arn(orders)
    assert event[0]["dynamodb"]["NewImage"]["status"] == {"S": "new"}
    pipe.close()


def test_batch_size_batches_and_the_default_is_100(lab, orders):
    got: list[list[Any]] = []
    write(lab, orders, *[f"o{i}" for i in range(5)])
    pipe = lab.pipe(
        "batches", orders, lambda e, c: got.append(e), source_parameters=source(BatchSize=2)
    )
    pipe.run_until_idle()
    assert [len(b) for b in got] == [2, 2, 1]
    assert pipe.parameters["BatchSize"] == 2
    default = lab.pipe("default-batch", orders, lambda e, c: None, source_parameters=TRIM)
    assert default.parameters["BatchSize"] == DEFAULTS["BatchSize"] == 100
    assert default.parameters["MaximumRetryAttempts"] == -1
    pipe.close()
    default.close()


# -- parameters checked when the pipe is made --------------------------------------------------
@pytest.mark.parametrize(
    ("member", "bad"),
    [
        ("BatchSize", 0),
        ("BatchSize", 10_001),
        ("MaximumBatchingWindowInSeconds", 301),
        ("MaximumRetryAttempts", -2),
        ("MaximumRetryAttempts", 10_001),
        ("MaximumRecordAgeInSeconds", 604_801),
        ("MaximumRecordAgeInSeconds", 30),
        ("ParallelizationFactor", 11),
        ("ParallelizationFactor", 0),
        ("BatchSize", "10"),
    ],
)
def test_out_of_range_parameters_are_refused_with_the_range(lab, orders, member, bad):
    with pytest.raises(labkit.InvalidTriggerOptionError) as err:
        lab.pipe("bad", orders, lambda e, c: None, source_parameters=source(**{member: bad}))
    assert member in err.value.what and err.value.fix


def test_the_ranges_are_botocores_pipes_model():
    members = pipes_shape("PipeSourceDynamoDBStreamParameters").members
    assert members["BatchSize"].metadata == {"min": 1, "max": 10000}
    assert members["MaximumRecordAgeInSeconds"].metadata["min"] == -1
    assert pipes_shape("PipeSourceDynamoDBStreamParameters").required_members == [
        "StartingPosition"
    ]


def test_starting_position_is_required(lab, orders):
    with pytest.raises(labkit.InvalidTriggerOptionError, match="required"):
        lab.pipe(
            "no-start",
            orders,
            lambda e, c: None,
            source_parameters={"DynamoDBStreamParameters": {}},
        )


def test_lambda_option_names_are_refused_with_the_pipes_name(lab, orders):
    with pytest.raises(labkit.InvalidTriggerOptionError, match="AUTOMATIC_BISECT"):
        lab.pipe(
            "lambda-names",
            orders,
            lambda e, c: None,
            source_parameters=source(BisectBatchOnFunctionError=True),
        )


def test_a_table_is_not_a_pipes_target(lab, orders):
    with pytest.raises(labkit.TriggerError, match="DynamoDB is not one of"):
        lab.pipe("to-table", orders, orders, source_parameters=TRIM)


def test_a_queue_target_takes_at_most_10_records_a_batch(lab, orders, table_name):
    queue = lab.queue(table_name("q"))
    with pytest.raises(labkit.TriggerError, match="at most 10"):
        lab.pipe("big-batch", orders, queue, source_parameters=TRIM)  # default 100


# -- filtering -------------------------------------------------------------------------------
def test_a_pipe_refuses_an_event_name_filter_that_a_trigger_accepts(lab, orders):
    """ "Amazon EventBridge Pipes filtering": eventName is among the fields that "can't be used in
    event patterns"; the lab's Lambda mapping accepts it."""
    criteria = {"Filters": [{"Pattern": json.dumps({"eventName": ["INSERT"]})}]}
    trigger = lab.trigger(orders, lambda e, c: None, filter_criteria=criteria)
    trigger.close()
    with pytest.raises(labkit.InvalidTriggerOptionError, match="eventName"):
        lab.pipe(
            "by-name",
            orders,
            lambda e, c: None,
            source_parameters={**TRIM, "FilterCriteria": criteria},
        )


def test_a_filter_inside_dynamodb_delivers_only_matching_records(lab, orders):
    got: list[str] = []
    inserts = {"dynamodb": {"OldImage": {"pk": {"S": [{"exists": False}]}}}}
    pipe = lab.pipe(
        "inserts",
        orders,
        lambda e, c: got.extend(pk(r) for r in e),
        source_parameters={
            **TRIM,
            "FilterCriteria": {"Filters": [{"Pattern": json.dumps(inserts)}]},
        },
    )
    write(lab, orders, "o1", "o2")
    lab.table(orders).update_item(
        Key={"pk": "o1"}, UpdateExpression="SET amount = :t", ExpressionAttributeValues={":t": 20}
    )
    pipe.run_until_idle()
    assert got == ["o1", "o2"]
    pipe.close()


# -- enrichment and transformers ----------------------------------------------------------------
def test_the_enrichment_result_is_what_the_target_gets(lab, orders):
    got: list[Any] = []

    def enrich(event, context):
        return [{"order": pk(r), "id": r["eventID"]} for r in event if pk(r) != "o2"]

    pipe = lab.pipe(
        "enriched", orders, lambda e, c: got.append(e), source_parameters=TRIM, enrichment=enrich
    )
    write(lab, orders, "o1", "o2", "o3")
    pipe.run_until_idle()
    assert [item["order"] for item in got[0]] == ["o1", "o3"]
    assert pipe.executions[0].enrichment_input[0]["eventName"] == "INSERT"
    pipe.close()


def test_an_empty_enrichment_response_skips_the_target(lab, orders):
    """The pipe's "Enrichment" section: "If you don't want to invoke the target, return an empty
    response, such as "", {}, or []"."""
    calls: list[Any] = []
    pipe = lab.pipe(
        "skip-target",
        orders,
        lambda e, c: calls.append(e),
        source_parameters=TRIM,
        enrichment=lambda e, c: [],
    )
    write(lab, orders, "o1")
    (invocation,) = pipe.run_until_idle()
    assert calls == [] and invocation.ok
    assert not pipe.executions[0].target_invoked
    pipe.close()


def test_an_enrichment_error_fails_the_whole_batch(lab, orders):
    def enrich(event, context):
        raise RuntimeError("lookup down")

    pipe = lab.pipe(
        "enrich-fails",
        orders,
        lambda e, c: None,
        source_parameters=source(MaximumRetryAttempts=1),
        enrichment=enrich,
    )
    write(lab, orders, "o1")
    pipe.run_until_idle()
    assert [i.outcome.value for i in pipe.invocations] == ["error", "error"]
    assert "enrichment failed" in pipe.invocations[0].error
    assert [d.condition for d in pipe.discards] == ["RetryAttemptsExhausted"]
    pipe.close()


def test_a_target_input_template_is_applied_to_each_record(lab, orders, table_name):
    queue = lab.queue(table_name("shipping"))
    template = (
        '{"order": <$.dynamodb.Keys.pk.S>, "note": "status <$.dynamodb.NewImage.status.S>", '
        '"pipe": <aws.pipes.pipe-name>, "missing": <$.dynamodb.NewImage.nope.S>}'
    )
    pipe = lab.pipe(
        "to-queue",
        orders,
        queue,
        source_parameters=source(BatchSize=10),
        target_parameters={"InputTemplate": template},
    )
    write(lab, orders, "o1", "o2")
    pipe.run_until_idle()
    assert queue.bodies() == [
        {"order": "o1", "note": "status new", "pipe": "to-queue", "missing": None},
        {"order": "o2", "note": "status new", "pipe": "to-queue", "missing": None},
    ]
    assert [m["MessageId"] for m in queue.messages()] == ["000001", "000002"]
    pipe.close()


NAMES = PipeNames("arn:aws:pipes:us-east-1:0:pipe/p", "p", "arn:src")
EVENT = {"a": {"b": [{"c": "x"}, {"c": "y"}]}, "n": 5, "s": 'say "hi"'}


@pytest.mark.parametrize(
    ("template", "expected"),
    [
        ("<$.a.b[1].c>", "y"),  # a lone path: the value itself
        ("<$.a>", EVENT["a"]),
        ("Hello, <$.a.b[0].c>!", "Hello, x!"),  # a string template: text
        ('{"v": <$.n>, "t": "<$.n> items"}', {"v": 5, "t": "5 items"}),
        ('{"q": "<$.s>"}', {"q": 'say "hi"'}),  # escaped inside its string
        ('{"all": <$.a.b[*].c>}', {"all": ["x", "y"]}),
        ('{"e": <aws.pipes.event.json>}', {"e": EVENT}),
        ('{"name": <aws.pipes.pipe-name>}', {"name": "p"}),
        ("static text", "static text"),
        ('Said: "<$.s>"', 'Said: "say "hi""'),  # a text template is text, nothing escaped
    ],
)
def test_input_templates_render_as_documented(template, expected):
    assert InputTemplate(template).render(EVENT, NAMES) == expected


@pytest.mark.parametrize(
    ("template", "why"),
    [
        ('{"e": "<aws.pipes.event.json>"}', "only be"),
        ("<aws.pipes.nope>", "reserved"),
        ("<$.a..b>", "cannot read"),
        ('{"a": <$.n>,}', "not valid JSON"),
        ("x" * 8193, "8,192"),
    ],
)
def test_bad_templates_are_refused_when_the_pipe_is_made(template, why):
    with pytest.raises(labkit.InvalidTriggerOptionError, match=why):
        InputTemplate(template)


# -- failures ---------------------------------------------------------------------------------
def test_batch_item_failures_name_event_ids_and_retry_from_the_lowest(lab, orders):
    """ "Batching and concurrency": "For Kinesis and DynamoDB, this is the eventID"."""
    seen: list[list[str]] = []

    def target(event, context):
        seen.append([pk(r) for r in event])
        if len(seen) == 1:
            return {"batchItemFailures": [{"itemIdentifier": event[1]["eventID"]}]}
        return None

    pipe = lab.pipe("partial", orders, target, source_parameters=TRIM)
    write(lab, orders, "o1", "o2", "o3")
    pipe.run_until_idle()
    assert seen == [["o1", "o2", "o3"], ["o2", "o3"]]
    assert [i.outcome.value for i in pipe.invocations] == ["partial failure", "success"]
    pipe.close()


def test_a_sequence_number_as_item_identifier_fails_the_whole_batch(lab, orders):
    """The Lambda mapping's identifier is not the pipe's: an itemIdentifier that names no record
    is "a bad key name", a complete failure."""

    def target(event, context):
        return {"batchItemFailures": [{"itemIdentifier": event[0]["dynamodb"]["SequenceNumber"]}]}

    pipe = lab.pipe("seq-ids", orders, target, source_parameters=source(MaximumRetryAttempts=0))
    write(lab, orders, "o1")
    pipe.run_until_idle()
    assert pipe.invocations[0].outcome.value == "error"
    assert "invalid itemIdentifier" in pipe.invocations[0].error
    pipe.close()


def test_automatic_bisect_isolates_the_poison_record_into_the_dead_letter_queue(
    lab, orders, table_name
):
    dlq = lab.queue(table_name("dlq"))

    def target(event, context):
        if any(pk(r) == "poison" for r in event):
            raise ValueError("cannot ship")

    pipe = lab.pipe(
        "bisect",
        orders,
        target,
        source_parameters=source(
            MaximumRetryAttempts=0,
            OnPartialBatchItemFailure="AUTOMATIC_BISECT",
            DeadLetterConfig={"Arn": dlq.arn},
        ),
    )
    write(lab, orders, "o1", "poison", "o3", "o4")
    pipe.run_until_idle()
    (letter,) = dlq.bodies()
    assert letter["requestContext"]["condition"] == "RetryAttemptsExhausted"
    assert letter["requestContext"]["functionArn"] == pipe.arn
    assert letter["DDBStreamBatchInfo"]["batchSize"] == 1
    delivered = [pk(r) for i in pipe.invocations if i.ok for r in i.records]
    assert sorted(delivered) == ["o1", "o3", "o4"]
    pipe.close()


def test_records_older_than_the_maximum_age_go_to_the_dead_letter_queue(lab, orders, table_name):
    """MaximumRecordAgeInSeconds: "Discard records older than the specified age" (botocore's
    model); the pipe's clock is moved an hour on instead of waiting."""
    import time

    dlq = lab.queue(table_name("dlq"))
    called: list[Any] = []
    pipe = lab.pipe(
        "too-old",
        orders,
        lambda e, c: called.append(e),
        source_parameters=source(MaximumRecordAgeInSeconds=60, DeadLetterConfig={"Arn": dlq.arn}),
    )
    write(lab, orders, "o1")
    pipe.clock = lambda: time.time() + 3600
    pipe.run_until_idle()
    assert called == []
    assert [b["requestContext"]["condition"] for b in dlq.bodies()] == ["RecordAgeExceeded"]
    pipe.close()


def test_a_dead_letter_arn_must_be_a_lab_queue(lab, orders):
    with pytest.raises(labkit.TriggerError, match="lab queue"):
        lab.pipe(
            "bad-dlq",
            orders,
            lambda e, c: None,
            source_parameters=source(DeadLetterConfig={"Arn": "arn:aws:sqs:us-east-1:1:nope"}),
        )


# -- life and deployment -------------------------------------------------------------------------
def test_making_a_pipe_again_replaces_it_and_goes_on_from_its_place(lab, orders):
    got: list[str] = []
    first = lab.pipe(
        "again", orders, lambda e, c: got.extend(pk(r) for r in e), source_parameters=TRIM
    )
    write(lab, orders, "o1")
    first.run_until_idle()
    second = lab.pipe(
        "again", orders, lambda e, c: got.extend(pk(r) for r in e), source_parameters=TRIM
    )
    write(lab, orders, "o2")
    second.run_until_idle()
    assert got == ["o1", "o2"] and first.closed
    with pytest.raises(labkit.TriggerError, match="closed"):
        first.run_until_idle()
    second.close()


def test_start_and_stop_poll_in_the_background(lab, orders):
    import time

    got: list[str] = []
    pipe = lab.pipe(
        "live", orders, lambda e, c: got.extend(pk(r) for r in e), source_parameters=TRIM
    )
    pipe.start()
    write(lab, orders, "o1")
    deadline = time.monotonic() + 20
    while not got and time.monotonic() < deadline:
        time.sleep(0.05)
    pipe.stop()
    assert got == ["o1"] and not pipe.running
    pipe.close()


def test_create_pipe_args_pass_botocores_check(lab, orders, table_name):
    queue = lab.queue(table_name("q"))
    pipe = lab.pipe(
        "deployable",
        orders,
        queue,
        source_parameters={
            **source(BatchSize=10),
            "FilterCriteria": {
                "Filters": [{"Pattern": '{"dynamodb": {"Keys": {"pk": {"S": [{"prefix": "o"}]}}}}'}]
            },
        },
        target_parameters={"InputTemplate": '{"order": <$.dynamodb.Keys.pk.S>}'},
    )
    args = pipe.create_pipe_args(role_arn="arn:aws:iam::123456789012:role/pipe")
    assert (
        args["SourceParameters"]["DynamoDBStreamParameters"]["StartingPosition"] == "TRIM_HORIZON"
    )
    assert args["Target"] == queue.arn
    assert args["SourceParameters"]["FilterCriteria"]["Filters"][0]["Pattern"].startswith("{")
    pipe.close()


def test_lab_reset_closes_pipes_and_lab_close_stops_a_running_one():
    """In a process of its own, so the session's lab and its tables stay."""
    import subprocess
    import sys

    code = (
        "import labkit as lk\n"
        "lab = lk.start()\n"
        "lab.create_table('orders')\n"
        "params = {'DynamoDBStreamParameters': {'StartingPosition': 'LATEST'}}\n"
        "first = lab.pipe('p', 'orders', lambda e, c: None, source_parameters=params)\n"
        "lab.reset()\n"
        "print('reset', first.closed, lab.pipes)\n"
        "lab.create_table('orders')\n"
        "p = lab.pipe('p', 'orders', lambda e, c: None, source_parameters=params)\n"
        "p.start()\n"
        "lab.close()\n"
        "print('running' if p.running else 'stopped', p.closed)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=False
    )
    assert done.stdout.split() == ["reset", "True", "[]", "stopped", "True"], done.stderr


def test_a_pipe_is_refused_by_the_mapping_deployment_helpers_with_the_pipes_way(lab, orders):
    """lk.iam_policy and lk.cloudformation_template describe a Lambda mapping and its role;
    a pipe has neither, so they refuse it and point to create_pipe_args and the pipe's role."""
    import labkit

    pipe = lab.pipe("deploy-refused", orders, lambda e, c: None, source_parameters=TRIM)
    for call in (
        lambda: labkit.iam_policy(pipe, region="eu-west-1", account="123456789012"),
        lambda: labkit.cloudformation_template(pipe),
    ):
        with pytest.raises(labkit.DeployError, match="create_pipe_args"):
            call()
    with pytest.raises(labkit.TriggerError, match="create_pipe_args"):
        pipe.esm_config()

"""Event-source-mapping options on a real DynamoDB Local: ranges, batching, filtering, esm_config().

Every range and default comes from the AWS Lambda Developer Guide, "Lambda parameters for Amazon
DynamoDB event source mappings" (services-ddb-params), and the Lambda API reference,
"CreateEventSourceMapping" (the request parameters, their valid ranges and values). A value
Lambda would refuse must be refused by ``lab.trigger(...)`` with an ``InvalidTriggerOptionError``
whose message names the option.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import botocore.session
import pytest
from _esm import names_option, pks, put_items, seq, seqs, stream_records, trigger_factory
from _streamcheck import POLL_TIMEOUT_S, per_key
from botocore.exceptions import ParamValidationError
from botocore.validate import validate_parameters

import labkit


def ignore(event: dict[str, Any], context: Any) -> None:
    """A handler that accepts every batch."""


@pytest.fixture
def make_trigger(lab: labkit.Lab) -> Iterator[Callable[..., labkit.Trigger]]:
    yield from trigger_factory(lab)


@pytest.fixture(scope="module")
def options_table(lab: labkit.Lab) -> Iterator[str]:
    """One table with a stream for the option checks (they read no records)."""
    name = f"test_esm_options.{uuid.uuid4().hex[:8]}.orders"
    lab.create_table(name)
    yield name
    lab.dynamodb.delete_table(TableName=name)


# -- ranges ----------------------------------------------------------------------------------
# (option, values Lambda accepts, values it refuses). Boundaries are the documented ones.
RANGES: list[tuple[str, list[Any], list[Any]]] = [
    ("batch_size", [1, 100, 10_000], [0, -1, 10_001, 1.5, "10", True, None]),
    ("maximum_batching_window_in_seconds", [0, 300], [-1, 301, 0.5, "5"]),
    ("maximum_retry_attempts", [-1, 0, 10_000], [-2, 10_001, 1.5]),
    # "The minimum valid value for maximum record age is 60s. Although values less than 60 and
    # greater than -1 fall within the parameter's absolute range, they are not allowed."
    ("maximum_record_age_in_seconds", [-1, 60, 604_800], [-2, 0, 1, 59, 604_801]),
    ("tumbling_window_in_seconds", [0, 900], [-1, 901]),
    ("parallelization_factor", [1, 10], [0, 11, -1]),
    ("starting_position", ["TRIM_HORIZON", "LATEST"], ["AT_TIMESTAMP", "latest", ""]),
    ("bisect_batch_on_function_error", [True, False], ["yes", 1, None]),
    (
        "function_response_types",
        [[], ["ReportBatchItemFailures"]],
        [
            ["ReportBatchItemFailure"],  # a typo
            ["ReportBatchItemFailures", "ReportBatchItemFailures"],  # at most 1 item
            "ReportBatchItemFailures",  # a string, not a list
            ["reportbatchitemfailures"],
        ],
    ),
    # API reference, "EventSourceMappingMetricsConfig": Metrics holds EventCount, ErrorCount or
    # KafkaMetrics; the Lambda DG's table gives a DynamoDB stream the EventCount group only.
    (
        "metrics_config",
        [None, {"Metrics": ["EventCount"]}, {"Metrics": []}],
        [
            {"Metrics": ["ErrorCount"]},
            {"Metrics": ["KafkaMetrics"]},
            {"Metrics": ["EventCount", "EventCount"]},
            {"Metrics": "EventCount"},
            {"metrics": ["EventCount"]},
            {"Metrics": ["EventCount"], "Extra": 1},
            ["EventCount"],
            "EventCount",
        ],
    ),
]
ACCEPTED = [(option, value) for option, ok, _ in RANGES for value in ok]
REFUSED = [(option, value) for option, _, bad in RANGES for value in bad]


@pytest.mark.parametrize(("option", "value"), ACCEPTED, ids=[f"{o}={v!r}" for o, v in ACCEPTED])
def test_an_option_within_the_documented_range_is_accepted(
    lab, options_table, make_trigger, option, value
):
    """Lambda DG, "Lambda parameters for Amazon DynamoDB event source mappings": BatchSize up
    to 10,000; MaximumBatchingWindowInSeconds 0-300 (API reference, CreateEventSourceMapping);
    MaximumRetryAttempts -1 or 0-10,000; MaximumRecordAgeInSeconds -1 or 60-604,800;
    TumblingWindowInSeconds 0-900; ParallelizationFactor 1-10; StartingPosition TRIM_HORIZON or
    LATEST; FunctionResponseTypes ReportBatchItemFailures."""
    trigger = make_trigger(options_table, ignore, **{option: value})
    stored = getattr(trigger.config, option)
    assert (list(stored) if option == "function_response_types" else stored) == value


@pytest.mark.parametrize(("option", "value"), REFUSED, ids=[f"{o}={v!r}" for o, v in REFUSED])
def test_an_option_outside_the_documented_range_is_refused_naming_the_option(
    lab, options_table, option, value
):
    """Lambda DG, "Lambda parameters for Amazon DynamoDB event source mappings" and the API
    reference, "CreateEventSourceMapping": values outside these ranges (and, for
    MaximumRecordAgeInSeconds, 0 to 59) are refused by Lambda, so labkit refuses them too."""
    before = list(lab.triggers)
    with pytest.raises(labkit.InvalidTriggerOptionError) as caught:
        lab.trigger(options_table, ignore, **{option: value})
    assert names_option(str(caught.value), option), str(caught.value)
    assert caught.value.fix  # what to do, not only what went wrong
    assert lab.triggers == before  # nothing half-made is left attached


MALFORMED_DESTINATIONS: list[Any] = [
    "failures",
    {"OnFailure": "failures"},
    {"OnFailure": {}},
    {"OnFailure": {"Destination": ""}},
    {"OnFailure": {"Destination": 42}},
    {"OnSuccess": {"Destination": "failures"}},
    {"OnFailure": {"Destination": "failures"}, "OnSuccess": {"Destination": "failures"}},
    {"OnFailure": {"Destination": "failures", "Extra": 1}},
]


@pytest.mark.parametrize("config", MALFORMED_DESTINATIONS, ids=repr)
def test_a_destination_config_of_the_wrong_shape_is_refused(lab, options_table, config):
    """Lambda DG, "Retaining discarded records for a DynamoDB event source in Lambda": a stream
    mapping has an on-failure destination only, ``DestinationConfig={"OnFailure":
    {"Destination": ...}}`` (API reference, CreateEventSourceMapping, DestinationConfig)."""
    with pytest.raises(labkit.InvalidTriggerOptionError) as caught:
        lab.trigger(options_table, ignore, destination_config=config)
    assert names_option(str(caught.value), "destination_config"), str(caught.value)


def test_a_destination_table_that_does_not_exist_is_refused(lab, options_table, table_name):
    """Lambda DG, "Retaining discarded records for a DynamoDB event source in Lambda": the
    destination must be an existing resource; here, a lab table that exists."""
    missing = table_name("no-such-failures")
    before = list(lab.triggers)
    with pytest.raises(labkit.TriggerError) as caught:
        lab.trigger(
            options_table, ignore, destination_config={"OnFailure": {"Destination": missing}}
        )
    assert missing in str(caught.value)
    assert lab.triggers == before


MALFORMED_FILTERS: list[Any] = [
    "eventName",
    {"Filter": [{"Pattern": "{}"}]},
    {"Filters": "INSERT"},
    {"Filters": [{}]},
    {"Filters": [{"Pattern": "not json"}]},
    {"Filters": [{"Pattern": json.dumps({"dynamodb": {"Keys": "a"}})}]},  # a leaf that is no list
    {"Filters": [{"Pattern": json.dumps({"eventName": ["INSERT"]})}] * 6},  # more than 5
]


@pytest.mark.parametrize("criteria", MALFORMED_FILTERS, ids=repr)
def test_malformed_filter_criteria_are_refused(lab, options_table, criteria):
    """Lambda DG, "Lambda event filtering" (Control which events Lambda sends to your function):
    FilterCriteria is ``{"Filters": [{"Pattern": "<json>"}]}``, at most five filters by
    default, and a pattern's values are lists; Lambda refuses anything else when the mapping is
    created."""
    with pytest.raises(labkit.InvalidTriggerOptionError) as caught:
        lab.trigger(options_table, ignore, filter_criteria=criteria)
    assert names_option(str(caught.value), "filter_criteria"), str(caught.value)


# -- batching --------------------------------------------------------------------------------
def test_batch_size_caps_every_event_and_records_arrive_in_sequence_order(
    lab, table_name, make_trigger
):
    """Lambda DG, "Using AWS Lambda with Amazon DynamoDB": "the batch size ... is the maximum
    number of records that you want your Lambda function to receive per invocation"; Lambda
    reads each shard in order ("Records are always processed in order the first time",
    "Implementing stateful DynamoDB stream processing in Lambda")."""
    name = table_name("orders")
    table = lab.create_table(name)
    for round_ in range(3):  # three changes per item, interleaved across items
        for key in ("a", "b", "c", "d"):
            table.put_item(Item={"pk": key, "round": round_})
    in_stream = stream_records(lab, name, 12)

    trigger = make_trigger(name, ignore, batch_size=5)
    invocations = trigger.run_until_idle()
    assert [len(i.records) for i in invocations] == [5, 5, 2]
    delivered = [r for i in invocations for r in i.records]
    assert seqs(delivered) == seqs(in_stream)
    assert per_key(delivered) == per_key(in_stream)
    assert [int(s) for s in seqs(delivered)] == sorted(int(s) for s in seqs(delivered))


def test_the_batching_window_gathers_records_until_the_batch_is_full_or_the_window_ends(
    lab, table_name, make_trigger
):
    """Lambda DG, "Using AWS Lambda with Amazon DynamoDB": with a batching window, "Before
    invoking the function, Lambda continues to read records from the event source until it has
    gathered a full batch, the batching window expires, or the batch reaches the payload limit".
    The background poller is observed through its reads (it polls the real stream); the clock is
    frozen, then moved past the window, so nothing depends on how fast the machine is."""
    name = table_name("orders")
    table = lab.create_table(name)
    trigger = make_trigger(name, ignore, batch_size=3, maximum_batching_window_in_seconds=300)
    frozen = time.time()
    trigger.clock = lambda: frozen
    read_counts: list[int] = []
    real_read = trigger.reader.read

    def counted_read(*args: Any, **kwargs: Any) -> list[dict[str, Any]]:
        records = real_read(*args, **kwargs)
        read_counts.append(len(records))
        return records

    trigger.reader.read = counted_read  # type: ignore[method-assign]

    def polled_after(count: int, more: int) -> bool:
        """Wait (bounded) until ``count`` records were read and ``more`` polls followed."""
        deadline = time.monotonic() + POLL_TIMEOUT_S
        while time.monotonic() < deadline:
            seen, polls = 0, 0
            for n in list(read_counts):
                if seen >= count:
                    polls += 1
                seen += n
            if seen >= count and polls >= more:
                return True
            time.sleep(0.01)
        return False

    def invoked(count: int) -> list[labkit.Invocation]:
        deadline = time.monotonic() + POLL_TIMEOUT_S
        while len(trigger.invocations) < count and time.monotonic() < deadline:
            time.sleep(0.01)
        return list(trigger.invocations)

    trigger.start(idle_sleep=0.01)
    try:
        put_items(table, "a", "b")
        assert polled_after(2, more=5)
        assert trigger.invocations == []  # two records, window open: still gathering
        put_items(table, "c")
        assert [pks(i.records) for i in invoked(1)] == [["a", "b", "c"]]  # a full batch

        put_items(table, "d")
        assert polled_after(4, more=5)
        assert len(trigger.invocations) == 1
        trigger.clock = lambda: frozen + 301  # the window has expired
        assert [pks(i.records) for i in invoked(2)] == [["a", "b", "c"], ["d"]]
    finally:
        trigger.stop()
    assert not trigger.running


# -- filtering -------------------------------------------------------------------------------
PAID_PATTERN = {"dynamodb": {"NewImage": {"status": {"S": ["paid"]}}}}
PAID = {"Filters": [{"Pattern": json.dumps(PAID_PATTERN)}]}


def test_filtered_records_are_never_delivered_but_checkpointed(lab, table_name, make_trigger):
    """Lambda DG, "Lambda event filtering": "If a record from your event source satisfies one
    or more of your filters, Lambda includes the record in the next event ... If none of your
    filters are satisfied, Lambda discards the record"; "Using event filtering with a DynamoDB
    event source": filter on ``dynamodb.NewImage`` with typed values. A discarded record is
    behind the mapping's position: a later run (or a restarted consumer) never delivers it."""
    name, checkpoints = table_name("orders"), table_name("checkpoints")
    table = lab.create_table(name)
    for key, status in [("a", "new"), ("b", "paid"), ("c", "new"), ("d", "paid"), ("e", "new")]:
        table.put_item(Item={"pk": key, "status": status})
    in_stream = stream_records(lab, name, 5)
    delivered: list[str] = []

    def billing(event: dict[str, Any], context: Any) -> None:
        delivered.extend(pks(event["Records"]))

    trigger = make_trigger(name, billing, filter_criteria=PAID, checkpoint_table=checkpoints)
    invocations = trigger.run_until_idle()
    assert delivered == ["b", "d"]
    assert [pks(i.records) for i in invocations] == [["b", "d"]]
    (shard,) = trigger.reader.shards.values()
    assert shard.checkpoint == seq(in_stream[-1])  # past "e", which was filtered out
    assert trigger.run_until_idle() == []
    trigger.close()

    # A consumer of the same name on the same checkpoint table, now without a filter, starts
    # after "e": none of the filtered records comes back.
    def billing_again(event: dict[str, Any], context: Any) -> None:
        delivered.extend(pks(event["Records"]))

    billing_again.__name__ = "billing"
    again = make_trigger(name, billing_again, checkpoint_table=checkpoints)
    assert again.run_until_idle() == []
    table.put_item(Item={"pk": "f", "status": "new"})
    stream_records(lab, name, 6)
    assert [pks(i.records) for i in again.run_until_idle()] == [["f"]]
    assert delivered == ["b", "d", "f"]


def test_a_batch_of_only_filtered_records_invokes_nothing(lab, table_name, make_trigger):
    """Lambda DG, "Lambda event filtering": records that match no filter are discarded, so a
    batch in which none matches never reaches the function."""
    name = table_name("orders")
    table = lab.create_table(name)
    put_items(table, "a", "b", "c", status="new")
    in_stream = stream_records(lab, name, 3)
    trigger = make_trigger(name, ignore, filter_criteria=PAID, batch_size=2)
    assert trigger.run_until_idle() == []
    (shard,) = trigger.reader.shards.values()
    assert shard.checkpoint == seq(in_stream[-1])
    table.put_item(Item={"pk": "d", "status": "paid"})
    stream_records(lab, name, 4)
    assert [pks(i.records) for i in trigger.run_until_idle()] == [["d"]]


# -- esm_config() ----------------------------------------------------------------------------
def _input_shape() -> Any:
    model = botocore.session.get_session().get_service_model("lambda")
    return model.operation_model("CreateEventSourceMapping").input_shape


def _check_with_botocore(params: dict[str, Any]) -> None:
    """botocore's own validation (types, required members, enums' shapes, minimums), plus the
    maximums of the service model, which botocore leaves to the service."""
    shape = _input_shape()
    validate_parameters(params, shape)  # raises ParamValidationError
    for name, value in params.items():
        member = shape.members[name]
        if member.type_name == "integer" and "max" in member.metadata:
            assert value <= member.metadata["max"], (name, value, member.metadata)
        if member.type_name == "list":
            assert len(value) <= member.metadata.get("max", len(value)), (name, value)
            if member.member.enum:
                assert set(value) <= set(member.member.enum), (name, value)


def test_botocore_validation_is_strict_enough_to_catch_a_wrong_name():
    """API reference, "CreateEventSourceMapping": an unknown parameter is an error (this makes
    the two esm_config() tests below meaningful)."""
    with pytest.raises(ParamValidationError):
        validate_parameters({"FunctionName": "f", "BatchSizes": 5}, _input_shape())


def test_esm_config_of_a_default_trigger_is_valid_and_has_lambdas_defaults(
    lab, table_name, make_trigger
):
    """Lambda DG, "Lambda parameters for Amazon DynamoDB event source mappings": defaults are
    BatchSize 100, BisectBatchOnFunctionError false, Enabled true, MaximumBatchingWindowInSeconds
    0, MaximumRecordAgeInSeconds -1, MaximumRetryAttempts -1, ParallelizationFactor 1."""
    name = table_name("orders")
    lab.create_table(name)
    kwargs = make_trigger(name, ignore).esm_config()
    _check_with_botocore(kwargs)
    assert kwargs == {
        "EventSourceArn": lab.stream_arn(name),
        "FunctionName": "ignore",
        "Enabled": True,
        "BatchSize": 100,
        "MaximumBatchingWindowInSeconds": 0,
        "StartingPosition": "TRIM_HORIZON",
        "MaximumRetryAttempts": -1,
        "MaximumRecordAgeInSeconds": -1,
        "BisectBatchOnFunctionError": False,
        "ParallelizationFactor": 1,
        "FunctionResponseTypes": [],
    }


def test_esm_config_round_trips_every_option_under_boto3s_names(lab, table_name, make_trigger):
    """API reference, "CreateEventSourceMapping" (boto3 ``create_event_source_mapping``): every
    option labkit accepts maps to the request parameter of the same meaning, and the request
    passes botocore's validation of that operation."""
    name, failures = table_name("orders"), table_name("failures")
    lab.create_table(name)
    lab.create_table(failures, stream=None)
    trigger = make_trigger(
        name,
        ignore,
        batch_size=50,
        starting_position="LATEST",
        maximum_batching_window_in_seconds=5,
        filter_criteria=PAID,
        maximum_retry_attempts=3,
        maximum_record_age_in_seconds=3600,
        bisect_batch_on_function_error=True,
        destination_config={"OnFailure": {"Destination": failures}},
        function_response_types=["ReportBatchItemFailures"],
        tumbling_window_in_seconds=120,
        parallelization_factor=4,
        metrics_config={"Metrics": ["EventCount"]},
    )
    queue = "arn:aws:sqs:us-east-1:123456789012:orders-dlq"
    kwargs = trigger.esm_config("orders-fn", destination_arn=queue)
    _check_with_botocore(kwargs)
    assert kwargs == {
        "EventSourceArn": lab.stream_arn(name),
        "FunctionName": "orders-fn",
        "Enabled": True,
        "BatchSize": 50,
        "MaximumBatchingWindowInSeconds": 5,
        "StartingPosition": "LATEST",
        "FilterCriteria": PAID,
        "MaximumRetryAttempts": 3,
        "MaximumRecordAgeInSeconds": 3600,
        "BisectBatchOnFunctionError": True,
        "DestinationConfig": {"OnFailure": {"Destination": queue}},
        "FunctionResponseTypes": ["ReportBatchItemFailures"],
        "TumblingWindowInSeconds": 120,
        "ParallelizationFactor": 4,
        "MetricsConfig": {"Metrics": ["EventCount"]},
    }


def test_esm_config_of_a_trigger_with_a_destination_needs_a_destination_arn(
    lab, table_name, make_trigger
):
    """Lambda DG, "Retaining discarded records for a DynamoDB event source in Lambda": on AWS
    the on-failure destination is an SQS queue, SNS topic or S3 bucket (an ARN), never a lab
    table, so esm_config() cannot make one up."""
    name, failures = table_name("orders"), table_name("failures")
    lab.create_table(name)
    lab.create_table(failures, stream=None)
    trigger = make_trigger(
        name, ignore, destination_config={"OnFailure": {"Destination": failures}}
    )
    with pytest.raises(labkit.InvalidTriggerOptionError) as caught:
        trigger.esm_config()
    assert "destination_arn" in str(caught.value)


def test_esm_config_refuses_a_destination_arn_the_trigger_has_no_use_for(
    lab, table_name, make_trigger
):
    """A destination ARN only means something with destination_config: refusing it beats
    silently dropping it (Lambda's DestinationConfig.OnFailure)."""
    name = table_name("orders")
    lab.create_table(name)
    with pytest.raises(labkit.InvalidTriggerOptionError) as caught:
        make_trigger(name, ignore).esm_config(destination_arn="arn:aws:sqs:us-east-1:1:q")
    assert "destination_config" in str(caught.value)


def test_function_name_separates_consumers_in_one_checkpoint_table(lab, table_name, make_trigger):
    """Lambda keeps one position per event source mapping (per function): two lambdas on one
    checkpoint table must not share a checkpoint because both are named '<lambda>'."""
    name, store = table_name("orders"), table_name("leases")
    table = lab.create_table(name)
    put_items(table, "a", "b")
    seen_first: list[str] = []
    first = make_trigger(
        name,
        lambda e, c: seen_first.extend(pks(e["Records"])),
        checkpoint_table=store,
        function_name="first-function",
    )
    first.run_until_idle()
    seen_second: list[str] = []
    second = make_trigger(
        name,
        lambda e, c: seen_second.extend(pks(e["Records"])),
        checkpoint_table=store,
        function_name="second-function",
    )
    second.run_until_idle()
    assert seen_first == seen_second == ["a", "b"]
    assert second.function_name == "second-function"


def test_errors_in_background_polling_are_kept_and_shown(lab, table_name, make_trigger):
    """A background poller that hits an error keeps polling but never hides it."""
    name = table_name("orders")
    lab.create_table(name)
    trigger = make_trigger(name, ignore)
    trigger.reader.refresh = _boom  # the next poll fails before reading anything
    trigger.start()
    deadline = time.monotonic() + 10
    while not trigger.poller_errors and time.monotonic() < deadline:
        time.sleep(0.01)
    trigger.stop()
    assert trigger.poller_errors == ["RuntimeError: describe failed"]
    assert "poller error" in repr(trigger)


def _boom() -> None:
    raise RuntimeError("describe failed")

"""The lab's lifecycle, and errors that say what happened and what to do."""

from __future__ import annotations

import socket
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError

import labkit
from labkit import _lab
from labkit.backend._server import free_port


def ignore(event: dict[str, Any], context: Any) -> None:
    """A handler that accepts every batch."""


def assert_explains(error: BaseException) -> None:
    """A labkit error: one base class, and a message with the fix."""
    assert isinstance(error, labkit.LabError)
    assert error.what and error.fix
    assert str(error) == f"{error.what}\nFix: {error.fix}"


@pytest.fixture
def no_running_lab(monkeypatch: pytest.MonkeyPatch, lab: labkit.Lab) -> None:
    """Make ``start()`` resolve its backend afresh; the session's lab is put back afterwards.

    Depends on ``lab`` so that the session's lab exists before it is hidden (otherwise the
    session's first ``start()`` would run here and be forgotten afterwards).
    """
    monkeypatch.setattr(_lab, "_current", None)
    monkeypatch.delenv("LABKIT_ENDPOINT_URL", raising=False)
    monkeypatch.delenv("LABKIT_PORT", raising=False)


# -- lifecycle -------------------------------------------------------------------------------
def test_start_twice_returns_the_same_running_lab(lab):
    assert labkit.start() is lab
    assert labkit.start() is labkit.start()
    assert not lab.closed


def test_with_statement_closes_the_lab_and_its_triggers(lab, table_name):
    name = table_name("orders")
    with _lab._external(lab.endpoint_url) as other:
        assert other is not lab and not other.closed
        other.create_table(name)
        trigger = other.trigger(name, ignore)
    assert other.closed and trigger.closed
    with pytest.raises(labkit.TriggerError) as caught:
        trigger.run_until_idle()
    assert_explains(caught.value)
    with pytest.raises(labkit.BackendError) as caught:
        other.create_table(table_name("after-close"))
    assert_explains(caught.value)
    # closing a lab that did not start the server leaves the server running
    assert name in lab.dynamodb.list_tables()["TableNames"]


def test_create_table_returns_an_active_table_with_a_stream(lab, table_name):
    name = table_name("orders")
    table = lab.create_table(name, key="customer", sort_key=("created", "N"))
    assert table.table_name == name
    assert table.table_status == "ACTIVE"
    assert table.stream_specification == {
        "StreamEnabled": True,
        "StreamViewType": "NEW_AND_OLD_IMAGES",
    }
    assert table.latest_stream_arn == lab.stream_arn(name)
    assert table.key_schema == [
        {"AttributeName": "customer", "KeyType": "HASH"},
        {"AttributeName": "created", "KeyType": "RANGE"},
    ]
    assert sorted(table.attribute_definitions, key=lambda d: d["AttributeName"]) == [
        {"AttributeName": "created", "AttributeType": "N"},
        {"AttributeName": "customer", "AttributeType": "S"},
    ]
    assert name in lab.created_tables


def test_create_table_without_a_stream_has_none(lab, table_name):
    name = table_name("plain")
    table = lab.create_table(name, stream=None)
    assert table.table_status == "ACTIVE"
    assert not (table.stream_specification or {}).get("StreamEnabled")
    with pytest.raises(labkit.StreamNotEnabledError) as caught:
        lab.stream_arn(name)
    assert_explains(caught.value)


# -- errors ----------------------------------------------------------------------------------
@pytest.mark.parametrize("bad", ["ab", "bad name!", "x" * 256, "", "tab\tle", None, 123])
def test_an_invalid_table_name_is_refused_before_dynamodb_sees_it(lab, bad):
    before = lab.dynamodb.list_tables()["TableNames"]
    with pytest.raises(labkit.InvalidTableNameError) as caught:
        lab.create_table(bad)
    assert_explains(caught.value)
    assert isinstance(caught.value, labkit.TableError)
    assert lab.dynamodb.list_tables()["TableNames"] == before


@pytest.mark.parametrize("good", ["a.b", "A.b-c_D9", "z" * 255])
def test_names_at_the_limits_are_accepted(lab, good):
    try:
        assert lab.create_table(good).table_status == "ACTIVE"
    finally:
        lab.dynamodb.delete_table(TableName=good)


@pytest.mark.parametrize(
    "kwargs",
    [
        {"key": ("pk", "X")},
        {"sort_key": ("sk", "BOOL")},
        {"stream": "ALL"},
        {"stream": "keys_only"},
    ],
)
def test_invalid_key_or_stream_options_are_table_errors(lab, table_name, kwargs):
    with pytest.raises(labkit.TableError) as caught:
        lab.create_table(table_name("orders"), **kwargs)
    assert_explains(caught.value)


@pytest.mark.parametrize("key", [("pk",), ("pk", "S", "extra"), 123], ids=str)
def test_a_malformed_key_is_a_table_error(lab, table_name, key):
    with pytest.raises(labkit.TableError) as caught:
        lab.create_table(table_name("orders"), key=key)
    assert_explains(caught.value)


def test_creating_an_existing_table_is_a_table_exists_error(lab, table_name):
    name = table_name("orders")
    lab.create_table(name)
    with pytest.raises(labkit.TableExistsError) as caught:
        lab.create_table(name)
    assert_explains(caught.value)
    assert isinstance(caught.value.cause, ClientError)
    assert caught.value.__cause__ is caught.value.cause


def test_a_trigger_on_a_table_without_a_stream_is_refused(lab, table_name):
    name = table_name("plain")
    lab.create_table(name, stream=None)
    with pytest.raises(labkit.StreamNotEnabledError) as caught:
        lab.trigger(name, ignore)
    assert_explains(caught.value)


def test_a_trigger_on_a_missing_table_is_a_table_error(lab, table_name):
    with pytest.raises(labkit.TableError) as caught:
        lab.trigger(table_name("missing"), ignore)
    assert_explains(caught.value)
    assert "Fix:" in str(caught.value)


@pytest.mark.parametrize(
    "options",
    [
        {"batch_size": 0},
        {"batch_size": 10_001},
        {"batch_size": "10"},
        {"batch_size": True},
        {"batch_size": 1.5},
        {"batch_size": -1},
        {"starting_position": "AT_TIMESTAMP"},
        {"starting_position": "latest"},
        {"starting_position": "TRIM"},
    ],
    ids=str,
)
def test_out_of_range_trigger_options_are_refused(lab, table_name, options):
    name = table_name("orders")
    lab.create_table(name)
    with pytest.raises(labkit.InvalidTriggerOptionError) as caught:
        lab.trigger(name, ignore, **options)
    assert_explains(caught.value)
    assert isinstance(caught.value, labkit.TriggerError)


@pytest.mark.parametrize(
    "options",
    [
        {"batch_size": 1},
        {"batch_size": 10_000},
        {"starting_position": "LATEST"},
        {"starting_position": "TRIM_HORIZON"},
    ],
    ids=str,
)
def test_trigger_options_at_the_limits_are_accepted(lab, table_name, options):
    name = table_name("orders")
    lab.create_table(name)
    trigger = lab.trigger(name, ignore, **options)
    for option, value in options.items():
        assert getattr(trigger.config, option) == value
    assert trigger.run_until_idle() == []


@pytest.mark.parametrize("handler", [None, "handler", 42])
def test_a_handler_that_cannot_be_called_is_refused(lab, table_name, handler):
    name = table_name("orders")
    lab.create_table(name)
    with pytest.raises(labkit.TriggerError) as caught:
        lab.trigger(name, handler)
    assert_explains(caught.value)


# -- reset -----------------------------------------------------------------------------------
def test_reset_deletes_only_the_tables_this_lab_created(lab, table_name):
    mine, mine_too = table_name("mine"), table_name("mine-too")
    made_directly, made_by_another_lab = table_name("direct"), table_name("other-lab")
    other = _lab._external(lab.endpoint_url)  # a second lab on the session's server
    try:
        other.create_table(mine)
        other.create_table(mine_too, stream=None)
        trigger = other.trigger(mine, ignore)
        other.dynamodb.create_table(
            TableName=made_directly,
            BillingMode="PAY_PER_REQUEST",
            KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
            AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
        )
        lab.create_table(made_by_another_lab)

        assert sorted(other.reset()) == sorted([mine, mine_too])
        names = set(lab.dynamodb.list_tables()["TableNames"])
        assert {made_directly, made_by_another_lab} <= names
        assert not {mine, mine_too} & names
        assert trigger.closed and other.triggers == []
        assert other.created_tables == []
        assert other.reset() == []
    finally:
        other.close()


# -- the backend: environment variables and ports --------------------------------------------
def closed_port() -> int:
    """A loopback port nothing listens on (free a moment ago, and not bound by us)."""
    return free_port()


@pytest.mark.usefixtures("no_running_lab")
def test_an_endpoint_with_nothing_listening_is_unreachable(monkeypatch):
    url = f"http://127.0.0.1:{closed_port()}"
    monkeypatch.setenv("LABKIT_ENDPOINT_URL", url)
    with pytest.raises(labkit.EndpointUnreachableError) as caught:
        labkit.start()
    assert_explains(caught.value)
    assert url in caught.value.what
    assert _lab._current is None  # nothing half-started is kept


@pytest.mark.usefixtures("no_running_lab")
@pytest.mark.parametrize("url", ["127.0.0.1:8000", "ftp://127.0.0.1:8000", "http://"])
def test_an_endpoint_that_is_not_an_http_url_is_refused(monkeypatch, url):
    monkeypatch.setenv("LABKIT_ENDPOINT_URL", url)
    with pytest.raises(labkit.EndpointUnreachableError) as caught:
        labkit.start()
    assert_explains(caught.value)


@pytest.mark.usefixtures("no_running_lab")
def test_an_endpoint_on_real_aws_is_refused(monkeypatch):
    monkeypatch.setenv("LABKIT_ENDPOINT_URL", "https://dynamodb.us-east-1.amazonaws.com")
    with pytest.raises(labkit.BackendError) as caught:
        labkit.start()
    assert_explains(caught.value)
    assert not isinstance(caught.value, labkit.EndpointUnreachableError)


@pytest.mark.usefixtures("no_running_lab")
def test_an_endpoint_url_reaches_the_running_server_and_its_tables(monkeypatch, lab, table_name):
    mine, theirs = table_name("from-session"), table_name("from-endpoint")
    lab.create_table(mine)
    monkeypatch.setenv("LABKIT_ENDPOINT_URL", lab.endpoint_url + "/")
    external = labkit.start()
    try:
        assert external is not lab
        assert external.server is None
        assert external.endpoint_url == lab.endpoint_url
        assert labkit.start() is external  # and it is the lab start() now returns
        assert mine in external.dynamodb.list_tables()["TableNames"]
        external.create_table(theirs)
        assert theirs in lab.dynamodb.list_tables()["TableNames"]
        # -sharedDb: other credentials and another region see the same tables
        stranger = boto3.client(
            "dynamodb",
            endpoint_url=lab.endpoint_url,
            region_name="eu-west-1",
            aws_access_key_id="someoneelse",
            aws_secret_access_key="secret",
        )
        assert {mine, theirs} <= set(stranger.list_tables()["TableNames"])
        stranger.close()
    finally:
        external.close()
    assert lab.dynamodb.list_tables()["TableNames"]  # the server outlives the external lab


@pytest.mark.usefixtures("no_running_lab")
@pytest.mark.parametrize("port", ["abc", "0", "70000", "-1"])
def test_labkit_port_must_be_a_port_number(monkeypatch, port):
    monkeypatch.setenv("LABKIT_PORT", port)
    with pytest.raises(labkit.BackendError) as caught:
        labkit.start()
    assert_explains(caught.value)
    assert port in caught.value.what


@pytest.mark.dynamodb_local  # needs Java and the jar, though it starts nothing
def test_a_taken_port_is_a_port_in_use_error():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as holder:
        holder.bind(("0.0.0.0", 0))
        holder.listen()
        port = holder.getsockname()[1]
        with pytest.raises(labkit.PortInUseError) as caught:
            _lab._launch(port)
    assert_explains(caught.value)
    assert str(port) in caught.value.what

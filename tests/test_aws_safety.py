"""Real AWS is safe: labkit uses it only when asked, names and tags its tables, deletes nothing it
did not create, and never shows credentials.

botocore's Stubber stands in for AWS here (issue: it tests labkit's guard, not streams): a stubbed
client fails on any call that was not expected, so "no delete_table was sent" is checked by the
stub itself.
"""

from __future__ import annotations

import boto3
import pytest
from botocore.stub import Stubber

import labkit
from labkit import _lab
from labkit.backend._connect import opted_into_aws

ACCESS_KEY = "AKIAEXAMPLESECRET123"
SECRET_KEY = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
ARN = "arn:aws:dynamodb:eu-west-1:123456789012:table/"


@pytest.fixture
def aws_lab():
    session = boto3.Session(
        aws_access_key_id=ACCESS_KEY, aws_secret_access_key=SECRET_KEY, region_name="eu-west-1"
    )
    lab = labkit.Lab(None, on_aws=True, session=session)
    with Stubber(lab.dynamodb) as stub:
        yield lab, stub
        stub.assert_no_pending_responses()


def _active(name: str) -> dict:
    return {
        "Table": {
            "TableName": name,
            "TableStatus": "ACTIVE",
            "TableArn": ARN + name,
            "LatestStreamArn": ARN + name + "/stream/2026-01-01T00:00:00.000",
            "StreamSpecification": {"StreamEnabled": True, "StreamViewType": "NEW_AND_OLD_IMAGES"},
        }
    }


def test_tables_on_aws_get_the_lab_prefix_and_tag(aws_lab):
    lab, stub = aws_lab
    stub.add_response(
        "create_table",
        {},
        {
            "TableName": "labkit-orders",
            "KeySchema": [{"AttributeName": "pk", "KeyType": "HASH"}],
            "AttributeDefinitions": [{"AttributeName": "pk", "AttributeType": "S"}],
            "BillingMode": "PAY_PER_REQUEST",
            "StreamSpecification": {"StreamEnabled": True, "StreamViewType": "NEW_AND_OLD_IMAGES"},
            "Tags": [{"Key": "labkit", "Value": "true"}],
        },
    )
    stub.add_response("describe_table", _active("labkit-orders"), {"TableName": "labkit-orders"})
    table = lab.create_table("orders")
    assert table.table_name == "labkit-orders"
    assert lab.created_tables == ["labkit-orders"]
    assert lab.table("orders").table_name == "labkit-orders"  # lesson code runs unchanged


def test_reset_deletes_a_created_table_that_still_has_the_tag(aws_lab):
    lab, stub = aws_lab
    lab.created_tables.append("labkit-orders")
    stub.add_response("describe_table", _active("labkit-orders"), {"TableName": "labkit-orders"})
    stub.add_response(
        "list_tags_of_resource",
        {"Tags": [{"Key": "labkit", "Value": "true"}]},
        {"ResourceArn": ARN + "labkit-orders"},
    )
    stub.add_response("delete_table", {}, {"TableName": "labkit-orders"})
    assert lab.reset() == ["labkit-orders"]


def test_reset_refuses_a_table_whose_tag_is_gone_and_sends_no_delete(aws_lab):
    lab, stub = aws_lab
    lab.created_tables.append("labkit-orders")
    stub.add_response("describe_table", _active("labkit-orders"), {"TableName": "labkit-orders"})
    stub.add_response(
        "list_tags_of_resource",
        {"Tags": [{"Key": "owner", "Value": "team"}]},
        {"ResourceArn": ARN + "labkit-orders"},
    )
    with pytest.raises(labkit.TableError) as caught:
        lab.reset()  # a delete_table call would fail the stub: none is expected
    assert "Refusing to delete 'labkit-orders'" in str(caught.value)
    assert "Fix:" in str(caught.value)


@pytest.mark.parametrize("name", ["orders", "payments-prod", "labkit-not-mine"])
def test_delete_table_refuses_what_the_lab_did_not_create(aws_lab, name):
    lab, _stub = aws_lab  # no response queued: any API call would fail the test
    with pytest.raises(labkit.TableError) as caught:
        lab.delete_table(name)
    assert "did not create it" in str(caught.value)


def test_credentials_never_appear_in_what_the_lab_shows(aws_lab, capsys):
    lab, _stub = aws_lab
    shown = [repr(lab), lab._repr_html_(), lab.backend]
    with pytest.raises(labkit.TableError) as caught:
        lab.delete_table("orders")
    shown += [str(caught.value), capsys.readouterr().out]
    for text in shown:
        assert ACCESS_KEY not in text and SECRET_KEY not in text


def test_an_amazonaws_endpoint_url_needs_the_explicit_opt_in():
    with pytest.raises(labkit.BackendError) as caught:
        _lab._external("https://dynamodb.eu-west-1.amazonaws.com")
    assert "LABKIT_USE_AWS=1" in str(caught.value)


def test_without_the_opt_in_start_never_goes_to_aws(monkeypatch):
    monkeypatch.delenv("LABKIT_USE_AWS", raising=False)
    assert not opted_into_aws()
    monkeypatch.setenv("LABKIT_USE_AWS", "0")
    assert not opted_into_aws()
    monkeypatch.setenv("LABKIT_USE_AWS", "1")
    assert opted_into_aws()
    for on in (" TRUE ", "yes"):
        monkeypatch.setenv("LABKIT_USE_AWS", on)
        assert opted_into_aws()
    for off in ("", "false", "No"):
        monkeypatch.setenv("LABKIT_USE_AWS", off)
        assert not opted_into_aws()


def test_aws_without_a_region_is_a_clear_error(monkeypatch, tmp_path):
    for var in ("AWS_REGION", "AWS_DEFAULT_REGION", "AWS_PROFILE"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "none"))
    with pytest.raises(labkit.BackendError) as caught:
        _lab._aws()
    assert "AWS_REGION" in str(caught.value)


def test_local_labs_have_no_prefix(lab):
    assert lab.name("orders") == "orders"
    assert lab.prefix == ""

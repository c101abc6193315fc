"""How the lab tells a function's own stream records from everyone else's (labkit/esm/_loops.py),
without a server: the writes read from the requests botocore serialises, and which records such
a write can have made. The end-to-end cases (a loop stopped within seconds, no false positive on
a status update that converges) are in tests/reliability/test_bad_input.py.
"""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError
from botocore.stub import Stubber

from labkit.backend import _sdk
from labkit.esm._loops import Write, _made_by, _update, _writes, recording

TABLE = "orders"


def body(operation: str, **params: Any) -> dict[str, Any]:
    """The JSON body botocore sends for ``operation`` (serialised by botocore itself)."""
    client = boto3.client(
        "dynamodb",
        region_name="us-east-1",
        endpoint_url="http://127.0.0.1:9",
        aws_access_key_id="x",
        aws_secret_access_key="x",
    )
    model = client.meta.service_model.operation_model(operation)
    request = client._serializer.serialize_to_request(params, model)
    return json.loads(request["body"])


def record(event: str, keys: dict, new: dict | None = None, old: dict | None = None) -> dict:
    ddb: dict[str, Any] = {"Keys": keys}
    if new is not None:
        ddb["NewImage"] = new
    if old is not None:
        ddb["OldImage"] = old
    return {"eventName": event, "dynamodb": ddb}


PK = {"pk": {"S": "order-1"}}


def test_every_write_operation_is_read_from_its_request():
    put = _writes("PutItem", body("PutItem", TableName=TABLE, Item={**PK, "n": {"N": "1"}}))
    assert put == [Write(TABLE, "put", item={**PK, "n": {"N": "1"}})]
    delete = _writes("DeleteItem", body("DeleteItem", TableName=TABLE, Key=PK))
    assert delete == [Write(TABLE, "delete", key=PK)]
    batch = _writes(
        "BatchWriteItem",
        body(
            "BatchWriteItem",
            RequestItems={
                TABLE: [{"PutRequest": {"Item": PK}}, {"DeleteRequest": {"Key": PK}}],
                "other": [{"PutRequest": {"Item": PK}}],
            },
        ),
    )
    assert [(w.table, w.kind) for w in batch] == [
        (TABLE, "put"),
        (TABLE, "delete"),
        ("other", "put"),
    ]
    transact = _writes(
        "TransactWriteItems",
        body(
            "TransactWriteItems",
            TransactItems=[
                {"Put": {"TableName": TABLE, "Item": PK}},
                {
                    "Update": {
                        "TableName": TABLE,
                        "Key": PK,
                        "UpdateExpression": "SET a = :a",
                        "ExpressionAttributeValues": {":a": {"S": "x"}},
                    }
                },
                {"Delete": {"TableName": TABLE, "Key": PK}},
                {
                    "ConditionCheck": {
                        "TableName": TABLE,
                        "Key": PK,
                        "ConditionExpression": "attribute_exists(pk)",
                    }
                },
            ],
        ),
    )
    assert [w.kind for w in transact] == ["put", "update", "delete"]
    arn = f"arn:aws:dynamodb:us-east-1:123456789012:table/{TABLE}"
    assert _writes("DeleteItem", {"TableName": arn, "Key": PK})[0].table == TABLE


def test_an_update_names_its_attributes_and_what_it_makes_certain():
    write = _update(
        TABLE,
        {
            "Key": PK,
            "UpdateExpression": "SET #s = :s, total = total + :n, #l = list_append(#l, :x) "
            "REMOVE note, #set ADD visits :one",
            "ExpressionAttributeNames": {"#s": "status", "#l": "lines", "#set": "set"},
            "ExpressionAttributeValues": {
                ":s": {"S": "seen"},
                ":n": {"N": "1"},
                ":x": {"L": []},
                ":one": {"N": "1"},
            },
        },
    )
    assert write.names == {"status", "total", "lines", "note", "set", "visits"}
    assert write.expects == (("status", {"S": "seen"}), ("note", None), ("set", None))
    legacy = _update(TABLE, {"Key": PK, "AttributeUpdates": {"n": {"Action": "ADD"}}})
    assert legacy.names == {"n"} and legacy.expects == ()


SEEN = Write(
    TABLE, "update", key=PK, names=frozenset({"status"}), expects=(("status", {"S": "seen"}),)
)
ADD_N = Write(TABLE, "update", key=PK, names=frozenset({"n"}))


@pytest.mark.parametrize(
    ("write", "made", "expected"),
    [
        # a put makes exactly its item (numbers compared as numbers)
        (
            Write(TABLE, "put", item={**PK, "n": {"N": "1.50"}}),
            record("MODIFY", PK, new={**PK, "n": {"N": "1.5"}}),
            True,
        ),
        (
            Write(TABLE, "put", item={**PK, "n": {"N": "1"}}),
            record("MODIFY", PK, new={**PK, "n": {"N": "2"}}),
            False,
        ),
        (Write(TABLE, "put", item=PK), record("REMOVE", PK, old=PK), False),
        (Write(TABLE, "put", item=PK), record("INSERT", PK), True),  # KEYS_ONLY: cannot tell
        (Write(TABLE, "delete", key=PK), record("REMOVE", PK, old=PK), True),
        (Write(TABLE, "delete", key=PK), record("MODIFY", PK, new=PK, old=PK), False),
        # an update: its plain SET value must be there, and it must change what it names
        (SEEN, record("MODIFY", PK, new={**PK, "status": {"S": "seen"}}, old=PK), True),
        (
            SEEN,
            record(
                "MODIFY", PK, new={**PK, "amount": {"N": "2"}}, old={**PK, "status": {"S": "seen"}}
            ),
            False,
        ),  # a writer's put
        (
            SEEN,
            record(
                "MODIFY",
                PK,
                new={**PK, "status": {"S": "seen"}, "amount": {"N": "2"}},
                old={**PK, "status": {"S": "seen"}, "amount": {"N": "1"}},
            ),
            False,
        ),
        (
            ADD_N,
            record("MODIFY", PK, new={**PK, "n": {"N": "2"}}, old={**PK, "n": {"N": "1"}}),
            True,
        ),
        (ADD_N, record("INSERT", PK, new={**PK, "n": {"N": "1"}}), True),
        (
            ADD_N,
            record(
                "MODIFY",
                PK,
                new={**PK, "n": {"N": "1"}, "m": {"S": "x"}},
                old={**PK, "n": {"N": "1"}},
            ),
            False,
        ),
        (ADD_N, record("MODIFY", PK, new={**PK, "n": {"N": "2"}}), True),  # NEW_IMAGE only
    ],
)
def test_a_record_is_the_writes_only_when_it_is_what_the_write_makes(write, made, expected):
    assert _made_by(write, made) is expected


def test_a_request_that_is_never_sent_is_not_recorded():
    """A resource's put, a client's update and a batch writer, each answered by botocore's
    Stubber at ``before-call``, never reach the wire, so nothing is recorded; the recorder
    watches what is really sent (``Endpoint.make_request``)."""
    resource = boto3.resource(
        "dynamodb",
        region_name="us-east-1",
        endpoint_url="http://127.0.0.1:9",
        aws_access_key_id="x",
        aws_secret_access_key="x",
    )
    table = resource.Table(TABLE)
    writes: list[Write] = []
    with Stubber(resource.meta.client) as stub, recording(writes):
        stub.add_response(
            "put_item", {}, {"TableName": TABLE, "Item": {"pk": "a", "n": Decimal(1)}}
        )
        table.put_item(Item={"pk": "a", "n": Decimal(1)})
    assert writes == []
    assert not _sdk._watch_counts, "the watcher stays registered after the block"


def test_recording_reads_what_is_sent(monkeypatch):
    """With the real send replaced by a fake answer, what the block's thread sends and DynamoDB
    accepts is recorded; a refused write (status 400) and anything after the block are not."""

    class Answer:
        status_code = 200

    monkeypatch.setattr(_sdk, "_original_make_request", lambda *a: (Answer(), {}))
    client = boto3.client(
        "dynamodb",
        region_name="us-east-1",
        endpoint_url="http://127.0.0.1:9",
        aws_access_key_id="x",
        aws_secret_access_key="x",
    )
    writes: list[Write] = []
    with recording(writes):
        client.put_item(TableName=TABLE, Item={"pk": {"S": "a"}})
        client.get_item(TableName=TABLE, Key={"pk": {"S": "a"}})  # a read: not recorded
        client.update_item(
            TableName=TABLE,
            Key={"pk": {"S": "a"}},
            UpdateExpression="SET n = :n",
            ExpressionAttributeValues={":n": {"N": "1"}},
        )
        Answer.status_code = 400
        with pytest.raises(ClientError):
            client.delete_item(TableName=TABLE, Key={"pk": {"S": "refused"}})
        Answer.status_code = 200
    client.delete_item(TableName=TABLE, Key={"pk": {"S": "a"}})  # outside the block
    assert [w.kind for w in writes] == ["put", "update"]
    assert writes[1].expects == (("n", {"N": "1"}),)

"""DynamoDB Local 3.3.1's streams against what AWS documents, one difference at a time.

Two kinds of test, told apart by name:

* ``test_local_*`` pin DYNAMODB LOCAL BEHAVIOUR as measured on 3.3.1, including where it differs
  from AWS. If one fails, DynamoDB Local has changed: measure again, then update the rule in
  ``labkit/esm/_normalize.py``, the README's "Known differences" table and the test.
* every other test shows what a handler gets, or what the API does, matching AWS's documented
  shape; its docstring names the AWS page.

The raw wire JSON is captured with a botocore ``before-parse`` hook, so a test can show exactly
what DynamoDB Local sent rather than what botocore made of it. Polling is bounded (the TTL sweep
of DynamoDB Local 3.3.1 was measured at 0.4 to 10 s; the tests wait up to 60 s).
"""

from __future__ import annotations

import copy
import json
import re
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from decimal import Decimal
from typing import Any

import pytest
from _streamcheck import RECORD_FIELDS, at_least, delete_tables, plain, read_until
from boto3.dynamodb.types import TypeDeserializer
from botocore.exceptions import ClientError

import labkit
from labkit.esm._events import lambda_record
from labkit.esm._normalize import (
    LOCAL_TTL_EVENT_NAME,
    RULES,
    TTL_USER_IDENTITY,
    normalize_record,
)

TTL_WAIT_S = 60.0
VIEWS = ("KEYS_ONLY", "NEW_IMAGE", "OLD_IMAGE", "NEW_AND_OLD_IMAGES")

# The TTL deletion record DynamoDB Local 3.3.1 sent (wire JSON of GetRecords, measured; the table
# had TTL on "expires" and a NEW_AND_OLD_IMAGES stream).
MEASURED_LOCAL_TTL_RECORD: dict[str, Any] = json.loads(
    """{"eventID":"fb0ac16b-81c8-4356-b52a-c18d3e2ccad8","eventName":"UNKNOWN_TO_SDK_VERSION",
    "eventVersion":"1.1","eventSource":"aws:dynamodb","awsRegion":"ddblocal",
    "dynamodb":{"ApproximateCreationDateTime":1795726920.000,"Keys":{"pk":{"S":"expired"}},
    "OldImage":{"expires":{"N":"1795723367"},"data":{"S":"x"},"pk":{"S":"expired"}},
    "SequenceNumber":"000000000000000000003","SizeBytes":36,
    "StreamViewType":"NEW_AND_OLD_IMAGES"}}"""
)
LOCAL_ARN = "arn:aws:dynamodb:ddblocal:000000000000:table/t/stream/2026-11-26T21:02:47.596"

# The example event of the AWS Lambda Developer Guide, "Using AWS Lambda with Amazon DynamoDB"
# (with-ddb.html), and a TTL deletion in the shape of "DynamoDB Streams and Time to Live".
_ARN = (
    "arn:aws:dynamodb:us-east-1:123456789012:table/ExampleTableWithStream/stream/"
    "2015-06-27T00:48:05.899"
)
AWS_EXAMPLE_RECORDS: list[dict[str, Any]] = [
    {
        "eventID": "c4ca4238a0b923820dcc509a6f75849b",
        "eventName": "INSERT",
        "eventVersion": "1.1",
        "eventSource": "aws:dynamodb",
        "awsRegion": "us-east-1",
        "dynamodb": {
            "Keys": {"Id": {"N": "101"}},
            "NewImage": {"Message": {"S": "New item!"}, "Id": {"N": "101"}},
            "ApproximateCreationDateTime": 1428537600,
            "SequenceNumber": "4421584500000000017450439091",
            "SizeBytes": 26,
            "StreamViewType": "NEW_AND_OLD_IMAGES",
        },
        "eventSourceARN": _ARN,
    },
    {
        "eventID": "c81e728d9d4c2f636f067f89cc14862c",
        "eventName": "MODIFY",
        "eventVersion": "1.1",
        "eventSource": "aws:dynamodb",
        "awsRegion": "us-east-1",
        "dynamodb": {
            "Keys": {"Id": {"N": "101"}},
            "NewImage": {"Message": {"S": "This item has changed"}, "Id": {"N": "101"}},
            "OldImage": {"Message": {"S": "New item!"}, "Id": {"N": "101"}},
            "ApproximateCreationDateTime": 1428537600,
            "SequenceNumber": "4421584500000000017450439092",
            "SizeBytes": 59,
            "StreamViewType": "NEW_AND_OLD_IMAGES",
        },
        "eventSourceARN": _ARN,
    },
    {
        "eventID": "eccbc87e4b5ce2fe28308fd9f2a7baf3",
        "eventName": "REMOVE",
        "eventVersion": "1.1",
        "eventSource": "aws:dynamodb",
        "awsRegion": "us-east-1",
        "dynamodb": {
            "Keys": {"Id": {"N": "101"}},
            "OldImage": {"Message": {"S": "This item has changed"}, "Id": {"N": "101"}},
            "ApproximateCreationDateTime": 1428537600,
            "SequenceNumber": "4421584500000000017450439093",
            "SizeBytes": 38,
            "StreamViewType": "NEW_AND_OLD_IMAGES",
        },
        "eventSourceARN": _ARN,
        "userIdentity": dict(TTL_USER_IDENTITY),
    },
]


# -- helpers ---------------------------------------------------------------------------------
@contextmanager
def wire(client: Any) -> Iterator[list[dict[str, Any]]]:
    """The JSON bodies of GetRecords responses, as DynamoDB Local sent them (before parsing)."""
    bodies: list[dict[str, Any]] = []
    hook_id = f"labkit-test-wire-{uuid.uuid4()}"

    def keep(response_dict: dict[str, Any], **_: Any) -> None:
        if response_dict.get("status_code") == 200:
            bodies.append(json.loads(response_dict["body"]))

    event = "before-parse.dynamodbstreams.GetRecords"
    client.meta.events.register(event, keep, unique_id=hook_id)
    try:
        yield bodies
    finally:
        client.meta.events.unregister(event, unique_id=hook_id)


def wire_records(bodies: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [r for body in bodies for r in body.get("Records", [])]


def make_table(lab: labkit.Lab, name: str, **kwargs: Any) -> tuple[Any, str]:
    table = lab.create_table(name, **kwargs)
    return table, lab.stream_arn(name)


def only_shard(lab: labkit.Lab, arn: str) -> dict[str, Any]:
    (shard,) = lab.streams.describe_stream(StreamArn=arn)["StreamDescription"]["Shards"]
    return shard


def iterator(lab: labkit.Lab, arn: str, kind: str = "TRIM_HORIZON", **kwargs: Any) -> str:
    return lab.streams.get_shard_iterator(
        StreamArn=arn, ShardId=only_shard(lab, arn)["ShardId"], ShardIteratorType=kind, **kwargs
    )["ShardIterator"]


def read_lambda_records(
    lab: labkit.Lab, arn: str, done: Callable[[list[dict[str, Any]]], bool]
) -> list[dict[str, Any]]:
    reader = labkit.StreamReader(lab.streams, arn)
    return [lambda_record(r, arn) for r in read_until(reader, done)]


def error_code(call: Callable[..., Any], **kwargs: Any) -> str:
    with pytest.raises(ClientError) as info:
        call(**kwargs)
    return str(info.value.response["Error"]["Code"])


@pytest.fixture(scope="module")
def module_tables(lab: labkit.Lab) -> Iterator[Callable[[str], str]]:
    """Table names for module-wide fixtures (deleted at the module's end)."""
    made: list[str] = []

    def make(label: str) -> str:
        name = f"test_local_differences.{uuid.uuid4().hex[:8]}.{label}"
        made.append(name)
        return name

    yield make
    delete_tables(lab, made)


# -- TTL deletions ---------------------------------------------------------------------------
def _aws_size_twin() -> int:
    """An expiry time in the past with the byte size of AWS's measured 1723213300.

    DynamoDB sizes a number by its significant digits (trailing zeros trimmed): 1723213300 has 8.
    Any 10-digit value ending in exactly two zeros has 8 too; this one is at least 700 s ago.
    """
    return (int(time.time()) // 1000 - 1) * 1000 + 300


AWS_TTL_ITEM_ID = "1e561388-7ae6-4e9d-8c16-328c3703bd94"


@pytest.fixture(scope="module")
def ttl_run(lab: labkit.Lab, module_tables: Callable[[str], str]) -> dict[str, Any]:
    """One TTL deletion per stream view type, captured raw (wire JSON) and Lambda-shaped.

    Each table has TTL on ``expired_at`` and holds the item of the AWS-measured TTL record in
    localstack/localstack#11343 (same id, an expiry of the same byte size), plus items TTL must
    ignore: expired more than five years ago, a String expiry, an expiry in milliseconds.
    """
    now = int(time.time())
    expiry = _aws_size_twin()
    ignored = {
        "six-years-ago": now - 6 * 366 * 86_400,
        "as-string": str(now - 3600),
        "in-milliseconds": (now - 3600) * 1000,
    }
    tables: dict[str, dict[str, Any]] = {}
    for view in VIEWS:
        name = module_tables(f"ttl.{view}")
        table, arn = make_table(lab, name, key="id", stream=view)
        lab.dynamodb.update_time_to_live(
            TableName=name,
            TimeToLiveSpecification={"Enabled": True, "AttributeName": "expired_at"},
        )
        for item_id, ignored_expiry in ignored.items():
            table.put_item(Item={"id": item_id, "expired_at": ignored_expiry})
        table.put_item(Item={"id": AWS_TTL_ITEM_ID, "expired_at": expiry})
        tables[view] = {
            "name": name,
            "table": table,
            "arn": arn,
            "reader": labkit.StreamReader(lab.streams, arn),
            "parsed": [],
        }

    def deletion(parsed: list[dict[str, Any]]) -> dict[str, Any] | None:
        gone = [r for r in parsed if r["eventName"] not in ("INSERT", "MODIFY")]
        return gone[0] if gone else None

    started = time.monotonic()
    with wire(lab.streams) as bodies:
        while time.monotonic() - started < TTL_WAIT_S:
            for state in tables.values():
                state["parsed"] += state["reader"].read_all()
            if all(deletion(s["parsed"]) for s in tables.values()):
                break
            time.sleep(0.2)
    elapsed = time.monotonic() - started
    raw_by_sequence = {r["dynamodb"]["SequenceNumber"]: r for r in wire_records(bodies)}
    out: dict[str, Any] = {"elapsed_s": elapsed, "expiry": expiry, "ignored": ignored, "views": {}}
    for view, state in tables.items():
        parsed = deletion(state["parsed"])
        out["views"][view] = {
            **state,
            "deletion": parsed,
            "raw": raw_by_sequence.get(parsed["dynamodb"]["SequenceNumber"]) if parsed else None,
            "lambda": lambda_record(parsed, state["arn"]) if parsed else None,
        }
    return out


def _ttl(ttl_run: dict[str, Any], view: str) -> dict[str, Any]:
    state = ttl_run["views"][view]
    assert state["deletion"] is not None, (
        f"no TTL deletion arrived on the {view} stream within {TTL_WAIT_S:.0f} s"
    )
    return state


@pytest.mark.parametrize("view", VIEWS)
def test_local_ttl_deletion_is_unknown_to_sdk_version_without_user_identity(ttl_run, view):
    """DYNAMODB LOCAL BEHAVIOUR: a TTL deletion's record, on the wire, has eventName
    UNKNOWN_TO_SDK_VERSION and no userIdentity; Keys and images are those of a REMOVE."""
    raw = _ttl(ttl_run, view)["raw"]
    assert raw["eventName"] == LOCAL_TTL_EVENT_NAME == "UNKNOWN_TO_SDK_VERSION"
    assert "userIdentity" not in raw
    assert set(raw) == RECORD_FIELDS - {"eventSourceARN"}
    ddb = raw["dynamodb"]
    assert ddb["Keys"] == {"id": {"S": AWS_TTL_ITEM_ID}}
    assert ddb["StreamViewType"] == view
    assert "NewImage" not in ddb
    has_old = view in ("OLD_IMAGE", "NEW_AND_OLD_IMAGES")
    assert ("OldImage" in ddb) == has_old
    if has_old:
        expired_at = {"N": str(ttl_run["expiry"])}
        assert ddb["OldImage"] == {"id": {"S": AWS_TTL_ITEM_ID}, "expired_at": expired_at}


@pytest.mark.parametrize("view", VIEWS)
def test_normalized_ttl_deletion_is_a_remove_by_the_dynamodb_service(ttl_run, view):
    """AWS: items deleted by TTL arrive as REMOVE records whose userIdentity is
    {"type": "Service", "principalId": "dynamodb.amazonaws.com"} (Amazon DynamoDB Developer Guide,
    "DynamoDB Streams and Time to Live"; API Reference, DynamoDB Streams "Record" and "Identity").
    """
    state = _ttl(ttl_run, view)
    record, notes = normalize_record(state["lambda"])
    assert record["eventName"] == "REMOVE"
    assert record["userIdentity"] == {"type": "Service", "principalId": "dynamodb.amazonaws.com"}
    assert set(record) == RECORD_FIELDS | {"userIdentity"}
    assert record["eventSourceARN"] == state["arn"]
    assert record["dynamodb"] == state["lambda"]["dynamodb"]  # keys and images untouched
    assert notes == (
        "TTL deletion: DynamoDB Local sent eventName 'UNKNOWN_TO_SDK_VERSION' without "
        "userIdentity; normalised to REMOVE with userIdentity Service/dynamodb.amazonaws.com",
    )
    # the filter pattern AWS's TTL guide gives for Lambda selects exactly this record
    assert record["userIdentity"]["type"] in ["Service"]
    assert record["userIdentity"]["principalId"] in ["dynamodb.amazonaws.com"]


def test_local_ttl_deletes_within_seconds(ttl_run):
    """DYNAMODB LOCAL BEHAVIOUR: expired items are deleted within seconds (measured 0.4 to 10 s;
    asserted under 30 s). AWS deletes them in the background, typically within a few days of
    expiry (API Reference, UpdateTimeToLive: "typically deletes expired items within two days")."""
    for view in VIEWS:
        _ttl(ttl_run, view)
    assert ttl_run["elapsed_s"] < 30


def test_ttl_ignores_the_items_aws_says_it_ignores(lab, ttl_run):
    """As AWS documents (Developer Guide, "Using DynamoDB Time to Live", formatting the TTL
    attribute): TTL ignores a String value, a value not in epoch seconds, and an expiry more than
    five years in the past. DynamoDB Local 3.3.1 kept all three while deleting the expired item."""
    state = _ttl(ttl_run, "NEW_AND_OLD_IMAGES")
    for item_id in ttl_run["ignored"]:
        item = lab.dynamodb.get_item(TableName=state["name"], Key={"id": {"S": item_id}})
        assert "Item" in item, f"{item_id} was deleted by TTL"
    gone = lab.dynamodb.get_item(TableName=state["name"], Key={"id": {"S": AWS_TTL_ITEM_ID}})
    assert "Item" not in gone


def test_ttl_record_size_matches_the_aws_measured_record(ttl_run):
    """AWS measured a TTL deletion of this item at SizeBytes 91 (NEW_AND_OLD_IMAGES; Keys plus
    OldImage; localstack/localstack#11343, logged from a Lambda function on AWS). DynamoDB Local
    3.3.1 gives the same size for an item of the same byte size."""
    state = _ttl(ttl_run, "NEW_AND_OLD_IMAGES")
    assert state["lambda"]["dynamodb"]["SizeBytes"] == 91
    assert state["raw"]["dynamodb"]["SizeBytes"] == 91


def test_local_allows_disabling_ttl_right_after_enabling_it(lab, table_name):
    """DYNAMODB LOCAL BEHAVIOUR: a second UpdateTimeToLive that enables TTL again is refused
    ("TimeToLive is already enabled"), but disabling it at once is accepted. AWS refuses any
    further UpdateTimeToLive on the table for up to one hour (API Reference, UpdateTimeToLive)."""
    name = table_name("ttl")
    lab.create_table(name)
    spec = {"Enabled": True, "AttributeName": "expires"}
    lab.dynamodb.update_time_to_live(TableName=name, TimeToLiveSpecification=spec)
    code = error_code(
        lab.dynamodb.update_time_to_live, TableName=name, TimeToLiveSpecification=spec
    )
    assert code == "ValidationException"
    disabled = lab.dynamodb.update_time_to_live(
        TableName=name, TimeToLiveSpecification={**spec, "Enabled": False}
    )
    assert disabled["TimeToLiveSpecification"]["Enabled"] is False


# -- empty maps ------------------------------------------------------------------------------
EMPTY_MAPS_ITEM = {
    "pk": {"S": "a"},
    "em": {"M": {}},
    "el": {"L": []},
    "es": {"S": ""},
    "l": {"L": [{"M": {}}, {"L": []}, {"M": {"x": {"M": {}}}}]},
    "m": {"M": {"em": {"M": {}}, "el": {"L": []}}},
}
EMPTY_MAP_PATHS = ("em", "l[0]", "l[2].x", "m.em")


@pytest.fixture(scope="module")
def empty_map_records(lab: labkit.Lab, module_tables: Callable[[str], str]) -> dict[str, Any]:
    """An item with empty maps at every depth, inserted then modified, read raw and parsed."""
    name = module_tables("empty-maps")
    _, arn = make_table(lab, name)
    lab.dynamodb.put_item(TableName=name, Item=EMPTY_MAPS_ITEM)
    lab.dynamodb.update_item(
        TableName=name,
        Key={"pk": {"S": "a"}},
        UpdateExpression="SET z = :z",
        ExpressionAttributeValues={":z": {"N": "1"}},
    )
    with wire(lab.streams) as bodies:
        parsed = read_until(labkit.StreamReader(lab.streams, arn), at_least(2))
    item = lab.dynamodb.get_item(TableName=name, Key={"pk": {"S": "a"}})["Item"]
    raw = wire_records(bodies)
    return {
        "raw": raw,
        "parsed": parsed,
        "arn": arn,
        # The Lambda shape made from the wire JSON, which is that shape already: add
        # eventSourceARN, and the creation time in whole epoch seconds (a float, as Lambda
        # sends it).
        "lambda": [lambda_shaped(r, arn) for r in raw],
        "item": item,
    }


def lambda_shaped(wire_record: dict[str, Any], arn: str) -> dict[str, Any]:
    out = copy.deepcopy(wire_record)
    ddb = out["dynamodb"]
    ddb["ApproximateCreationDateTime"] = float(int(ddb["ApproximateCreationDateTime"]))
    out["eventSourceARN"] = arn
    return out


def test_local_sends_empty_maps_without_a_type(empty_map_records):
    """DYNAMODB LOCAL BEHAVIOUR: in stream images (not in GetItem) an empty map, at any depth,
    is sent as {} instead of {"M": {}}; empty lists and empty strings keep their type."""
    insert, modify = empty_map_records["raw"]
    for image in (insert["dynamodb"]["NewImage"], modify["dynamodb"]["OldImage"]):
        assert image["em"] == {}
        assert image["l"] == {"L": [{}, {"L": []}, {"M": {"x": {}}}]}
        assert image["m"] == {"M": {"em": {}, "el": {"L": []}}}
        assert image["el"] == {"L": []} and image["es"] == {"S": ""}
    assert empty_map_records["item"]["em"] == {"M": {}}  # GetItem has the type
    with pytest.raises(TypeError):  # what a handler deserialising the image would meet
        plain(insert["dynamodb"]["NewImage"])


def test_normalized_empty_maps_have_the_map_type(empty_map_records):
    """AWS: every attribute value names its type, and an empty map is {"M": {}} (API Reference,
    DynamoDB Streams "AttributeValue"); after normalising, the images equal the item GetItem
    returns, and deserialise."""
    insert, modify = empty_map_records["lambda"]
    fixed_insert, notes = normalize_record(insert)
    assert fixed_insert["dynamodb"]["NewImage"] == EMPTY_MAPS_ITEM
    (note,) = notes
    found = note.removeprefix("Empty map: DynamoDB Local sent {} (a value with no type) at ")
    found = found.removesuffix('; normalised to {"M": {}}, the empty map it stands for')
    assert sorted(found.split(", ")) == sorted(f"NewImage.{p}" for p in EMPTY_MAP_PATHS)
    fixed_modify, notes = normalize_record(modify)
    assert fixed_modify["dynamodb"]["OldImage"] == EMPTY_MAPS_ITEM
    assert fixed_modify["dynamodb"]["NewImage"] == empty_map_records["item"]
    assert len(notes) == 1 and "OldImage.m.em" in notes[0] and "NewImage.em" in notes[0]
    assert plain(fixed_modify["dynamodb"]["NewImage"])["l"] == [{}, [], {"x": {}}]


def test_normalizing_before_lambda_record_gives_the_same_event(empty_map_records):
    """normalize_record's rules touch neither bytes nor datetimes, so it also works on boto3's
    GetRecords records: normalising first, then building the Lambda record, gives the event
    the wire JSON gives (the order a trigger can use until lambda_record accepts {})."""
    arn = empty_map_records["arn"]
    for parsed, shaped in zip(
        empty_map_records["parsed"], empty_map_records["lambda"], strict=True
    ):
        fixed_first, notes_first = normalize_record(parsed)
        fixed, notes = normalize_record(shaped)
        assert lambda_record(fixed_first, arn) == fixed
        assert notes_first == notes


def test_lambda_record_accepts_local_empty_maps(empty_map_records):
    """DynamoDB Local's untyped empty maps pass through lambda_record, and normalize_record then
    gives them their M type, as the trigger does it (normalise after lambda_record)."""
    parsed = empty_map_records["parsed"][0]
    record = lambda_record(parsed, empty_map_records["arn"])
    assert normalize_record(record)[0]["dynamodb"]["NewImage"] == EMPTY_MAPS_ITEM


# -- the other record fields -----------------------------------------------------------------
@pytest.fixture(scope="module")
def plain_records(lab: labkit.Lab, module_tables: Callable[[str], str]) -> dict[str, Any]:
    """INSERT, MODIFY and REMOVE of the Lambda guide's example item, with wall-clock bounds."""
    name = module_tables("lambda-guide")
    lab.dynamodb.create_table(
        TableName=name,
        KeySchema=[{"AttributeName": "Id", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "Id", "AttributeType": "N"}],
        BillingMode="PAY_PER_REQUEST",
        StreamSpecification={"StreamEnabled": True, "StreamViewType": "NEW_AND_OLD_IMAGES"},
    )
    arn = lab.stream_arn(name)
    before = time.time()
    lab.dynamodb.put_item(TableName=name, Item={"Id": {"N": "101"}, "Message": {"S": "New item!"}})
    lab.dynamodb.put_item(
        TableName=name, Item={"Id": {"N": "101"}, "Message": {"S": "This item has changed"}}
    )
    lab.dynamodb.delete_item(TableName=name, Key={"Id": {"N": "101"}})
    after = time.time()
    with wire(lab.streams) as bodies:
        records = read_lambda_records(lab, arn, at_least(3))
    return {"lambda": records, "raw": wire_records(bodies), "before": before, "after": after}


def test_size_bytes_matches_the_lambda_guide_example(plain_records):
    """AWS: the Lambda guide's example event (with-ddb.html) has SizeBytes 26, 59 and 38 for
    this item's INSERT, MODIFY and REMOVE: the item sizes of Keys plus the images present
    (Developer Guide, "Item sizes"). DynamoDB Local 3.3.1 gives the same."""
    records = plain_records["lambda"]
    assert [r["eventName"] for r in records] == ["INSERT", "MODIFY", "REMOVE"]
    assert [r["dynamodb"]["SizeBytes"] for r in records] == [26, 59, 38]
    for local, aws in zip(records, AWS_EXAMPLE_RECORDS, strict=True):
        assert local["dynamodb"]["Keys"] == aws["dynamodb"]["Keys"]
        for image in ("NewImage", "OldImage"):
            assert local["dynamodb"].get(image) == aws["dynamodb"].get(image)


def test_local_creation_time_is_rounded_down_to_the_minute(plain_records):
    """DYNAMODB LOCAL BEHAVIOUR: ApproximateCreationDateTime is rounded down to the minute (the
    wire value is a multiple of 60, e.g. 1795726920.000). AWS rounds down to the second (API
    Reference, DynamoDB Streams "StreamRecord")."""
    for raw in plain_records["raw"]:
        assert raw["dynamodb"]["ApproximateCreationDateTime"] % 60 == 0
    for record in plain_records["lambda"]:
        created = record["dynamodb"]["ApproximateCreationDateTime"]
        assert created % 60 == 0
        assert plain_records["before"] - 60 < created <= plain_records["after"]


def test_normalize_leaves_the_minute_rounded_creation_time_alone(plain_records):
    """Not correctable: the second AWS would have reported is unknown, so the record keeps the
    minute DynamoDB Local sent (epoch seconds, as in a Lambda event) and no note is made."""
    for record in plain_records["lambda"]:
        fixed, notes = normalize_record(record)
        assert fixed == record and notes == ()
        assert type(fixed["dynamodb"]["ApproximateCreationDateTime"]) is float  # as on AWS


def test_event_version_and_source_match_the_lambda_guide_example(plain_records):
    """AWS: eventVersion "1.1" and eventSource "aws:dynamodb" in the Lambda guide's example event
    (with-ddb.html; API Reference, DynamoDB Streams "Record"). DynamoDB Local 3.3.1 agrees."""
    for record in plain_records["lambda"]:
        assert set(record) == RECORD_FIELDS
        assert record["eventVersion"] == "1.1"
        assert record["eventSource"] == "aws:dynamodb"


def test_local_event_ids_are_uuids(plain_records):
    """DYNAMODB LOCAL BEHAVIOUR: eventID is a hyphenated UUID; AWS's examples show 32 hex digits,
    but AWS documents only "a globally unique identifier" (a String), so labkit leaves it."""
    for record in plain_records["lambda"]:
        assert str(uuid.UUID(record["eventID"])) == record["eventID"]
        assert not re.fullmatch(r"[0-9a-f]{32}", record["eventID"])
        assert normalize_record(record)[1] == ()


def test_local_sequence_numbers_and_region(plain_records):
    """DYNAMODB LOCAL BEHAVIOUR: sequence numbers are 21-digit, zero-padded counters (AWS: a
    String of 21 to 40 characters, API Reference "StreamRecord"); awsRegion is "ddblocal", the
    region of Local's ARNs (AWS: the region of the request, API Reference "Record")."""
    numbers = [r["dynamodb"]["SequenceNumber"] for r in plain_records["lambda"]]
    assert all(re.fullmatch(r"0*[1-9][0-9]*", n) and len(n) == 21 for n in numbers)
    assert [int(n) for n in numbers] == sorted(int(n) for n in numbers)
    for record in plain_records["lambda"]:
        assert record["awsRegion"] == "ddblocal"
        assert record["eventSourceARN"].startswith("arn:aws:dynamodb:ddblocal:000000000000:")


def test_local_keeps_trailing_zeros_of_numbers_inside_lists(lab, table_name):
    """DYNAMODB LOCAL BEHAVIOUR: a top-level number loses its trailing zeros ("1.50" -> "1.5")
    but one inside a list keeps them ("2.0"), in GetItem and in the stream alike. AWS documents
    that leading and trailing zeros of numbers are trimmed (Developer Guide, "Supported data
    types"). Item data, not a stream shape: labkit does not change it."""
    name = table_name("numbers")
    _, arn = make_table(lab, name)
    item = {"pk": {"S": "a"}, "n": {"N": "1.50"}, "l": {"L": [{"N": "2.0"}]}}
    lab.dynamodb.put_item(TableName=name, Item=item)
    (record,) = read_lambda_records(lab, arn, at_least(1))
    stored = lab.dynamodb.get_item(TableName=name, Key={"pk": {"S": "a"}})["Item"]
    for image in (record["dynamodb"]["NewImage"], stored):
        assert image["n"] == {"N": "1.5"}
        assert image["l"] == {"L": [{"N": "2.0"}]}
    assert normalize_record(record)[1] == ()


def test_transactions_and_batches_write_one_record_per_changed_item(lab, table_name):
    """As on AWS (Developer Guide, "Change data capture for DynamoDB Streams": a record per item
    change; none for a write that changes nothing): TransactWriteItems and BatchWriteItem give one
    record per changed item; a ConditionCheck, or a delete of an absent item, gives none."""
    name = table_name("tx")
    table, arn = make_table(lab, name)
    table.put_item(Item={"pk": "cc"})
    lab.dynamodb.transact_write_items(
        TransactItems=[
            {"Put": {"TableName": name, "Item": {"pk": {"S": "t1"}, "v": {"N": "1"}}}},
            {
                "Update": {
                    "TableName": name,
                    "Key": {"pk": {"S": "t2"}},
                    "UpdateExpression": "SET v = :v",
                    "ExpressionAttributeValues": {":v": {"N": "2"}},
                }
            },
            {"Delete": {"TableName": name, "Key": {"pk": {"S": "absent"}}}},
            {
                "ConditionCheck": {
                    "TableName": name,
                    "Key": {"pk": {"S": "cc"}},
                    "ConditionExpression": "attribute_exists(pk)",
                }
            },
        ]
    )
    lab.dynamodb.batch_write_item(
        RequestItems={
            name: [
                {"PutRequest": {"Item": {"pk": {"S": "b1"}}}},
                {"DeleteRequest": {"Key": {"pk": {"S": "t1"}}}},
                {"DeleteRequest": {"Key": {"pk": {"S": "never"}}}},
            ]
        }
    )
    reader = labkit.StreamReader(lab.streams, arn)
    records = read_until(reader, at_least(5))
    time.sleep(0.3)
    records += reader.read_all()  # nothing more may come
    events = [(r["eventName"], plain(r["dynamodb"]["Keys"])["pk"]) for r in records]
    assert events == [
        ("INSERT", "cc"),
        ("INSERT", "t1"),
        ("INSERT", "t2"),
        ("INSERT", "b1"),
        ("REMOVE", "t1"),
    ]
    assert all(normalize_record(lambda_record(r, arn))[1] == () for r in records)


# -- GetRecords and iterators ----------------------------------------------------------------
def test_get_records_refuses_a_limit_above_1000(lab, table_name):
    """As on AWS (API Reference, DynamoDB Streams "GetRecords": Limit 1 to 1000): DynamoDB Local
    3.3.1 answers ValidationException for 1001 (botocore checks the minimum itself)."""
    name = table_name("limit")
    table, arn = make_table(lab, name)
    table.put_item(Item={"pk": "a"})
    shard_iterator = iterator(lab, arn)
    assert error_code(lab.streams.get_records, ShardIterator=shard_iterator, Limit=1001) == (
        "ValidationException"
    )
    assert len(lab.streams.get_records(ShardIterator=shard_iterator, Limit=1000)["Records"]) == 1


def test_local_get_records_ignores_the_1_mb_cap(lab, table_name):
    """DYNAMODB LOCAL BEHAVIOUR: one GetRecords returns more than 1 MB (here six records of about
    390 KB). AWS returns at most 1 MB or 1000 records, whichever comes first (API Reference,
    DynamoDB Streams "GetRecords"), so on AWS a batch of big items arrives in several calls."""
    name = table_name("big")
    table, arn = make_table(lab, name, stream="NEW_IMAGE")
    for i in range(6):
        table.put_item(Item={"pk": f"p{i}", "blob": "x" * 390_000})
    records = lab.streams.get_records(ShardIterator=iterator(lab, arn), Limit=1000)["Records"]
    assert len(records) == 6
    assert sum(r["dynamodb"]["SizeBytes"] for r in records) > 2 * 1024 * 1024


@pytest.mark.parametrize("kind", ["TRIM_HORIZON", "LATEST"])
def test_local_iterator_taken_on_an_empty_shard_breaks(lab, table_name, kind):
    """DYNAMODB LOCAL BEHAVIOUR: an iterator taken while the shard is empty raises
    TrimmedDataAccessException once another table has written first (sequence numbers are one
    counter for the whole server). On AWS such an iterator reads the shard's first record
    (API Reference, DynamoDB Streams "GetShardIterator"). labkit's StreamReader takes a fresh
    iterator and reads on."""
    mine, other = table_name("mine"), table_name("other")
    table, arn = make_table(lab, mine)
    other_table, _ = make_table(lab, other)
    shard_iterator = iterator(lab, arn, kind)
    reader = labkit.StreamReader(lab.streams, arn, starting_position=kind)
    other_table.put_item(Item={"pk": "elsewhere"})
    table.put_item(Item={"pk": "here"})
    code = error_code(lab.streams.get_records, ShardIterator=shard_iterator)
    assert code == "TrimmedDataAccessException"
    records = read_until(reader, at_least(1))
    assert [plain(r["dynamodb"]["Keys"]) for r in records] == [{"pk": "here"}]


# -- the stream's life: disable, re-enable, delete -------------------------------------------
def test_local_disabled_stream_is_disabled_at_once_and_its_shard_closes(lab, table_name):
    """DYNAMODB LOCAL BEHAVIOUR: after DisableStream the stream is DISABLED at once (AWS passes
    through DISABLING; API Reference, "StreamDescription"). As on AWS (Developer Guide, "Change
    data capture for DynamoDB Streams": disabling closes the open shards; their records stay
    readable for 24 hours) the shard gets an EndingSequenceNumber, its records remain readable,
    and the last GetRecords has no NextShardIterator."""
    name = table_name("disable")
    table, arn = make_table(lab, name)
    table.put_item(Item={"pk": "a"})
    open_iterator = iterator(lab, arn)
    lab.dynamodb.update_table(TableName=name, StreamSpecification={"StreamEnabled": False})
    desc = lab.streams.describe_stream(StreamArn=arn)["StreamDescription"]
    assert desc["StreamStatus"] == "DISABLED"
    (shard,) = desc["Shards"]
    numbers = shard["SequenceNumberRange"]
    page = lab.streams.get_records(ShardIterator=open_iterator)
    (record,) = page["Records"]
    assert numbers["EndingSequenceNumber"] == record["dynamodb"]["SequenceNumber"]
    assert "NextShardIterator" not in page
    reader = labkit.StreamReader(lab.streams, arn)
    assert len(reader.read_all()) == 1
    assert all(s.finished for s in reader.shards.values())


def test_local_shard_closed_while_empty_claims_one_sequence_number(lab, table_name):
    """DYNAMODB LOCAL BEHAVIOUR (surprising): a shard closed before any record arrived has
    StartingSequenceNumber == EndingSequenceNumber, a number no record carries; reading it gives
    no records and no NextShardIterator."""
    name = table_name("empty-close")
    _, arn = make_table(lab, name)
    lab.dynamodb.update_table(TableName=name, StreamSpecification={"StreamEnabled": False})
    numbers = only_shard(lab, arn)["SequenceNumberRange"]
    assert numbers["StartingSequenceNumber"] == numbers["EndingSequenceNumber"]
    page = lab.streams.get_records(ShardIterator=iterator(lab, arn))
    assert page["Records"] == [] and "NextShardIterator" not in page


def test_reenabling_a_stream_creates_a_new_stream(lab, table_name):
    """As on AWS (Developer Guide, "Change data capture for DynamoDB Streams": disabling and
    enabling again creates a new stream, with a new label): the table's LatestStreamArn changes,
    both streams are listed, and the old one stays DISABLED and keeps its records."""
    name = table_name("reenable")
    table, old_arn = make_table(lab, name)
    table.put_item(Item={"pk": "old"})
    lab.dynamodb.update_table(TableName=name, StreamSpecification={"StreamEnabled": False})
    time.sleep(0.01)  # stream labels are timestamps in milliseconds
    lab.dynamodb.update_table(
        TableName=name, StreamSpecification={"StreamEnabled": True, "StreamViewType": "KEYS_ONLY"}
    )
    new_arn = lab.dynamodb.describe_table(TableName=name)["Table"]["LatestStreamArn"]
    assert new_arn != old_arn
    listed = {s["StreamArn"] for s in lab.streams.list_streams(TableName=name)["Streams"]}
    assert listed == {old_arn, new_arn}
    table.put_item(Item={"pk": "new"})
    old = lab.streams.describe_stream(StreamArn=old_arn)["StreamDescription"]
    assert old["StreamStatus"] == "DISABLED"
    old_records = lab.streams.get_records(ShardIterator=iterator(lab, old_arn))["Records"]
    new_records = read_until(labkit.StreamReader(lab.streams, new_arn), at_least(1))
    assert [plain(r["dynamodb"]["Keys"]) for r in old_records] == [{"pk": "old"}]
    assert [plain(r["dynamodb"]["Keys"]) for r in new_records] == [{"pk": "new"}]


def test_local_stream_of_a_deleted_table_stays_readable(lab, table_name):
    """As AWS documents (API Reference, "DeleteTable": the table's stream goes into the DISABLED
    state and is deleted after 24 hours), DynamoDB Local keeps the stream while the server runs:
    DescribeStream answers DISABLED with the shard closed, and the records can still be read
    with old and new iterators."""
    name = table_name("deleted")
    table, arn = make_table(lab, name)
    table.put_item(Item={"pk": "a"})
    before = iterator(lab, arn)
    lab.dynamodb.delete_table(TableName=name)
    desc = lab.streams.describe_stream(StreamArn=arn)["StreamDescription"]
    assert desc["StreamStatus"] == "DISABLED"
    assert "EndingSequenceNumber" in desc["Shards"][0]["SequenceNumberRange"]
    for shard_iterator in (before, iterator(lab, arn)):
        (record,) = lab.streams.get_records(ShardIterator=shard_iterator)["Records"]
        assert plain(record["dynamodb"]["Keys"]) == {"pk": "a"}


def test_local_child_shard_filter_finds_no_children(lab, table_name):
    """DYNAMODB LOCAL BEHAVIOUR: DescribeStream accepts ShardFilter CHILD_SHARDS (API Reference,
    DynamoDB Streams "ShardFilter") and answers no shards: DynamoDB Local never splits a shard,
    so a stream has one shard and no lineage to follow."""
    name = table_name("children")
    table, arn = make_table(lab, name)
    table.put_item(Item={"pk": "a"})
    shard = only_shard(lab, arn)
    assert "ParentShardId" not in shard
    desc = lab.streams.describe_stream(
        StreamArn=arn, ShardFilter={"Type": "CHILD_SHARDS", "ShardId": shard["ShardId"]}
    )["StreamDescription"]
    assert desc["Shards"] == []


# -- normalize_record on its own (no server) -------------------------------------------------
def test_normalize_leaves_records_in_aws_shape_unchanged():
    """The Lambda guide's example records (with-ddb.html), the last as a TTL deletion, come out
    equal and with no notes."""
    for record in AWS_EXAMPLE_RECORDS:
        assert normalize_record(record) == (record, ())


def test_normalize_corrects_the_measured_ttl_record():
    """The TTL deletion DynamoDB Local 3.3.1 sent, through lambda_record, becomes AWS's shape."""
    parsed = copy.deepcopy(MEASURED_LOCAL_TTL_RECORD)
    record, notes = normalize_record(lambda_record(parsed, LOCAL_ARN))
    assert record["eventName"] == "REMOVE"
    assert record["userIdentity"] == TTL_USER_IDENTITY
    assert list(record)[-1] == "userIdentity"  # after eventSourceARN, as in AWS's examples
    assert record["dynamodb"] == MEASURED_LOCAL_TTL_RECORD["dynamodb"]
    assert len(notes) == 1 and notes[0].startswith("TTL deletion: ")


def test_normalize_does_not_change_its_input_and_is_idempotent():
    record = lambda_record(copy.deepcopy(MEASURED_LOCAL_TTL_RECORD), LOCAL_ARN)
    record["dynamodb"]["OldImage"]["m"] = {"L": [{}]}
    before = copy.deepcopy(record)
    fixed, notes = normalize_record(record)
    assert record == before
    assert len(notes) == 2
    assert fixed["dynamodb"]["OldImage"]["m"] == {"L": [{"M": {}}]}
    assert normalize_record(fixed) == (fixed, ())
    fixed["dynamodb"]["Keys"]["pk"]["S"] = "changed"
    assert record == before  # the result shares nothing with the input


def test_normalize_leaves_an_unexplained_event_name_but_says_so():
    """An UNKNOWN_TO_SDK_VERSION record with a new image is no deletion: no rule explains it, so
    it is passed on unchanged, with a note (never silently)."""
    record = lambda_record(copy.deepcopy(MEASURED_LOCAL_TTL_RECORD), LOCAL_ARN)
    record["dynamodb"]["NewImage"] = record["dynamodb"]["OldImage"]
    fixed, notes = normalize_record(record)
    assert fixed == record
    assert notes == (
        "Unknown event name: eventName 'UNKNOWN_TO_SDK_VERSION' is none of INSERT, MODIFY, "
        "REMOVE; not normalised (no faithful correction), left as sent",
    )


def test_normalize_keeps_an_existing_user_identity():
    record = lambda_record(copy.deepcopy(MEASURED_LOCAL_TTL_RECORD), LOCAL_ARN)
    record["userIdentity"] = {"type": "Service", "principalId": "example"}
    fixed, notes = normalize_record(record)
    assert fixed["userIdentity"] == {"type": "Service", "principalId": "example"}
    assert [n.split(":")[0] for n in notes] == ["Unknown event name"]


def test_every_rule_names_its_aws_reference():
    assert [rule.topic for rule in RULES] == ["TTL deletion", "Empty map", "Unknown event name"]
    for rule in RULES:
        assert rule.aws_reference.startswith("Amazon DynamoDB ")


def test_deserialised_normalised_images_round_trip():
    """A handler's usual first step, TypeDeserializer, works on every normalised image."""
    record = {
        **AWS_EXAMPLE_RECORDS[0],
        "dynamodb": {
            **AWS_EXAMPLE_RECORDS[0]["dynamodb"],
            "NewImage": {"Id": {"N": "101"}, "m": {}, "l": {"L": [{}]}},
        },
    }
    fixed, _ = normalize_record(record)
    image = {k: TypeDeserializer().deserialize(v) for k, v in fixed["dynamodb"]["NewImage"].items()}
    assert image == {"Id": Decimal(101), "m": {}, "l": [{}]}

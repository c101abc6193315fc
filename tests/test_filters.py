"""Lambda event filtering on DynamoDB stream records, checked rule by rule against AWS's documents.

No DynamoDB is needed: each record is built in the shape Lambda delivers. Sources cited below:

- [L1] Lambda DG, "Control which events Lambda sends to your function", Filter rule syntax
  https://docs.aws.amazon.com/lambda/latest/dg/invocation-eventfiltering.html
- [L2] Lambda DG, "Using event filtering with a DynamoDB event source"
  https://docs.aws.amazon.com/lambda/latest/dg/with-ddb-filtering.html
- [L3] Lambda API reference, Filter (Pattern length 0..4096)
  https://docs.aws.amazon.com/lambda/latest/api/API_Filter.html
- [E1] EventBridge UG, "Comparison operators for use in event patterns" (with "Pipe support")
  https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-create-pattern-operators.html
- [E2] EventBridge UG, "Arrays in Amazon EventBridge event patterns"
  https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-event-patterns-arrays.html
- [E3] EventBridge UG, "Matching null values and empty strings"
  https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-event-patterns-null-values.html
- [E4] EventBridge UG, "Content filtering in Amazon EventBridge event patterns"
  https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-event-patterns-content-based-filtering.html
- [E6] EventBridge UG, "Event pattern syntax" ("the same nesting structure")
  https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-create-pattern.html
- [L4] Lambda DG, "Duplicate keys", in the guide's Markdown source
  (awsdocs/aws-lambda-developer-guide, doc_source/invocation-eventfiltering.md)
- [R] EventBridge as recorded: LocalStack's AWS-validated TestEventPattern snapshots
  (tests/aws/services/events/event_pattern_templates, 2025-10-15), engine aws/event-ruler
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from labkit._errors import InvalidTriggerOptionError, LabError, TriggerError
from labkit.esm._filters import (
    MAX_FILTERS,
    MAX_PATTERN_LENGTH,
    FilterCriteria,
    compile_filter_criteria,
)

LAMBDA_SAYS = '"Invalid filter pattern definition."'


def record(
    event_name: str = "INSERT",
    *,
    keys: dict[str, Any] | None = None,
    new: dict[str, Any] | None = None,
    old: dict[str, Any] | None = None,
    **top: Any,
) -> dict[str, Any]:
    """One stream record as Lambda delivers it (images in DynamoDB JSON)."""
    ddb: dict[str, Any] = {
        "ApproximateCreationDateTime": 1678831218.0,  # [L2]'s example record: a fraction
        "Keys": keys if keys is not None else {"CustomerName": {"S": "AnyCompany Industries"}},
        "SequenceNumber": "111",
        "SizeBytes": 26,
        "StreamViewType": "NEW_AND_OLD_IMAGES",
    }
    if new is not None:
        ddb["NewImage"] = new
    if old is not None:
        ddb["OldImage"] = old
    return {
        "eventID": "1",
        "eventName": event_name,
        "eventVersion": "1.1",
        "eventSource": "aws:dynamodb",
        "awsRegion": "us-east-1",
        "dynamodb": ddb,
        "eventSourceARN": "arn:aws:dynamodb:us-east-1:000000000000:table/t/stream/2024-01-01",
        **top,
    }


def criteria(*patterns: dict[str, Any] | str) -> FilterCriteria:
    """FilterCriteria from patterns; a str is used verbatim (to keep a number's exact text)."""
    filters = [{"Pattern": p if isinstance(p, str) else json.dumps(p)} for p in patterns]
    result = compile_filter_criteria({"Filters": filters})
    assert result is not None
    return result


def new_image(**attrs: dict[str, Any]) -> dict[str, Any]:
    return record(new=dict(attrs))


def on_new(attr: str, rule: Any) -> dict[str, Any]:
    """A pattern on one typed attribute of NewImage, e.g. on_new("status", {"S": ["new"]})."""
    return {"dynamodb": {"NewImage": {attr: rule}}}


STATUS_NEW = new_image(status={"S": "new"})


# --- the operators of [L1]'s table, each positive and negative ----------------------------------
@pytest.mark.parametrize(
    ("values", "expected"),
    [(["new"], True), (["pending"], False), (["New"], False), (["new "], False)],
)
def test_equals_is_exact_and_case_sensitive(values: list[str], expected: bool) -> None:
    """[L1] Equals: "Name": ["Alice"]; and its note: exact character-by-character matching
    "without case-folding or any other string normalization"."""
    assert criteria(on_new("status", {"S": values})).matches(STATUS_NEW) is expected


@pytest.mark.parametrize(
    ("manager", "expected"),
    [("Pat Candella", True), ("Shirley Rodriguez", True), ("Terry Whitlock", False)],
)
def test_or_lists_several_values_for_one_field(manager: str, expected: bool) -> None:
    """[L1] Or: "PaymentType": ["Credit", "Debit"]; [L2] "Filtering with table attributes":
    AccountManager is "Pat Candella" or "Shirley Rodriguez" (the page's own pattern)."""
    pattern = on_new("AccountManager", {"S": ["Pat Candella", "Shirley Rodriguez"]})
    assert criteria(pattern).matches(new_image(AccountManager={"S": manager})) is expected


@pytest.mark.parametrize(
    ("event_name", "status", "expected"),
    [("INSERT", "new", True), ("MODIFY", "new", False), ("INSERT", "done", False)],
)
def test_and_requires_every_field(event_name: str, status: str, expected: bool) -> None:
    """[L1] And: "Location": ["New York"], "Day": ["Monday"] - every field named must match.
    (Filtering on the metadata field eventName is what [L1]'s metadata properties allow.)"""
    pattern = {"eventName": ["INSERT"], **on_new("status", {"S": ["new"]})}
    rec = record(event_name, new={"status": {"S": status}})
    assert criteria(pattern).matches(rec) is expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [("ALICE", True), ("alice", True), ("Alice", True), ("Alicia", False)],
)
def test_equals_ignore_case(value: str, expected: bool) -> None:
    """[L1] Equals (ignore case): "Name": [{"equals-ignore-case": "alice"}]."""
    pattern = on_new("Name", {"S": [{"equals-ignore-case": "alice"}]})
    assert criteria(pattern).matches(new_image(Name={"S": value})) is expected


@pytest.mark.parametrize(
    ("rule", "value", "expected"),
    [
        ({"prefix": "us-"}, "us-east-1", True),
        ({"prefix": "us-"}, "eu-west-1", False),
        ({"prefix": "us-"}, "US-east-1", False),
        ({"suffix": ".png"}, "cat.png", True),
        ({"suffix": ".png"}, "cat.PNG", False),
        ({"suffix": ".png"}, "png.txt", False),
        ({"prefix": {"equals-ignore-case": "eventb"}}, "EventBridge", True),
        ({"prefix": {"equals-ignore-case": "eventb"}}, "Event", False),
        ({"suffix": {"equals-ignore-case": "tBridge"}}, "EVENTBRIDGE", True),
        ({"suffix": {"equals-ignore-case": "tBridge"}}, "EventBus", False),
    ],
)
def test_prefix_and_suffix(rule: dict[str, Any], value: str, expected: bool) -> None:
    """[L1] Begins with: [{"prefix": "us-"}]; Ends with: [{"suffix": ".png"}];
    [E1] Begins/Ends with (ignore case), both marked "Pipe support: Yes"."""
    pattern = on_new("Region", {"S": [rule]})
    assert criteria(pattern).matches(new_image(Region={"S": value})) is expected


@pytest.mark.parametrize(
    ("rule", "value", "expected"),
    [
        ({"anything-but": ["Raining"]}, "Sunny", True),
        ({"anything-but": ["Raining"]}, "Raining", False),
        ({"anything-but": "Raining"}, "Sunny", True),
        ({"anything-but": "Raining"}, "Raining", False),
        ({"anything-but": ["Raining", "Snowing"]}, "Snowing", False),
        ({"anything-but": ["Raining", "Snowing"]}, "Cloudy", True),
    ],
)
def test_anything_but(rule: dict[str, Any], value: str, expected: bool) -> None:
    """[L1] Not: "Weather": [{"anything-but": ["Raining"]}]; [E1]/[E4] anything-but with a single
    string or a list (its prefix/suffix forms are refused: see REJECTED)."""
    pattern = on_new("Weather", {"S": [rule]})
    assert criteria(pattern).matches(new_image(Weather={"S": value})) is expected


@pytest.mark.parametrize(("values", "expected"), [([100, 200], True), ([26, 300], False)])
def test_anything_but_numbers(values: list[int], expected: bool) -> None:
    """[E4] anything-but with a list of numbers, on the JSON number dynamodb.SizeBytes (26)."""
    pattern = {"dynamodb": {"SizeBytes": [{"anything-but": values}]}}
    assert criteria(pattern).matches(record()) is expected


def test_anything_but_needs_the_field_to_be_there() -> None:
    """[E4] anything-but "matches anything except what's provided": it matches a value, so an
    absent attribute (no Weather in NewImage) is not a match; exists:false is the tool for that."""
    pattern = on_new("Weather", {"S": [{"anything-but": ["Raining"]}]})
    assert criteria(pattern).matches(new_image(Other={"S": "x"})) is False


@pytest.mark.parametrize(
    ("rule", "expected"),
    [
        (["=", 26], True),
        (["=", 27], False),
        ([">", 10, "<=", 26], True),  # upper bound included
        ([">", 10, "<", 26], False),  # upper bound excluded
        ([">=", 26, "<", 30], True),  # lower bound included
        ([">", 26, "<", 30], False),  # lower bound excluded
        (["<", 0], False),
        (["<=", 5000000000], True),
    ],
)
def test_numeric_on_json_numbers(rule: list[Any], expected: bool) -> None:
    """[L1] Numeric (equals) [{"numeric": ["=", 100]}] and Numeric (range)
    [{"numeric": [">", 10, "<=", 20]}], with boundaries, on dynamodb.SizeBytes (a JSON number)."""
    pattern = {"dynamodb": {"SizeBytes": [{"numeric": rule}]}}
    assert criteria(pattern).matches(record()) is expected


def test_numeric_on_approximate_creation_date_time() -> None:
    """[E4] numeric works on JSON numbers: ApproximateCreationDateTime is one in Lambda's record
    (LocalStack's AWS-validated test 'date_time_conversion' matches it with [">", 0])."""
    pattern = {"dynamodb": {"ApproximateCreationDateTime": [{"numeric": [">", 0]}]}}
    assert criteria(pattern).matches(record()) is True


@pytest.mark.parametrize(
    ("rule", "expected"),
    [
        ([{"numeric": [">", 10]}], False),
        ([{"numeric": ["=", 42]}], False),
        ([{"numeric": [">=", 0, "<", 1000]}], False),
        (["42"], True),
        ([{"prefix": "4"}], True),
        ([{"anything-but": ["41"]}], True),
    ],
)
def test_numeric_never_matches_a_dynamodb_n_value(rule: list[Any], expected: bool) -> None:
    """[L2] "DynamoDB event filtering doesn't support the use of numeric operators (numeric equals
    and numeric range). Even if items in your table are stored as numbers, these parameters are
    converted to strings". The pattern is accepted, but {"N": "42"} is a string, so numeric never
    matches it; exact text and prefix do."""
    rec = new_image(total={"N": "42"})
    assert criteria(on_new("total", {"N": rule})).matches(rec) is expected


@pytest.mark.parametrize(
    ("pattern_number", "expected"), [("300", True), ("300.0", False), ("3.0e2", False)]
)
def test_exact_numbers_compare_by_their_text(pattern_number: str, expected: bool) -> None:
    """[L1] note: "For numbers, Lambda also uses string representation. For example, 300, 300.0,
    and 3.0e2 are not considered equal." (the record's SizeBytes is the JSON number 300)."""
    rec = record()
    rec["dynamodb"]["SizeBytes"] = 300
    pattern = '{"dynamodb": {"SizeBytes": [' + pattern_number + "]}}"
    assert criteria(pattern).matches(rec) is expected


@pytest.mark.parametrize(("rule", "expected"), [([True], True), ([1], False), (["true"], False)])
def test_true_matches_only_the_json_literal(rule: list[Any], expected: bool) -> None:
    """[L2] / AWS CDK's documented example {"id": {"BOOL": [true]}}: a BOOL attribute is the JSON
    literal true, which equals neither the number 1 nor the string "true" ([L1] exact matching)."""
    pattern = on_new("active", {"BOOL": rule})
    assert criteria(pattern).matches(new_image(active={"BOOL": True})) is expected


@pytest.mark.parametrize(
    ("rule", "value", "expected"),
    [
        ([None], None, True),
        ([None], "", False),
        ([""], "", True),
        ([""], None, False),
        ([""], "x", False),
    ],
)
def test_null_and_empty_are_different(rule: list[Any], value: Any, expected: bool) -> None:
    """[L1] Null "UserID": [null] and Empty "LastName": [""]; [E3] "Null values and empty strings
    are not interchangeable". Lambda's DynamoDB records carry no JSON null of their own, so the
    null is on an extra top-level field here."""
    assert criteria({"note": rule}).matches(record(note=value)) is expected


@pytest.mark.parametrize(
    ("attrs", "pattern", "expected"),
    [
        ({"nick": {"NULL": True}}, on_new("nick", {"NULL": [True]}), True),
        ({"nick": {"S": "x"}}, on_new("nick", {"NULL": [True]}), False),
        ({"nick": {"S": ""}}, on_new("nick", {"S": [""]}), True),
    ],
)
def test_dynamodb_null_and_empty_string(
    attrs: dict[str, Any], pattern: dict[str, Any], expected: bool
) -> None:
    """[L2] typed values: a DynamoDB NULL is {"NULL": true} and an empty string {"S": ""}, so
    [L1]'s Null/Empty rules are written one level down, at the type key."""
    assert criteria(pattern).matches(record(new=attrs)) is expected


# --- exists: present / absent / intermediate nodes ------------------------------------------------
@pytest.mark.parametrize(
    ("rule", "rec", "expected"),
    [
        ([{"exists": True}], STATUS_NEW, True),
        ([{"exists": True}], new_image(other={"S": "x"}), False),
        ([{"exists": False}], new_image(other={"S": "x"}), True),
        ([{"exists": False}], STATUS_NEW, False),
        ([{"exists": False}], record(), True),  # no NewImage at all
    ],
)
def test_exists_true_and_false(rule: list[Any], rec: dict[str, Any], expected: bool) -> None:
    """[L1] Exists "ProductName": [{"exists": true}] and Does not exist [{"exists": false}];
    [E4] exists:false matches an event that has no such field."""
    assert criteria(on_new("status", {"S": rule})).matches(rec) is expected


def test_exists_false_on_old_image_picks_out_inserts() -> None:
    """[E4] exists:false matches when the field is absent: an INSERT has no OldImage, a MODIFY
    has one, so this pattern passes the INSERT only."""
    pattern = {"dynamodb": {"OldImage": {"status": {"S": [{"exists": False}]}}}}
    modify = record("MODIFY", new={"status": {"S": "b"}}, old={"status": {"S": "a"}})
    assert criteria(pattern).matches(record("INSERT", new={"status": {"S": "b"}})) is True
    assert criteria(pattern).matches(modify) is False


@pytest.mark.parametrize(
    ("pattern", "expected"),
    [
        (on_new("Organizations", [{"exists": True}]), False),
        (on_new("Organizations", {"L": {"S": [{"exists": True}]}}), True),
        (on_new("Organizations", [{"exists": False}]), True),
    ],
)
def test_exists_works_on_leaf_nodes_only(pattern: dict[str, Any], expected: bool) -> None:
    """[L2] "Using the Exists operator": {"Organizations": [{"exists": true}]} "would never return
    a match because Organizations is not a leaf node"; the page's fix {"L": {"S": [...]}} does.
    [E4]: exists:false also matches an intermediate node, which is not a leaf."""
    organizations = {"L": [{"S": "Sales"}, {"S": "Marketing"}, {"S": "Support"}]}
    rec = new_image(UserID={"S": "12345"}, Organizations=organizations)
    assert criteria(pattern).matches(rec) is expected


def test_untyped_attribute_pattern_never_matches() -> None:
    """[L2] values are DynamoDB JSON, so {"status": ["new"]} stops at the intermediate node
    {"S": "new"}; LocalStack's AWS-validated note: 'Omitting the "S" does NOT match'."""
    assert criteria(on_new("status", ["new"])).matches(STATUS_NEW) is False


# --- the DynamoDB page's own examples ---------------------------------------------------------
def test_filtering_with_table_keys_example() -> None:
    """[L2] "Filtering with table keys": the page's FilterCriteria, Pattern string verbatim."""
    filter_criteria = {
        "Filters": [
            {
                "Pattern": '{ "dynamodb" : { "Keys" : { "CustomerName" : { "S" : '
                '[ "AnyCompany Industries" ] } } } }'
            }
        ]
    }
    compiled = compile_filter_criteria(filter_criteria)
    assert compiled is not None
    assert compiled.matches(record()) is True
    assert compiled.matches(record(keys={"CustomerName": {"S": "Other Corp"}})) is False


@pytest.mark.parametrize(
    ("new_manager", "old_manager", "expected"),
    [
        ("Pat Candella", "Terry Whitlock", True),
        ("Pat Candella", "Someone Else", False),
        ("Someone Else", "Terry Whitlock", False),
    ],
)
def test_boolean_and_example_with_repeated_dynamodb_key(
    new_manager: str, old_manager: str, expected: bool
) -> None:
    """[L2] "Filtering with Boolean expressions": the page's pattern repeats the "dynamodb" key
    (NewImage in one, OldImage in the other) and means both must hold; used verbatim."""
    pattern = (
        '{ "dynamodb" : { "NewImage" : { "AccountManager" : { "S" : [ "Pat Candella" ] } } } , '
        '"dynamodb" : { "OldImage" : { "AccountManager" : { "S" : [ "Terry Whitlock" ] } } } }'
    )
    rec = record(
        "MODIFY",
        new={"AccountManager": {"S": new_manager}},
        old={"AccountManager": {"S": old_manager}},
    )
    assert criteria(pattern).matches(rec) is expected


@pytest.mark.parametrize(("status", "expected"), [("done", True), ("new", False)])
def test_a_key_given_twice_keeps_its_last_list(status: str, expected: bool) -> None:
    """[L4] "If a pattern contains duplicate keys with different values, Lambda uses only the
    last value for that key" (the guide's example repeats a leaf key). EventBridge accepts the
    same ([R] test_event_pattern_with_multi_key: "location" given twice, the event matched as by
    the last list alone; event-ruler's JsonRuleCompiler replaces a path given again)."""
    pattern = (
        '{"dynamodb": {"NewImage": {"status": {"S": ["new"]}, '
        '"total": {"N": ["42"]}, "status": {"S": ["done"]}}}}'
    )
    rec = new_image(status={"S": status}, total={"N": "42"})
    assert criteria(pattern).matches(rec) is expected
    assert 'status.S = "done"' in criteria(pattern).describe()


@pytest.mark.parametrize(
    ("pattern", "expected"),
    [
        ('{"dynamodb": {"NewImage.status": {"S": ["new"]}}}', False),
        ('{"dynamodb": {"NewImage": {"status": {"S": ["new"]}}}}', True),
    ],
    ids=["dotted-key", "nested"],
)
def test_a_dotted_key_is_one_field_name_not_a_path(pattern: str, expected: bool) -> None:
    """[E6] "The field names must also appear in the event with the same nesting structure",
    and [L1] Lambda "supports the same set of syntax and rules as Amazon EventBridge". EventBridge
    was recorded matching a dotted key against nested fields ([R] dot_joining_pattern:
    {"detail": {"state.status": ["running"]}} matched detail.state.status), a quirk event-ruler's
    README says "should not be relied upon"; nothing documents or records it for Lambda, so the
    lab follows the documented rule: write nested objects."""
    assert criteria(pattern).matches(STATUS_NEW) is expected


@pytest.mark.parametrize(
    ("pattern", "expected"),
    [
        ('{"dynamodb": {"NewImage": {"a.b": {"S": ["x"]}}}}', True),
        ('{"dynamodb": {"NewImage": {"a": {"b": {"S": ["x"]}}}}}', False),
    ],
    ids=["literal-name", "nested-pattern"],
)
def test_an_attribute_named_with_a_dot_is_matched_by_its_own_name(
    pattern: str, expected: bool
) -> None:
    """A DynamoDB attribute may be named "a.b". [E6]'s nesting rule: only a pattern with that
    very key matches it; EventBridge also matched a nested pattern a -> b against an event key
    "a.b" ([R] dot_joining_event), which the lab does not (see the test above)."""
    assert criteria(pattern).matches(new_image(**{"a.b": {"S": "x"}})) is expected


@pytest.mark.parametrize(
    ("pattern_number", "expected"),
    [("1678831218.0", True), ("1678831218", False), ("1.678831218e9", False)],
)
def test_the_creation_time_matches_only_with_its_fraction(
    pattern_number: str, expected: bool
) -> None:
    """[L1]: "For numbers, Lambda also uses string representation. For example, 300, 300.0, and
    3.0e2 are not considered equal." ApproximateCreationDateTime is a JSON number with a fraction
    ([L2]'s example record: "1678831218.0"), so an exact pattern must carry it. EventBridge was
    recorded otherwise ([R] number_comparison_float: the event value 300.0 matched [300], against
    its own guide); the lab follows Lambda's guide, and ``numeric`` compares values."""
    pattern = '{"dynamodb": {"ApproximateCreationDateTime": [' + pattern_number + "]}}"
    assert criteria(pattern).matches(record()) is expected
    numeric = {"dynamodb": {"ApproximateCreationDateTime": [{"numeric": ["=", 1678831218]}]}}
    assert criteria(numeric).matches(record()) is True


@pytest.mark.parametrize(("number", "expected"), [("4567", True), ("1234", False)])
def test_multi_level_key_example(number: str, expected: bool) -> None:
    """[L1] "Understanding event filtering basics": sort key Number is 4567, written
    {"dynamodb": {"Keys": {"Number": {"N": ["4567"]}}}} (the N value as a string)."""
    pattern = {"dynamodb": {"Keys": {"Number": {"N": ["4567"]}}}}
    rec = record(keys={"ID": {"S": "ABCD"}, "Number": {"N": number}})
    assert criteria(pattern).matches(rec) is expected


# --- $or, several filters, arrays -------------------------------------------------------------
@pytest.mark.parametrize(
    ("rec", "expected"),
    [
        (record("REMOVE", old={"status": {"S": "done"}}), True),
        (record("MODIFY", new={"status": {"S": "new"}}), True),
        (record("MODIFY", new={"status": {"S": "done"}}), False),
    ],
)
def test_or_across_fields(rec: dict[str, Any], expected: bool) -> None:
    """[L1] Or (multiple fields): "$or": [{"Location": ["New York"]}, {"Day": ["Monday"]}]."""
    pattern = {"$or": [{"eventName": ["REMOVE"]}, on_new("status", {"S": ["new"]})]}
    assert criteria(pattern).matches(rec) is expected


@pytest.mark.parametrize(
    ("event_name", "status", "tier", "expected"),
    [
        ("INSERT", "new", "free", True),
        ("INSERT", "done", "gold", True),
        ("INSERT", "done", "free", False),
        ("MODIFY", "new", "gold", False),
    ],
)
def test_or_nested_inside_an_object_and_anded(
    event_name: str, status: str, tier: str, expected: bool
) -> None:
    """[E1] $or ("Location is New York, or Day is Monday", "Pipe support: Yes") may sit inside a
    nested object and is ANDed with the fields beside it."""
    pattern = {
        "eventName": ["INSERT"],
        "dynamodb": {"NewImage": {"$or": [{"status": {"S": ["new"]}}, {"tier": {"S": ["gold"]}}]}},
    }
    rec = record(event_name, new={"status": {"S": status}, "tier": {"S": tier}})
    assert criteria(pattern).matches(rec) is expected


@pytest.mark.parametrize(
    ("event_name", "expected"), [("INSERT", True), ("REMOVE", True), ("MODIFY", False)]
)
def test_several_filters_are_ored(event_name: str, expected: bool) -> None:
    """[L1] "Your filters are logically ORed together. If a record ... satisfies one or more of
    your filters, Lambda includes the record"; otherwise Lambda discards it."""
    compiled = criteria({"eventName": ["INSERT"]}, {"eventName": ["REMOVE"]})
    assert compiled.matches(record(event_name)) is expected


@pytest.mark.parametrize(
    ("rule", "expected"),
    [(["b", "z"], True), (["z"], False), ([{"prefix": "gr"}], True), ([{"exists": True}], True)],
)
def test_array_values_match_if_any_element_matches(rule: list[Any], expected: bool) -> None:
    """[E2] "If the value in the event is an array, then the event pattern matches if the
    intersection of the event pattern array and the event array is non-empty" (a string set)."""
    rec = new_image(tags={"SS": ["a", "b", "green"]})
    assert criteria(on_new("tags", {"SS": rule})).matches(rec) is expected


def test_anything_but_on_an_array_needs_one_other_element() -> None:
    """[E2] with [L1] Not: an array matches when some element matches, so anything-but ["a"]
    matches ["a", "b"] (b is not a) but not ["a"]."""
    pattern = on_new("tags", {"SS": [{"anything-but": ["a"]}]})
    assert criteria(pattern).matches(new_image(tags={"SS": ["a", "b"]})) is True
    assert criteria(pattern).matches(new_image(tags={"SS": ["a"]})) is False


@pytest.mark.parametrize(
    ("sku", "qty", "expected"), [("B", "2", True), ("A", "1", True), ("A", "2", False)]
)
def test_list_of_maps_matches_one_element_at_a_time(sku: str, qty: str, expected: bool) -> None:
    """[E2] arrays of objects: a nested pattern matches if one element matches all of it; fields
    from two different elements are not combined (A with qty 2 is not in the list)."""
    items = {
        "L": [
            {"M": {"sku": {"S": "A"}, "qty": {"N": "1"}}},
            {"M": {"sku": {"S": "B"}, "qty": {"N": "2"}}},
        ]
    }
    pattern = on_new("items", {"L": {"M": {"sku": {"S": [sku]}, "qty": {"N": [qty]}}}})
    assert criteria(pattern).matches(new_image(items=items)) is expected


# --- no filtering, limits, rejected patterns ---------------------------------------------------
@pytest.mark.parametrize("value", [None, {}, {"Filters": []}])
def test_no_filter_criteria_means_no_filtering(value: dict[str, Any] | None) -> None:
    """[L1] "Attaching filter criteria ... (AWS CLI)": an empty FilterCriteria object ("{}")
    removes filtering; None and an empty Filters list mean the same here."""
    assert compile_filter_criteria(value) is None


def test_up_to_five_filters_and_no_more() -> None:
    """[L1] "By default, you can define up to five different filters for a single event source
    mapping ... If you attempt to add more filters than your current quota permits, Lambda will
    return an error when you try to create the event source.\""""
    five = [{"eventName": [f"E{i}"]} for i in range(MAX_FILTERS)]
    assert len(criteria(*five).patterns) == 5
    with pytest.raises(InvalidTriggerOptionError) as caught:
        criteria(*five, {"eventName": ["E5"]})
    assert "has 6 filters" in caught.value.what and "1 to 5" in caught.value.what
    assert "$or" in caught.value.fix


def test_pattern_length_limit() -> None:
    """[L3] Filter.Pattern: "Maximum length of 4096" characters; one more is refused."""
    frame = '{"eventName": [""]}'
    at_limit = frame.replace('""', '"' + "x" * (MAX_PATTERN_LENGTH - len(frame)) + '"')
    assert len(at_limit) == MAX_PATTERN_LENGTH
    assert criteria(at_limit).matches(record()) is False
    with pytest.raises(InvalidTriggerOptionError, match="4097 characters, over Lambda's 4096"):
        criteria(at_limit.replace("x", "xx", 1))


REJECTED = [
    ("bad-json", '{"eventName": ["INSERT"]', "not valid JSON", "quotes, commas"),
    ("bad-json-constant", '{"a": [NaN]}', "NaN is not a JSON value", "quotes, commas"),
    ("not-object", '["INSERT"]', "JSON array, not an object", '{"eventName": ["INSERT"]}'),
    ("empty-pattern", "{}", "empty object", "name a field"),
    ("empty-nested-object", '{"dynamodb": {}}', "at dynamodb: it is an empty object", "name"),
    ("leaf-not-list", '{"eventName": "INSERT"}', "not inside a list", 'write ["INSERT"]'),
    ("operator-outside-list", '{"a": {"prefix": "x"}}', "at a.prefix", '[{"prefix": "x"}]'),
    ("empty-list", '{"eventName": []}', "the list is empty", '["INSERT"]'),
    ("nested-list", '{"eventName": [["INSERT"]]}', "a list inside", "flatten"),
    ("unknown-operator", '{"a": [{"contains": "x"}]}', 'unknown operator "contains"', "prefix"),
    ("two-operators", '{"a": [{"prefix": "x", "suffix": "y"}]}', "more than one", "its own"),
    ("wildcard", '{"a": [{"wildcard": "*.png"}]}', '"Pipe support: No"', "suffix"),
    ("cidr", '{"a": [{"cidr": "10.0.0.0/24"}]}', "filter-rule table does not list", "prefix"),
    ("anything-but-wildcard", '{"a": [{"anything-but": {"wildcard": "x*"}}]}', "Pipe", "exact"),
    ("anything-but-ignore-case", '{"a": [{"anything-but": {"equals-ignore-case": "x"}}]}', "", ""),
    ("anything-but-prefix", '{"a": [{"anything-but": {"prefix": "x"}}]}', "Pipe", "keep"),
    ("anything-but-suffix", '{"a": [{"anything-but": {"suffix": ".png"}}]}', "Pipe", "keep"),
    ("anything-but-mixed", '{"a": [{"anything-but": ["x", 1]}]}', "cannot take", "list"),
    ("anything-but-empty", '{"a": [{"anything-but": []}]}', "cannot take []", "list"),
    ("anything-but-bool", '{"a": [{"anything-but": true}]}', "cannot take true", "list"),
    ("numeric-quoted", '{"a": [{"numeric": [">", "10"]}]}', 'not "10"', "unquoted"),
    ("numeric-odd", '{"a": [{"numeric": [">", 10, "<"]}]}', "1 or 2 (operator, number)", ""),
    ("numeric-not-list", '{"a": [{"numeric": 10}]}', "1 or 2 (operator, number)", ""),
    ("numeric-operator", '{"a": [{"numeric": ["!=", 10]}]}', '"!=" is not one of', ""),
    ("numeric-two-lower", '{"a": [{"numeric": [">", 1, ">=", 2]}]}', "one lower bound", ""),
    ("numeric-equals-range", '{"a": [{"numeric": ["=", 1, "<", 5]}]}', "one lower bound", ""),
    ("numeric-empty-range", '{"a": [{"numeric": [">", 5, "<", 5]}]}', "below one upper", ""),
    ("numeric-too-big", '{"a": [{"numeric": [">", 6e9]}]}', "-5.0e9..5.0e9", ""),
    ("exists-not-bool", '{"a": [{"exists": "yes"}]}', "true or false", '"exists": false'),
    ("prefix-not-string", '{"a": [{"prefix": 1}]}', "prefix takes a string", ""),
    ("ignore-case-not-string", '{"a": [{"equals-ignore-case": 1}]}', "takes a string", ""),
    ("or-single", '{"$or": [{"a": ["x"]}]}', "two or more objects", "$or"),
    ("or-not-objects", '{"$or": ["x", "y"]}', "two or more objects", "$or"),
]


@pytest.mark.parametrize(
    ("pattern", "problem", "fix"), [case[1:] for case in REJECTED], ids=[c[0] for c in REJECTED]
)
def test_rejected_patterns_say_what_is_wrong(pattern: str, problem: str, fix: str) -> None:
    """[L1] "Lambda throws an exception at the time of the event source mapping creation or
    update" for a pattern it cannot use; the checks follow [L1]'s syntax table, [E1]'s operator
    forms (refusing wildcard/cidr, which [L1] does not list and [E1] marks "Pipe support: No"),
    [E4]'s numeric rules and [E2]'s rule that every value is listed in an array."""
    with pytest.raises(InvalidTriggerOptionError) as caught:
        criteria(pattern)
    error = caught.value
    assert error.what.startswith("FilterCriteria Filters[0] is not a valid pattern")
    assert LAMBDA_SAYS in error.what
    assert problem in error.what
    assert error.fix.startswith("in Filters[0], ") and fix in error.fix


def test_error_names_the_filter_at_fault_and_keeps_the_json_error() -> None:
    """[L1]: each filter is checked when the mapping is created; the message points at the one
    that failed (here the second), and the JSON parser's error is kept as ``cause``."""
    with pytest.raises(InvalidTriggerOptionError) as caught:
        criteria({"eventName": ["INSERT"]}, '{"eventName": [INSERT]}')
    assert "Filters[1]" in caught.value.what
    assert isinstance(caught.value.cause, json.JSONDecodeError)
    assert isinstance(caught.value, TriggerError) and isinstance(caught.value, LabError)


@pytest.mark.parametrize(
    ("value", "problem"),
    [
        ({"Filters": [{"Pattern": {"eventName": ["INSERT"]}}]}, "JSON string, not dict"),
        ({"Filters": [{"pattern": "{}"}]}, "list of {'Pattern': str} dicts"),
        ({"Filters": {"Pattern": "{}"}}, "list of {'Pattern': str} dicts"),
        ({"Filter": []}, "one key, Filters"),
        ([{"Pattern": "{}"}], "one key, Filters"),
    ],
)
def test_filter_criteria_shape_is_boto3s(value: Any, problem: str) -> None:
    """[L1] "Understanding event filtering basics": FilterCriteria is {"Filters": [{"Pattern":
    "<string>"}]} and "A pattern is a string representation of a JSON filter rule"."""
    with pytest.raises(InvalidTriggerOptionError) as caught:
        compile_filter_criteria(value)
    assert problem in caught.value.what
    assert "json.dumps" in caught.value.fix


# --- the object itself ----------------------------------------------------------------------------
def test_describe_is_one_line() -> None:
    """describe() summarises every filter on one line for the invocation log ([L1]: filters ORed,
    fields ANDed, a field's values ORed)."""
    compiled = criteria(
        {"eventName": ["INSERT"], **on_new("status", {"S": ["new", "pending"]})},
        {"dynamodb": {"SizeBytes": [{"numeric": [">", 10, "<=", 20]}]}},
    )
    line = compiled.describe()
    assert "\n" not in line
    assert line.startswith("2 filters, a record passes if any matches: [0] ")
    assert 'eventName = "INSERT" AND dynamodb.NewImage.status.S = "new" or = "pending"' in line
    assert "[1] dynamodb.SizeBytes numeric > 10 and <= 20" in line
    single = criteria({"$or": [{"eventName": ["REMOVE"]}, {"eventName": [{"prefix": "MOD"}]}]})
    assert single.describe() == 'filter: (eventName = "REMOVE" OR eventName prefix "MOD")'


def test_filter_criteria_is_frozen_and_compares_by_patterns() -> None:
    """The compiled criteria are a frozen value: equal when built from the same Pattern strings."""
    first, second = criteria({"eventName": ["INSERT"]}), criteria({"eventName": ["INSERT"]})
    assert first == second and first.patterns == ('{"eventName": ["INSERT"]}',)
    with pytest.raises(AttributeError):
        first.patterns = ()  # type: ignore[misc]
    assert FilterCriteria(['{"eventName": ["INSERT"]}']) == first

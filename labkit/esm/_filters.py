"""Lambda event filtering for DynamoDB stream records: ``FilterCriteria``, checked and matched.

An event source mapping may carry ``FilterCriteria={"Filters": [{"Pattern": "<json>"}, ...]}``.
Lambda checks every pattern when the mapping is created and, while polling, sends the function only
the records that match at least one filter. This module does both, following AWS's documentation:

[L1] Lambda DG, "Control which events Lambda sends to your function" (invocation-eventfiltering):
     the operator table, filters ORed, up to 5 filters by default (10 with a quota increase),
     strings and numbers compared by exact text ("300, 300.0 and 3.0e2 are not equal"),
     Exists works on leaf nodes only.
[L2] Lambda DG, "Using event filtering with a DynamoDB event source" (with-ddb-filtering): values
     are typed DynamoDB JSON (``{"S": ["new"]}``); "DynamoDB event filtering doesn't support the use
     of numeric operators ... these parameters are converted to strings"; the AND example that
     repeats the ``dynamodb`` key.
[L3] Lambda API reference, ``Filter``: ``Pattern`` is at most 4096 characters.
[E1] EventBridge UG, "Comparison operators for use in event patterns": each operator, with a
     "Pipe support" column (Pipes and Lambda ESMs share one filtering model).
[E2] EventBridge UG, "Arrays in event patterns": an array matches if any element matches.
[E3] EventBridge UG, "Matching null values and empty strings": null and "" are not interchangeable.
[E4] EventBridge UG, content filtering: numeric matching only on JSON numbers within +/-5.0e9;
     ``exists: false`` matches an absent field; ``$or`` takes a list of sub-patterns.
[E5] EventBridge UG, "Amazon EventBridge Pipes filtering": Pipes filter "in the same way as ...
     Lambda event source mapping", so [E1]'s "Pipe support" column is the best guide to Lambda.
[E6] EventBridge UG, "Event pattern syntax": "The field names must also appear in the event with
     the same nesting structure."
[L4] Lambda DG, "Duplicate keys" (the guide's Markdown source in awsdocs/aws-lambda-developer-guide,
     doc_source/invocation-eventfiltering.md): "If a pattern contains duplicate keys with
     different values, Lambda uses only the last value for that key."
A pattern Lambda would refuse raises ``InvalidTriggerOptionError`` (Lambda itself answers
InvalidParameterValueException "Invalid filter pattern definition.").

Where EventBridge was recorded doing something else (its ``TestEventPattern`` API, in LocalStack's
AWS-validated snapshots of tests/aws/services/events/event_pattern_templates, 2025-10-15; the
engine is the open-source aws/event-ruler) labkit follows what AWS documents for Lambda, because
nothing documents or records Lambda's mappings doing the same ([L1] says only that Lambda "supports
the same set of syntax and rules as Amazon EventBridge"):

* A key with a dot is one field name. EventBridge matched ``{"state.status": [...]}`` against a
  nested ``state`` -> ``status`` and the reverse (event-ruler joins paths with dots; its README
  calls this a caveat that "should not be relied upon"); labkit follows [E6]'s nesting rule.
  Write nested objects, and never a dotted key for a nested field.
* Numbers compare by their text ([L1]: "300, 300.0, and 3.0e2 are not considered equal").
  EventBridge matched the event value ``300.0`` with the pattern ``[300]`` (event-ruler also
  compares numbers by value); labkit follows [L1]. So a pattern on
  ``ApproximateCreationDateTime`` (a JSON number with a fraction, ``1678831218.0``) must be
  written with the fraction, or as ``numeric``.
* A key given twice at one level is accepted: the last list wins ([L4]; EventBridge too), and
  two objects under one key are merged, each of their fields kept (as [L2]'s Boolean example,
  which repeats ``"dynamodb"``, needs; event-ruler's compiler does the same, writing each leaf
  path into the rule and replacing a path given again).

README.md "Known differences" lists these choices.
"""

from __future__ import annotations

import json
import operator
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, NoReturn

from .._errors import InvalidTriggerOptionError

__all__ = ["MAX_FILTERS", "MAX_PATTERN_LENGTH", "FilterCriteria", "compile_filter_criteria"]

MAX_FILTERS = 5  # [L1] default quota per event source mapping
MAX_PATTERN_LENGTH = 4096  # [L3]
_NUMERIC_LIMIT = Decimal("5.0e9")  # [E4]
_MISSING = object()
_LAMBDA_SAYS = (
    "Lambda answers such a pattern with InvalidParameterValueException "
    '"Invalid filter pattern definition."'
)


class _PatternError(ValueError):
    """One problem in one pattern; ``FilterCriteria`` adds which filter it was."""

    def __init__(self, path: str, problem: str, fix: str) -> None:
        super().__init__(problem)
        self.path, self.problem, self.fix = path, problem, fix


def _is_number(value: object) -> bool:
    return isinstance(value, int | float | Decimal) and not isinstance(value, bool)


def _decimal(value: Any) -> Decimal:
    return value if isinstance(value, Decimal) else Decimal(repr(value))


def _token(value: object) -> tuple[str, object]:
    """What exact matching compares: strings by text, numbers by their JSON text [L1], and
    true/false/null only with themselves (``True`` never equals ``1`` here)."""
    if _is_number(value):
        return ("number", str(_decimal(value)))
    return (type(value).__name__, value)


def _show(value: object) -> str:
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, list | tuple):
        return "[" + ", ".join(_show(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{json.dumps(k)}: {_show(v)}" for k, v in value.items()) + "}"
    return json.dumps(value, ensure_ascii=False, default=str)


def _leaf_values(value: object) -> list[object]:
    """The leaf values at a field: none if it is absent or an intermediate node (an object),
    array elements one by one, nested arrays flattened [E2]."""
    if value is _MISSING or isinstance(value, Mapping):
        return []
    if isinstance(value, list | tuple):
        return [leaf for item in value for leaf in _leaf_values(item)]
    return [value]


def _objects_in(value: list[Any] | tuple[Any, ...]) -> Iterator[Mapping[str, Any]]:
    for item in value:
        if isinstance(item, Mapping):
            yield item
        elif isinstance(item, list | tuple):
            yield from _objects_in(item)


# --- matchers: one entry of a field's list; a field matches if any entry does ---------------------
@dataclass(frozen=True)
class _Matcher:
    def test(self, values: list[object]) -> bool:
        return any(self.accepts(v) for v in values)

    def accepts(self, value: object) -> bool:
        raise NotImplementedError

    def describe(self) -> str:
        raise NotImplementedError


@dataclass(frozen=True)
class _Equals(_Matcher):  # "Name": ["Alice"], [null], [""], [100], [true]  [L1][E3]
    value: object

    def accepts(self, value: object) -> bool:
        return _token(value) == _token(self.value)

    def describe(self) -> str:
        return f"= {_show(self.value)}"


@dataclass(frozen=True)
class _EqualsIgnoreCase(_Matcher):  # [{"equals-ignore-case": "alice"}]  [L1]
    text: str

    def accepts(self, value: object) -> bool:
        return isinstance(value, str) and value.lower() == self.text.lower()

    def describe(self) -> str:
        return f"equals-ignore-case {_show(self.text)}"


@dataclass(frozen=True)
class _Affix(_Matcher):  # prefix / suffix [L1], ignoring case [E1], under anything-but [E1]
    kind: str
    text: str
    ignore_case: bool = False
    negate: bool = False

    def accepts(self, value: object) -> bool:
        if not isinstance(value, str):
            return False
        seen, text = (value.lower(), self.text.lower()) if self.ignore_case else (value, self.text)
        hit = seen.startswith(text) if self.kind == "prefix" else seen.endswith(text)
        return hit != self.negate

    def describe(self) -> str:
        case = " (ignore case)" if self.ignore_case else ""
        return f"{'anything-but ' if self.negate else ''}{self.kind} {_show(self.text)}{case}"


@dataclass(frozen=True)
class _AnythingBut(_Matcher):  # [{"anything-but": ["Raining"]}]  [L1]; a present field only
    values: tuple[object, ...]

    def accepts(self, value: object) -> bool:
        return all(_token(value) != _token(v) for v in self.values)

    def describe(self) -> str:
        return f"anything-but {_show(list(self.values))}"


_COMPARE: dict[str, Callable[[Decimal, Decimal], bool]] = {
    "=": operator.eq,
    "<": operator.lt,
    "<=": operator.le,
    ">": operator.gt,
    ">=": operator.ge,
}


@dataclass(frozen=True)
class _Numeric(_Matcher):  # [{"numeric": [">", 10, "<=", 20]}]  [L1][E4]
    conditions: tuple[tuple[str, Decimal], ...]

    def accepts(self, value: object) -> bool:
        # Only JSON numbers: a DynamoDB "N" value is the *string* "42", so it never matches [L2].
        if not _is_number(value):
            return False
        number = _decimal(value)
        if not number.is_finite() or abs(number) > _NUMERIC_LIMIT:
            return False
        return all(_COMPARE[op](number, bound) for op, bound in self.conditions)

    def describe(self) -> str:
        return "numeric " + " and ".join(f"{op} {bound}" for op, bound in self.conditions)


@dataclass(frozen=True)
class _Exists(_Matcher):  # [{"exists": true}] / [{"exists": false}]: leaf nodes only [L1][E4]
    present: bool

    def test(self, values: list[object]) -> bool:
        return bool(values) == self.present

    def describe(self) -> str:
        return "exists" if self.present else "does not exist"


# --- pattern nodes: an object ANDs its fields (and one $or); a leaf ORs its matchers -------------
@dataclass(frozen=True)
class _Leaf:
    matchers: tuple[_Matcher, ...]

    def matches(self, value: object) -> bool:
        values = _leaf_values(value)
        return any(m.test(values) for m in self.matchers)

    def describe(self, path: str) -> str:
        return f"{path} " + " or ".join(m.describe() for m in self.matchers)


@dataclass(frozen=True)
class _Object:
    fields: tuple[tuple[str, _Leaf | _Object], ...]
    any_of: tuple[_Object, ...] = ()

    def matches(self, value: object) -> bool:
        if isinstance(value, list | tuple):  # one element must satisfy the whole object [E2]
            items = list(_objects_in(value))
            return any(self._match(item) for item in items) if items else self._match({})
        return self._match(value if isinstance(value, Mapping) else {})

    def _match(self, value: Mapping[str, Any]) -> bool:
        if not all(node.matches(value.get(name, _MISSING)) for name, node in self.fields):
            return False
        return not self.any_of or any(alt.matches(value) for alt in self.any_of)

    def describe(self, path: str = "") -> str:
        parts = [node.describe(f"{path}.{name}" if path else name) for name, node in self.fields]
        if self.any_of:
            parts.append("(" + " OR ".join(alt.describe(path) for alt in self.any_of) + ")")
        return " AND ".join(parts)


# --- compiling: what can be wrong (one table of messages), then a table of operators -------------
_UNLISTED = "Lambda's filter-rule table does not list it"
_NO_PIPES = f'{_UNLISTED}, and EventBridge\'s operator table marks it "Pipe support: No"'
_PROBLEMS: dict[str, tuple[str, str]] = {  # case: (problem, fix), filled in with str.format
    "not-string": ("Pattern must be a JSON string, not {kind}", "pass json.dumps(pattern)."),
    "too-long": ("it is {got} characters, over Lambda's {limit}", "shorten or split it."),
    "bad-json": ("it is not valid JSON ({reason})", "check the quotes, commas and brackets."),
    "not-object": ("it is a JSON {kind}, not an object", 'write e.g. {{"eventName": ["INSERT"]}}.'),
    "empty-object": ("it is an empty object", 'name a field, e.g. {{"eventName": ["INSERT"]}}.'),
    "bad-or": ("$or needs a list of two or more objects", 'write "$or": [{{...}}, {{...}}].'),
    "not-in-list": ("the value {got} is not inside a list", "every rule sits in a list: {hint}."),
    "empty-list": ("the list is empty, so nothing could match", 'list a value, e.g. ["INSERT"].'),
    "nested-list": ("a list inside a field's list is not allowed", "flatten it into one list."),
    "two-operators": ("{got} holds more than one operator", "give each rule its own {{...}}."),
    "unknown": ("unknown operator {got}", "use one of: {known}."),
    "refused": ("{got} is an EventBridge operator, not a Lambda one: {why}", "{hint}"),
    "need-string": ("{name} takes a string, not {got}", 'write {{"{name}": "text"}}.'),
    "need-bool": ("exists takes true or false, not {got}", 'write [{{"exists": false}}].'),
    "anything-but": (
        "anything-but cannot take {got}",
        'use a string/number list or {{"prefix": "x"}}.',
    ),
    "numeric-shape": ("numeric needs 1 or 2 (operator, number) pairs, got {got}", "{hint}"),
    "numeric-op": ("{got} is not one of = < <= > >=", "{hint}"),
    "numeric-type": ("numeric compares with JSON numbers, not {got}", "{hint}"),
    "numeric-limit": ("{got} is outside numeric matching's -5.0e9..5.0e9", "{hint}"),
    "numeric-range": ("{got} is not one lower bound (> or >=) below one upper bound", "{hint}"),
}
_JSON_KINDS = {list: "array", str: "string", Decimal: "number", bool: "boolean", type(None): "null"}
_NUMERIC_HINT = 'write ["=", 100], [">", 10] or [">", 10, "<=", 20], numbers unquoted.'


def _fail(
    where: str, case: str, got: object = "", *, cause: Exception | None = None, **facts: object
) -> NoReturn:
    problem, fix = _PROBLEMS[case]
    facts["got"] = _show(got)
    raise _PatternError(where, problem.format(**facts), fix.format(**facts)) from cause


def _need_str(operand: object, name: str, where: str) -> str:
    return operand if isinstance(operand, str) else _fail(where, "need-string", operand, name=name)


def _op_affix(kind: str) -> Callable[[object, str], _Matcher]:
    def compile_affix(operand: object, where: str) -> _Matcher:
        if isinstance(operand, dict) and list(operand) == ["equals-ignore-case"]:
            text = _need_str(operand["equals-ignore-case"], "equals-ignore-case", where)
            return _Affix(kind, text, ignore_case=True)
        return _Affix(kind, _need_str(operand, kind, where))

    return compile_affix


def _op_anything_but(operand: object, where: str) -> _Matcher:
    if isinstance(operand, dict):
        kind = next(iter(operand)) if len(operand) == 1 else ""
        if kind in ("prefix", "suffix", "equals-ignore-case", "wildcard"):
            # EventBridge event buses take these; Pipes and Lambda's event source mappings do
            # not ([E1] "Pipe support: No"), so a mapping would refuse them.
            hint = (
                f'match the values to keep instead (for example {{"{kind}": ...}}), '
                "or list the exact values to exclude."
                if kind in ("prefix", "suffix")
                else "list the exact values to exclude instead."
            )
            _fail(where, "refused", f"anything-but {kind}", why=_NO_PIPES, hint=hint)
        _fail(where, "anything-but", operand)
    values = operand if isinstance(operand, list) else [operand]
    kinds = {"str" if isinstance(v, str) else "num" if _is_number(v) else "?" for v in values}
    if not values or "?" in kinds or len(kinds) > 1:  # strings only or numbers only [E1]
        _fail(where, "anything-but", operand)
    return _AnythingBut(tuple(values))


def _op_numeric(operand: object, where: str) -> _Matcher:
    if not isinstance(operand, list) or len(operand) not in (2, 4):
        _fail(where, "numeric-shape", operand, hint=_NUMERIC_HINT)
    pairs = list(zip(operand[::2], operand[1::2], strict=True))
    for op, bound in pairs:
        if op not in _COMPARE:
            _fail(where, "numeric-op", op, hint=_NUMERIC_HINT)
        if not _is_number(bound):
            _fail(where, "numeric-type", bound, hint=_NUMERIC_HINT)
        if abs(_decimal(bound)) > _NUMERIC_LIMIT:
            _fail(where, "numeric-limit", bound, hint=_NUMERIC_HINT)
    lower = [b for op, b in pairs if op in (">", ">=")]
    upper = [b for op, b in pairs if op in ("<", "<=")]
    if len(pairs) == 2 and not (len(lower) == len(upper) == 1 and lower[0] < upper[0]):
        _fail(where, "numeric-range", operand, hint=_NUMERIC_HINT)
    return _Numeric(tuple((op, _decimal(b)) for op, b in pairs))


def _op_exists(operand: object, where: str) -> _Matcher:
    return _Exists(operand) if isinstance(operand, bool) else _fail(where, "need-bool", operand)


def _op_ignore_case(operand: object, where: str) -> _Matcher:
    return _EqualsIgnoreCase(_need_str(operand, "equals-ignore-case", where))


_OPERATORS: dict[str, Callable[[object, str], _Matcher]] = {
    "anything-but": _op_anything_but,
    "equals-ignore-case": _op_ignore_case,
    "exists": _op_exists,
    "numeric": _op_numeric,
    "prefix": _op_affix("prefix"),
    "suffix": _op_affix("suffix"),
}
_REFUSED = {  # EventBridge operators Lambda lacks [L1][E1]: (why, what to write instead)
    "wildcard": (_NO_PIPES, 'use prefix or suffix, e.g. [{"suffix": ".png"}].'),
    "cidr": (_UNLISTED, 'match the address text with prefix, e.g. [{"prefix": "10.0."}].'),
}


def _compile_leaf(values: list[Any], where: str) -> _Leaf:
    if not values:
        _fail(where, "empty-list")
    matchers: list[_Matcher] = []
    for item in values:
        if isinstance(item, list):
            _fail(where, "nested-list")
        if not isinstance(item, dict):
            matchers.append(_Equals(item))
            continue
        if len(item) != 1:
            _fail(where, "two-operators", item)
        ((name, operand),) = item.items()
        if name in _REFUSED:
            why, hint = _REFUSED[name]
            _fail(where, "refused", name, why=why, hint=hint)
        if name not in _OPERATORS:
            _fail(where, "unknown", name, known=", ".join(sorted(_OPERATORS)))
        matchers.append(_OPERATORS[name](operand, where))
    return _Leaf(tuple(matchers))


def _compile_object(raw: dict[str, Any], path: str) -> _Object:
    if not raw:
        _fail(path, "empty-object")
    fields: list[tuple[str, _Leaf | _Object]] = []
    any_of: tuple[_Object, ...] = ()
    for name, value in raw.items():
        where = f"{path}.{name}" if path else name
        if name == "$or":  # ORs whole sub-patterns at this level [L1]
            if not isinstance(value, list) or len(value) < 2:
                _fail(where, "bad-or")
            if not all(isinstance(v, dict) for v in value):
                _fail(where, "bad-or")
            any_of = tuple(_compile_object(v, path) for v in value)
        elif isinstance(value, dict):
            fields.append((name, _compile_object(value, where)))
        elif isinstance(value, list):
            fields.append((name, _compile_leaf(value, where)))
        else:
            rule = {name: value} if name in _OPERATORS else value
            _fail(where, "not-in-list", value, hint=f"write [{_show(rule)}]")
    return _Object(tuple(fields), any_of)


def _merge(first: object, second: object) -> object:
    """A key given twice at one level: two objects are merged, each field kept (ANDed, as
    [L2]'s example needs); otherwise the last value wins ([L4])."""
    if not (isinstance(first, dict) and isinstance(second, dict)):
        return second
    out = dict(first)
    for k, v in second.items():
        out[k] = _merge(out[k], v) if k in out else v
    return out


def _pairs_hook(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in pairs:
        out[key] = _merge(out[key], value) if key in out else value
    return out


def _no_constant(name: str) -> object:
    _fail("", "bad-json", reason=f"{name} is not a JSON value")


def _compile_pattern(text: object) -> _Object:
    if not isinstance(text, str):
        _fail("", "not-string", kind=type(text).__name__)
    if len(text) > MAX_PATTERN_LENGTH:
        _fail("", "too-long", len(text), limit=MAX_PATTERN_LENGTH)
    try:
        raw = json.loads(
            text,
            parse_float=Decimal,  # keep each number's text: 300 and 300.0 differ [L1]
            parse_int=Decimal,
            parse_constant=_no_constant,
            object_pairs_hook=_pairs_hook,
        )
    except json.JSONDecodeError as exc:
        _fail(
            "", "bad-json", reason=f"{exc.msg} at line {exc.lineno} column {exc.colno}", cause=exc
        )
    if not isinstance(raw, dict):
        _fail("", "not-object", kind=_JSON_KINDS.get(type(raw), type(raw).__name__))
    return _compile_object(raw, "")


@dataclass(frozen=True)
class FilterCriteria:
    """The checked filters of one trigger: a record passes if any filter matches it.

    ``patterns`` keeps each ``Pattern`` string as given; building a ``FilterCriteria`` checks
    them all and raises ``InvalidTriggerOptionError`` naming the filter at fault.

    DynamoDB records are matched as Lambda delivers them, so attribute values are typed DynamoDB
    JSON: write ``{"dynamodb": {"NewImage": {"status": {"S": ["new"]}}}}``; without the ``"S"``
    level the pattern stops at an intermediate node and never matches. A number attribute is
    the *string* ``{"N": "42"}``, and AWS documents that numeric operators do not work on it
    ("DynamoDB event filtering doesn't support the use of numeric operators"): such a filter is
    accepted but never matches, here as on AWS. Match ``N`` values by exact text
    (``{"N": ["42"]}``) or prefix instead. This matcher also compares numeric on the record's
    JSON numbers, as EventBridge does [E4] and as LocalStack's AWS-validated test saw Lambda do on
    ``ApproximateCreationDateTime``; on ``dynamodb.SizeBytes`` no recording covers it, and [L2]
    admits no numeric operator at all, so lesson 04 labels it the lab's. Likewise it matches
    top-level fields (``eventName``, ``userIdentity``; the same suite saw ``eventName`` work), while
    [L2] notes that "DynamoDB event source mappings only support filtering on the dynamodb key".

    Introduced in notebooks/04-filtering.ipynb.
    """

    patterns: tuple[str, ...]
    _rules: tuple[_Object, ...] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "patterns", tuple(self.patterns))
        count = len(self.patterns)
        if not 1 <= count <= MAX_FILTERS:
            raise InvalidTriggerOptionError(
                f"FilterCriteria has {count} filters; Lambda accepts 1 to {MAX_FILTERS} per event "
                "source mapping by default (10 after a quota increase), and errors beyond that.",
                f"combine filters (a field's list already ORs values, and $or ORs fields) to get "
                f"to {MAX_FILTERS} or fewer; pass filter_criteria=None for no filtering.",
            )
        rules = []
        for index, text in enumerate(self.patterns):
            try:
                rules.append(_compile_pattern(text))
            except _PatternError as exc:
                at = f" at {exc.path}" if exc.path else ""
                raise InvalidTriggerOptionError(
                    f"FilterCriteria Filters[{index}] is not a valid pattern{at}: {exc.problem}. "
                    f"{_LAMBDA_SAYS}",
                    f"in Filters[{index}], {exc.fix}",
                    cause=exc.__cause__,
                ) from exc
        object.__setattr__(self, "_rules", tuple(rules))

    def matches(self, record: Mapping[str, Any]) -> bool:
        """Whether Lambda would deliver this one stream record (as Lambda shapes it).

        Introduced in notebooks/04-filtering.ipynb.
        """
        return any(rule.matches(record) for rule in self._rules)

    def describe(self) -> str:
        """A one-line summary for the invocation log.

        Introduced in notebooks/04-filtering.ipynb.
        """
        if len(self._rules) == 1:
            return f"filter: {self._rules[0].describe()}"
        alternatives = " | ".join(f"[{i}] {r.describe()}" for i, r in enumerate(self._rules))
        return f"{len(self._rules)} filters, a record passes if any matches: {alternatives}"


def compile_filter_criteria(filter_criteria: Mapping[str, Any] | None) -> FilterCriteria | None:
    """Check an ESM ``FilterCriteria`` dict; ``None``, ``{}`` or no filters mean no filtering.

    The shape is boto3's ``create_event_source_mapping(FilterCriteria=...)``:
    ``{"Filters": [{"Pattern": '{"eventName": ["INSERT"]}'}]}``.

    Introduced in notebooks/04-filtering.ipynb.
    """
    if filter_criteria is None:
        return None
    shape = 'FilterCriteria={"Filters": [{"Pattern": json.dumps({...})}]}'
    if not isinstance(filter_criteria, Mapping) or set(filter_criteria) - {"Filters"}:
        raise InvalidTriggerOptionError(
            f"FilterCriteria must be a dict with one key, Filters; got {filter_criteria!r}.",
            f"pass {shape}.",
        )
    filters = filter_criteria.get("Filters", [])
    if not isinstance(filters, list) or not all(
        isinstance(f, Mapping) and set(f) == {"Pattern"} for f in filters
    ):
        raise InvalidTriggerOptionError(
            f"FilterCriteria Filters must be a list of {{'Pattern': str}} dicts; got {filters!r}.",
            f"pass {shape}.",
        )
    return FilterCriteria(tuple(f["Pattern"] for f in filters)) if filters else None

"""Exercise checks: run a learner's answer against cases on DynamoDB Local, and show the result.

An exercise is data, in ``notebooks/exercises/<id>.json`` (format in
``notebooks/exercises/README.md``): a kind, and cases of writes with what must come out. Five
kinds, all run on fresh tables (the first three through a real trigger, the last through a pipe):

* ``transform``: the learner writes ``transform(record)``, which gets one Lambda-shaped stream
  record and returns the item to write to the target table, or ``None`` to write nothing;
  ``expect`` is the target table afterwards.
* ``filter``: the learner writes ``filter_criteria`` (Lambda's event filtering);
  ``expect`` is the list of ``[eventName, pk]`` the handler received.
* ``handler``: the learner writes a Lambda function the way it is deployed: a module in the
  code folder (``%%writefile functions/enrich.py``) whose code makes its own boto3 client and
  reads each table's name from an environment variable, passed as its handler string
  (``lk.check(id, "enrich.handler")``), or a ``Function`` from ``lab.function``, or a
  ``handler(event, context)`` callable. Each case runs it as a fresh function whose environment
  names the case's tables: table ``target`` is ``TARGET_TABLE`` unless the exercise gives the
  table a ``variable``. (The older ``make_handler(**tables)`` answer, which gets boto3 ``Table``
  objects and returns a handler, is still accepted.) ``expect`` maps table names to their items
  afterwards, and may
  hold ``delivered`` (every ``[eventName, key]`` the handler was given, repeats included),
  ``failed_invocations`` (how many invocations failed) and ``discarded`` (the records given up
  on when retries or record age ran out, as ``[eventName, key]``).
* ``iterator``: the learner writes ``resume_iterator(streams, stream_arn, shard_id,
  checkpoint)`` returning a shard iterator; the check reads the shard from it and compares the
  records read with ``expect`` (a case's ``checkpoint`` is the Nth record's sequence number).
* ``pipe``: the learner writes an EventBridge pipe's parameters as boto3's ``pipes.create_pipe``
  takes them, ``{"SourceParameters": {...}, "TargetParameters": {"InputTemplate": ...}}``; the
  check runs a pipe with them from the case's table to a queue (``lab.queue``) and compares the
  messages' bodies, oldest first, with ``expect``.

Any exercise may also declare ``source`` (the source table's ``key``, ``sort_key`` and
``stream`` view type) and ``trigger`` (event source mapping options, as ``lab.trigger`` takes
them; a ``destination_config`` names one of the declared tables). A case with
``"redeliver": true`` delivers every successful batch a second time, as at-least-once delivery
may.

A handler exercise may declare ``"kinesis": {"precision": "MILLISECOND"}``: the source table's
changes then go to a fresh Kinesis stream (``lab.enable_kinesis_streaming_destination``) and the
function is triggered by that stream, with the Kinesis event; a case's ``"inject":
{"duplicates": N, "out_of_order": M}`` has the destination send duplicates or swapped changes,
as AWS warns it may (the case's name says so). Lesson 15.

A case's ``hint`` is a text, or ``{"nudge": ..., "answer": ...}``: the nudge is shown with a
failure, the answer only when the learner asks (``result.answer(n)``, or a click in the notebook).

``lk.check(id, answer)`` returns a ``CheckResult``: each case pass or FAIL, a failing one with
Expected and Got in the same order and shape and the difference marked (``_feedback``), and its
hint; ``result.passed`` is what a test asserts. A table's items are compared by key, in no
order; records (``delivered``, ``discarded``, a filter's or an iterator's) in their order.
Every check is recorded in the learner's results (``_results``: ``("check", "NN", id, passed)``),
which ``lk.progress()`` shows.
"""

from __future__ import annotations

import base64
import inspect
import json
import re
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from decimal import Decimal
from pathlib import Path
from typing import Any

from boto3.dynamodb.types import TypeDeserializer

from .._errors import LabError, QuizError
from .._lab import Lab, start
from ..esm._function import Function
from ..esm._trigger import Trigger
from . import _results
from ._display import LabTable, lab_table
from ._feedback import result_html, result_text
from ._reference import note_for

__all__ = ["CaseResult", "CheckResult", "Exercise", "check", "load_exercise"]

EXERCISES = Path(__file__).resolve().parents[2] / "notebooks" / "exercises"
_EXERCISE_ID = re.compile(r"[0-9]{2}-[a-z0-9]+(-[a-z0-9]+)*")  # "04-keep-new-orders"
_KINDS = ("transform", "filter", "handler", "iterator", "pipe")
_OPS = ("put", "update", "delete")
_CASE_KEYS = {"name", "writes", "expect", "hint"}
_CASE_OPTIONAL = {"redeliver", "checkpoint", "inject"}
_TOP_KEYS = {"id", "title", "kind", "cases"}
_TOP_OPTIONAL = {"source", "tables", "trigger", "kinesis"}
_EXPECT_EXTRA = ("delivered", "failed_invocations", "discarded")


def _plain(value: Any) -> Any:
    """Python values for comparison and display: Decimal to int/float, recursively."""
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in sorted(value.items())}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if isinstance(value, set):
        return sorted(_plain(v) for v in value)
    return value


def _dynamo(value: Any) -> Any:
    """JSON values to what boto3 accepts (floats become Decimal)."""
    return json.loads(json.dumps(value), parse_float=Decimal)


@dataclass(frozen=True)
class Case:
    name: str
    writes: tuple[dict[str, Any], ...]
    expect: Any
    hint: str  # the nudge: shown with a failure
    redeliver: bool = False
    checkpoint: int = 0  # iterator exercises: the checkpoint is the Nth record (0: none)
    answer: str = ""  # the answer: shown only when asked for
    inject: dict[str, int] = field(default_factory=dict)  # Kinesis: duplicates, out_of_order

    def result(self, passed: bool, expected: Any, got: Any) -> CaseResult:
        return CaseResult(self.name, passed, expected, got, self.hint, self.answer)


@dataclass(frozen=True)
class TableSpec:
    """A table an exercise declares: its key, sort key, stream and seed items."""

    key: str = "pk"
    sort_key: str | None = None
    stream: str | None = None
    items: tuple[dict[str, Any], ...] = ()
    variable: str = ""  # the environment variable that names it (handler exercises)

    @property
    def key_names(self) -> list[str]:
        """The key attributes' names (a key is a name, or [name, type] as lab.create_table
        takes it)."""
        return [k if isinstance(k, str) else k[0] for k in (self.key, self.sort_key) if k]


@dataclass(frozen=True)
class Exercise:
    """One exercise: its id, title, kind and cases.

    Introduced in notebooks/01-stream-processing-flow.ipynb.
    """

    id: str
    title: str
    kind: str
    cases: tuple[Case, ...]
    source: str = "<dict>"
    source_table: TableSpec = TableSpec(stream="NEW_AND_OLD_IMAGES")
    tables: dict[str, TableSpec] = field(default_factory=dict)
    trigger: dict[str, Any] = field(default_factory=dict)
    kinesis: dict[str, str] = field(default_factory=dict)  # {"precision": ...}: via Kinesis

    @classmethod
    def from_dict(cls, data: Any, source: str = "<dict>") -> Exercise:
        def bad(problem: str) -> QuizError:
            return QuizError(
                f"{source}: {problem}",
                "follow the format in notebooks/exercises/README.md (id, title, kind, cases "
                "of name, writes, expect, hint).",
            )

        if not isinstance(data, dict):
            raise bad("an exercise file holds one JSON object")
        for key in ("id", "title", "kind", "cases"):
            if key not in data:
                raise bad(f"the key {key!r} is missing")
        unknown = set(data) - _TOP_KEYS - _TOP_OPTIONAL
        if unknown:
            raise bad(f"unknown key(s) {sorted(unknown)}")
        if data["kind"] not in _KINDS:
            raise bad(f"kind {data['kind']!r} is not one of {', '.join(_KINDS)}")
        if not isinstance(data["cases"], list) or not data["cases"]:
            raise bad("cases must be a non-empty list")
        source_spec = _table_spec(
            data.get("source", {}), "source", bad, stream="NEW_AND_OLD_IMAGES"
        )
        raw_tables = data.get("tables", {})
        if not isinstance(raw_tables, dict):
            raise bad("tables must map table names to {key, sort_key, stream, items}")
        if raw_tables and data["kind"] != "handler":
            raise bad("only a handler exercise declares tables")
        tables = {n: _table_spec(t, f"tables.{n}", bad) for n, t in raw_tables.items()}
        trigger = data.get("trigger", {})
        if not isinstance(trigger, dict):
            raise bad("trigger must be an object of lab.trigger options")
        kinesis = data.get("kinesis", {})
        if kinesis and (data["kind"] != "handler" or set(kinesis) != {"precision"}):
            raise bad('kinesis is {"precision": ...}, for a handler exercise only')
        cases = []
        for i, raw in enumerate(data["cases"]):
            if (
                not isinstance(raw, dict)
                or not set(raw) >= _CASE_KEYS
                or set(raw) - _CASE_KEYS - _CASE_OPTIONAL
            ):
                raise bad(
                    f"cases[{i}] must have exactly name, writes, expect and hint "
                    "(and optionally redeliver, or checkpoint for an iterator exercise)"
                )
            for w in raw["writes"]:
                if not isinstance(w, dict) or len(w) != 1 or next(iter(w)) not in _OPS:
                    raise bad(f"cases[{i}] write {w!r} is not one of {{put|update|delete: ...}}")
            if data["kind"] == "handler":
                expect = raw["expect"]
                if not isinstance(expect, dict) or not expect:
                    raise bad(f"cases[{i}] expect must map table names to items")
                strays = set(expect) - set(tables) - set(_EXPECT_EXTRA) - {"source"}
                if strays:
                    raise bad(
                        f"cases[{i}] expects table(s) {sorted(strays)} that the exercise does "
                        "not declare in tables"
                    )
            inject = raw.get("inject", {})
            if inject and (not kinesis or set(inject) - {"duplicates", "out_of_order"}):
                raise bad(f"cases[{i}] inject needs kinesis, and holds duplicates, out_of_order")
            nudge, answer = _hint(raw["hint"], f"cases[{i}]", bad)
            cases.append(
                Case(
                    raw["name"],
                    tuple(raw["writes"]),
                    raw["expect"],
                    nudge,
                    bool(raw.get("redeliver", False)),
                    int(raw.get("checkpoint") or 0),
                    answer,
                    dict(inject),
                )
            )
        return cls(
            data["id"],
            data["title"],
            data["kind"],
            tuple(cases),
            source,
            source_spec,
            tables,
            dict(trigger),
            dict(kinesis),
        )


def _hint(raw: Any, where: str, bad: Callable[[str], QuizError]) -> tuple[str, str]:
    """A case's hint: a string (shown with a failure), or ``{"nudge": ..., "answer": ...}``:
    the nudge shown with a failure, the answer only when the learner asks for it."""
    if isinstance(raw, str) and raw.strip():
        return raw, ""
    if isinstance(raw, dict) and set(raw) <= {"nudge", "answer"}:
        nudge, answer = raw.get("nudge"), raw.get("answer", "")
        if isinstance(nudge, str) and nudge.strip() and isinstance(answer, str):
            return nudge, answer
    raise bad(
        f'{where} hint must be a text, or {{"nudge": text, "answer": text}} (the nudge shown '
        "with a failure, the answer only when asked for)"
    )


def _table_spec(raw: Any, where: str, bad: Callable[[str], QuizError], **default: Any) -> TableSpec:
    if not isinstance(raw, dict) or set(raw) - {"key", "sort_key", "stream", "items", "variable"}:
        raise bad(f"{where} must be an object with key, sort_key, stream, items and variable only")
    items = raw.get("items", [])
    if not isinstance(items, list) or not all(isinstance(i, dict) for i in items):
        raise bad(f"{where}.items must be a list of items")
    return TableSpec(
        key=raw.get("key", "pk"),
        sort_key=raw.get("sort_key"),
        stream=raw.get("stream", default.get("stream")),
        items=tuple(items),
        variable=raw.get("variable") or (f"{where.split('.')[-1].upper()}_TABLE"),
    )


def load_exercise(exercise_id: str) -> Exercise:
    """Load ``notebooks/exercises/<exercise_id>.json``."""
    if not isinstance(exercise_id, str):
        raise QuizError(
            f"lk.check() needs an exercise id, not {exercise_id!r}.",
            'pass the id shown in the lesson, like lk.check("04-keep-new-orders", answer).',
        )
    if not _EXERCISE_ID.fullmatch(exercise_id):
        # a plain id only: "../quizzes/x" or an absolute path would read outside the folder
        raise QuizError(
            f"{exercise_id!r} is not an exercise id: an id is the lesson's number and a "
            "lowercase-kebab name, like '04-keep-new-orders', and names a file in "
            f"{EXERCISES} (no folders, no '.json').",
            "pass the id shown in the lesson, like lk.check('04-keep-new-orders', answer).",
        )
    path = EXERCISES / f"{exercise_id}.json"
    if not path.is_file():
        known = sorted(p.stem for p in EXERCISES.glob("*.json"))
        raise QuizError(
            f"There is no exercise {exercise_id!r} (looked for {path}).",
            f"use one of: {', '.join(known) or '(none yet)'}.",
        )
    try:
        data = json.loads(path.read_text(encoding="utf-8-sig"))
    except ValueError as exc:
        raise QuizError(f"{path} is not valid JSON ({exc}).", "fix the file's JSON.") from exc
    return Exercise.from_dict(data, str(path))


@dataclass(frozen=True)
class CaseResult:
    """One case's outcome: what was expected and what came out, in the same order and shape
    (a table's items by key), the hint's nudge and its answer."""

    name: str
    passed: bool
    expected: Any
    got: Any
    hint: str
    answer: str = ""


@dataclass(frozen=True)
class CheckResult:
    """What a check found: one row per case. Renders as a table; ``passed`` for tests.

    Introduced in notebooks/01-stream-processing-flow.ipynb.
    """

    exercise: Exercise
    results: tuple[CaseResult, ...]
    submitted: Any = field(default=None, repr=False, compare=False)  # the answer checked
    code: Path | None = field(default=None, repr=False, compare=False)  # its code folder
    note: str = ""  # said under the verdict (``_reference.note_for``)

    @property
    def passed(self) -> bool:
        return all(r.passed for r in self.results)

    def yours_or_reference(self) -> Any:
        """The answer for the rest of the lesson: yours once it passes; until then the
        reference solution, with a notice saying so (``_reference.py``). For a handler
        exercise, a handler string for ``lab.function``.

        Introduced in notebooks/12-capstone-order-system.ipynb.
        """
        from ._reference import answer_to_run

        return answer_to_run(self)

    def table(self) -> LabTable:
        """One row per case: Case, Result, Expected, Got (as JSON) and the hint of a FAIL."""
        rows = [
            {
                "Case": r.name,
                "Result": "pass" if r.passed else "FAIL",
                "Expected": json.dumps(r.expected),
                "Got": json.dumps(r.got),
                "Hint": "" if r.passed else r.hint,
            }
            for r in self.results
        ]
        return lab_table(rows, ["Case", "Result", "Expected", "Got", "Hint"])

    def summary(self) -> str:
        good = sum(r.passed for r in self.results)
        verdict = "all cases pass" if self.passed else "some cases fail: read the hints"
        return f"{self.exercise.title}: {good}/{len(self.results)} cases pass ({verdict})."

    def answer(self, case: int | str) -> str:
        """The answer of a case (its number, from 1, or its name), for when the hint was not
        enough; a hint given as plain text has no separate answer."""
        for number, result in enumerate(self.results, start=1):
            if case in (number, result.name):
                return result.answer or f"(no separate answer: the hint is it) {result.hint}"
        raise QuizError(
            f"This check has no case {case!r}.",
            f"pass a case number from 1 to {len(self.results)}, or a case's name.",
        )

    def _repr_html_(self) -> str:
        return result_html(self)

    def __repr__(self) -> str:
        return result_text(self)


def _apply(table: Any, write: dict[str, Any]) -> None:
    """One write of a case: ``put`` an item, ``delete`` a key, or ``update`` a key with
    ``set`` (attribute: value), ``add`` (attribute: number, DynamoDB's atomic ADD) and
    ``remove`` (a list of attributes)."""
    ((op, arg),) = write.items()
    if op == "put":
        table.put_item(Item=_dynamo(arg))
    elif op == "delete":
        table.delete_item(Key=_dynamo(arg))
    else:
        names: dict[str, str] = {}
        values: dict[str, Any] = {}
        clauses: list[str] = []
        for verb, joiner in (("set", " = "), ("add", " ")):
            parts = []
            for attr, value in _dynamo(arg.get(verb, {})).items():
                n, v = f"#a{len(names)}", f":v{len(values)}"
                names[n], values[v] = attr, value
                parts.append(f"{n}{joiner}{v}")
            if parts:
                clauses.append(f"{verb.upper()} {', '.join(parts)}")
        removed = []
        for attr in arg.get("remove", []):
            n = f"#a{len(names)}"
            names[n] = attr
            removed.append(n)
        if removed:
            clauses.append(f"REMOVE {', '.join(removed)}")
        kwargs: dict[str, Any] = {
            "Key": _dynamo(arg["key"]),
            "UpdateExpression": " ".join(clauses),
            "ExpressionAttributeNames": names,
        }
        if values:
            kwargs["ExpressionAttributeValues"] = values
        table.update_item(**kwargs)


def _create(lab: Lab, name: str, spec: TableSpec) -> Any:
    table = lab.create_table(name, key=spec.key, sort_key=spec.sort_key, stream=spec.stream)
    for item in spec.items:
        table.put_item(Item=_dynamo(item))
    return table


def _key_of(record: dict[str, Any], spec: TableSpec) -> list[Any]:
    keys = record["dynamodb"]["Keys"]
    return [_plain(_DES.deserialize(keys[n])) for n in spec.key_names if n in keys]


_DES = TypeDeserializer()


def _run_case(
    lab: Lab, exercise: Exercise, answer: Any, case: Case, code: Path | None = None
) -> CaseResult:
    run = uuid.uuid4().hex[:8]
    made: list[str] = []
    trigger: Trigger | None = None

    def fresh(label: str, spec: TableSpec) -> Any:
        table = _create(lab, f"check-{run}-{label}", spec)
        made.append(table.table_name)
        return table

    try:
        source = fresh("source", exercise.source_table)
        if exercise.kind == "iterator":
            return _run_iterator_case(lab, answer, case, source, exercise.source_table)
        if exercise.kind == "pipe":
            return _run_pipe_case(lab, answer, case, source, fresh)
        tables: dict[str, Any] = {}
        if exercise.kind == "transform":
            tables["target"] = fresh(
                "target",
                TableSpec(key=exercise.source_table.key, sort_key=exercise.source_table.sort_key),
            )
        for name, spec in exercise.tables.items():
            tables[name] = fresh(name, spec)
        function = _function_for(exercise, answer, tables, code)
        options = _trigger_options(exercise.trigger, tables)
        if exercise.kind == "filter":
            options["filter_criteria"] = answer
        destination = None
        if exercise.kinesis:
            arn = lab.kinesis_stream(f"check-{run}-changes")
            destination = lab.enable_kinesis_streaming_destination(
                source.table_name, arn, exercise.kinesis["precision"]
            )
            trigger = lab.trigger(arn, function, **options)
        else:
            trigger = lab.trigger(source.table_name, function, **options)
        for write in case.writes:
            _apply(source, write)
        if destination is not None:
            destination.forward(**case.inject, quiet=True)  # the case's name says what
        invocations = trigger.run_until_idle()
        if case.redeliver:
            for inv in [i for i in invocations if i.ok]:
                invocations.append(trigger.redeliver(inv))
        # what the function was given, attempt by attempt (each attempt's event is a fresh copy
        # the function may have changed: the stream's own record is looked up by sequence number)
        by_sequence = {
            r["dynamodb"]["SequenceNumber"]: [r["eventName"], *_key_of(r, exercise.source_table)]
            for r in _records_written(lab, source.table_name)
        }
        if destination is not None:  # a Kinesis record: the change is its data
            by_sequence = {
                r["kinesis"]["sequenceNumber"]: _kinesis_change(r, exercise.source_table)
                for inv in invocations
                for r in inv.records
            }
        delivered = [
            by_sequence.get(number, ["?", number])
            for inv in invocations
            for number in inv.sequence_numbers
        ]
        failed = [i for i in invocations if not i.ok]
        discarded = [
            by_sequence.get(n, ["?", n]) for d in trigger.discards for n in d.sequence_numbers
        ]
        seen_tables = {"source": source, **tables}  # "source" may be expected too
        got = _observe(lab, exercise, case, seen_tables, delivered, failed, discarded)
        expected = _expected(exercise, case)
        got = _ordered(exercise, got)
        return case.result(got == expected, expected, got)
    finally:
        if trigger is not None:  # its lane threads (parallelization_factor) end with it
            trigger.close()
            lab.triggers.remove(trigger)
        for destination in [d for d in lab.kinesis_destinations if d.table_name in made]:
            lab.kinesis_destinations.remove(destination)
            lab.kinesis.delete_stream(StreamARN=destination.stream_arn)
            lab.kinesis_streams.remove(destination.stream_arn)
        for name in made:
            lab.delete_table(name)


def _kinesis_change(record: dict[str, Any], spec: TableSpec) -> list[Any]:
    """``[eventName, key...]`` of the table change a Kinesis record carries."""
    data = json.loads(base64.b64decode(record["kinesis"]["data"]))
    return [data["eventName"], *_key_of(data, spec)]


def _ordered(exercise: Exercise, value: Any) -> Any:
    """What a case expects or got, in one order: a table's items by key (its order carries no
    meaning), every other list as it is (the order records came in is part of the answer)."""
    if exercise.kind == "transform":
        return by_key(value, exercise.source_table.key_names)
    if exercise.kind != "handler" or not isinstance(value, dict):
        return value
    specs = {"source": exercise.source_table, **exercise.tables}
    return {k: by_key(v, specs[k].key_names) if k in specs else v for k, v in value.items()}


def _expected(exercise: Exercise, case: Case) -> Any:
    """A case's ``expect`` as Python values, in the order the exercise lists its parts."""
    if isinstance(case.expect, dict):
        return _ordered(exercise, {k: _plain(v) for k, v in case.expect.items()})
    return _ordered(exercise, _plain(case.expect))


def by_key(items: Any, keys: list[str]) -> Any:
    """A table's items in the order ``lab.items`` lists them, by key (a value that is not a
    list of items, such as an error message, is left as it is)."""
    if not isinstance(items, list) or not all(isinstance(i, dict) for i in items):
        return items
    return sorted(items, key=lambda item: tuple(str(item.get(k)) for k in keys))


def _records_written(lab: Lab, table_name: str) -> list[dict[str, Any]]:
    """Every record of the table's stream, read from the stream itself (one shard on
    DynamoDB Local, read until an empty response)."""
    arn = lab.stream_arn(table_name)
    records: list[dict[str, Any]] = []
    for shard in lab.streams.describe_stream(StreamArn=arn)["StreamDescription"]["Shards"]:
        iterator = lab.streams.get_shard_iterator(
            StreamArn=arn, ShardId=shard["ShardId"], ShardIteratorType="TRIM_HORIZON"
        ).get("ShardIterator")
        while iterator:
            resp = lab.streams.get_records(ShardIterator=iterator)
            if not resp["Records"]:
                break
            records.extend(resp["Records"])
            iterator = resp.get("NextShardIterator")
    return records


def _run_iterator_case(
    lab: Lab, answer: Any, case: Case, source: Any, spec: TableSpec
) -> CaseResult:
    """An ``iterator`` case: after the writes, call ``answer(streams, stream_arn, shard_id,
    checkpoint)`` (``checkpoint`` is the sequence number of the case's ``checkpoint``-th record,
    1-based, or None) and read the shard from the iterator it returns until an empty response;
    what was read, as ``[eventName, pk]``, is compared with ``expect``.

    Introduced in notebooks/03-reading-the-stream.ipynb."""
    for write in case.writes:
        _apply(source, write)
    arn = lab.stream_arn(source.table_name)
    shard_id = lab.streams.describe_stream(StreamArn=arn)["StreamDescription"]["Shards"][0][
        "ShardId"
    ]
    first = lab.streams.get_shard_iterator(
        StreamArn=arn, ShardId=shard_id, ShardIteratorType="TRIM_HORIZON"
    )["ShardIterator"]
    written = lab.streams.get_records(ShardIterator=first)["Records"]
    number = case.checkpoint or 0
    checkpoint = written[number - 1]["dynamodb"]["SequenceNumber"] if number else None
    got: Any = []
    try:
        iterator = answer(lab.streams, arn, shard_id, checkpoint)
        for _ in range(10):  # until an empty response (DynamoDB Local has no gaps)
            resp = lab.streams.get_records(ShardIterator=iterator)
            if not resp["Records"]:
                break
            got.extend([r["eventName"], *_key_of(r, spec)] for r in resp["Records"])
            iterator = resp.get("NextShardIterator")
            if iterator is None:
                break
    except Exception as exc:  # the learner's code or the iterator it built was refused
        got = f"your code raised {type(exc).__name__}: {exc}"
    expected = _plain(case.expect)
    return case.result(got == expected, expected, got)


def _run_pipe_case(
    lab: Lab, answer: Any, case: Case, source: Any, fresh: Callable[[str, TableSpec], Any]
) -> CaseResult:
    """A ``pipe`` case: a pipe with the learner's CreatePipe parameters from the case's table to
    a fresh queue; what the queue received (each body as JSON where it is JSON), oldest first,
    is compared with ``expect``.

    Introduced in notebooks/14-eventbridge-pipes.ipynb."""
    queue_table = fresh("queue", TableSpec(key="MessageId"))
    queue = lab.queue(queue_table.table_name)
    expected = _plain(case.expect)
    pipe = None
    try:
        pipe = lab.pipe(
            f"check-{queue_table.table_name[6:14]}",
            source.table_name,
            queue,
            source_parameters=answer.get("SourceParameters"),
            target_parameters=answer.get("TargetParameters"),
        )
        for write in case.writes:
            _apply(source, write)
        pipe.run_until_idle()
        failed = [i for i in pipe.invocations if not i.ok]
        got: Any = _plain(queue.bodies())
        if failed:
            got = f"the pipe failed: {failed[0].error}"
    finally:
        if pipe is not None:
            pipe.close()
            lab.pipes.remove(pipe)
    return case.result(got == expected, expected, got)


def _table_variables(exercise: Exercise, tables: dict[str, Any]) -> dict[str, str]:
    """The environment a handler exercise's function gets: each declared table's variable
    (``TARGET_TABLE`` for table ``target``, unless it declares another) set to the name of the
    table made for this case."""
    return {spec.variable: tables[name].table_name for name, spec in exercise.tables.items()}


def _is_make_handler(answer: Any, table_names: Iterable[str]) -> bool:
    """Whether ``answer`` is the older ``make_handler(**tables)`` form of an answer."""
    try:
        parameters = list(inspect.signature(answer).parameters)
    except (TypeError, ValueError):
        return False
    names = set(table_names)
    return bool(names) and set(parameters) == names and parameters != ["event", "context"]


def _takes_event_and_context(answer: Any) -> bool:
    """Whether ``answer`` can be called as Lambda calls a handler: ``answer(event, context)``."""
    try:
        inspect.signature(answer).bind(None, None)
    except TypeError:
        return False
    except ValueError:  # no signature to read (a builtin): let the call decide
        return True
    return True


def _function_for(
    exercise: Exercise, answer: Any, tables: dict[str, Any], code: Path | None
) -> Function:
    """The function the check runs for one case, named ``check``: the learner's handler with
    the case's tables in its environment (a handler exercise), or a handler the check writes
    around the learner's transform (transform) or that does nothing (filter)."""
    if exercise.kind == "handler":
        env = _table_variables(exercise, tables)
        if isinstance(answer, Function):
            return replace(answer, environment={**answer.environment, **env})
        if isinstance(answer, str):
            return Function("check", answer, code=code, environment=env)
        if _is_make_handler(answer, tables):
            try:
                built = answer(**tables)
            except TypeError as exc:
                raise QuizError(
                    f"make_handler({', '.join(tables)}) could not be called: {exc}.",
                    f"define it as `def make_handler({', '.join(tables)}):` returning a handler.",
                ) from exc
            if not callable(built):
                raise QuizError(
                    f"make_handler(...) returned {built!r}, not a handler.",
                    "end make_handler with `return handler`, where handler is "
                    "`def handler(event, context): ...`.",
                )
            return Function("check", built, environment=env)
        if not _takes_event_and_context(answer):
            names = ", ".join(tables)
            raise QuizError(
                f"{getattr(answer, '__name__', answer)!r} is neither a Lambda handler "
                f"(event, context) nor make_handler({names}).",
                "write the function's module (%%writefile functions/my_function.py, with "
                'def handler(event, context):) and pass "my_function.handler"; or pass a '
                f"handler(event, context), or the older make_handler({names}).",
            )
        return Function("check", answer, environment=env)
    if exercise.kind == "transform":
        target = tables["target"]

        def transform_handler(event: dict[str, Any], context: Any) -> None:
            for record in event["Records"]:
                item = answer(record)
                if item is not None:
                    target.put_item(Item=_dynamo(_plain(item)))

        return Function("check", transform_handler)

    def filter_handler(event: dict[str, Any], context: Any) -> None:
        return None

    return Function("check", filter_handler)


def _trigger_options(options: dict[str, Any], tables: dict[str, Any]) -> dict[str, Any]:
    """The exercise's trigger options, with a destination naming a declared table mapped to
    the fresh table made for this case."""
    options = json.loads(json.dumps(options))
    on_failure = (options.get("destination_config") or {}).get("OnFailure") or {}
    name = on_failure.get("Destination")
    if name in tables:
        on_failure["Destination"] = tables[name].table_name
    return options


def _observe(
    lab: Lab,
    exercise: Exercise,
    case: Case,
    tables: dict[str, Any],
    delivered: list[list[Any]],
    failed: list[Any],
    discarded: list[list[Any]],
) -> Any:
    """What came out of a case, in the shape of its ``expect``."""
    if exercise.kind == "filter":
        if failed:
            return f"your code raised {failed[0].error}"
        return delivered
    if exercise.kind == "transform":
        if failed:
            return f"your code raised {failed[0].error}"
        return [_plain(i) for i in lab.items(tables["target"].table_name)]
    got: dict[str, Any] = {}
    for key in case.expect:
        if key == "delivered":
            got[key] = _plain(delivered)
        elif key == "failed_invocations":
            got[key] = len(failed)
        elif key == "discarded":
            got[key] = _plain(discarded)
        else:
            got[key] = [_plain(i) for i in lab.items(tables[key].table_name)]
    if failed and "failed_invocations" not in case.expect:
        got["error"] = f"your handler raised {failed[0].error}"
    return got


def check(
    exercise_id: str,
    answer: Callable[[dict[str, Any]], Any] | dict[str, Any],
    *,
    lab: Lab | None = None,
    code: str | Path | None = None,
) -> CheckResult:
    """Run ``answer`` against the exercise's cases on DynamoDB Local; show what passed.

    ``answer`` is a ``transform(record)`` function, a ``filter_criteria`` dict, or, for a
    handler exercise, the function as it would be deployed: a handler string such as
    ``"enrich_orders.handler"`` (its module in the ``code`` folder, default ``./functions``),
    a ``Function``, or a ``handler(event, context)`` callable; the function finds its tables'
    names in its environment (``TARGET_TABLE`` for the table ``target``...).

    Introduced in notebooks/01-stream-processing-flow.ipynb.
    """
    exercise = load_exercise(exercise_id)
    if exercise.kind == "transform" and not callable(answer):
        raise QuizError(
            f"Exercise {exercise.id!r} checks a function transform(record); got {answer!r}.",
            "define `def transform(record): ...` and pass it: lk.check(id, transform).",
        )
    if exercise.kind == "iterator" and not callable(answer):
        raise QuizError(
            f"Exercise {exercise.id!r} checks a function "
            f"resume_iterator(streams, stream_arn, shard_id, checkpoint); got {answer!r}.",
            "define `def resume_iterator(streams, stream_arn, shard_id, checkpoint): ...` "
            "returning a shard iterator, and pass it: lk.check(id, resume_iterator).",
        )
    if exercise.kind == "pipe" and not isinstance(answer, dict):
        raise QuizError(
            f"Exercise {exercise.id!r} checks a pipe's parameters; got {answer!r}.",
            'pass a dict as create_pipe takes it: {"SourceParameters": {...}, '
            '"TargetParameters": {"InputTemplate": "..."}}.',
        )
    folder = Path(code) if code is not None else None
    if exercise.kind == "handler":
        if not (callable(answer) or isinstance(answer, str | Function)):
            variables = ", ".join(s.variable for s in exercise.tables.values())
            raise QuizError(
                f"Exercise {exercise.id!r} checks a Lambda function; got {answer!r}.",
                "write the function's module (%%writefile functions/my_function.py, its tables' "
                f"names read from {variables}) and pass its handler string: "
                'lk.check(id, "my_function.handler").',
            )
        if isinstance(answer, str):  # a wrong handler string is reported now, once
            Function("check", answer, code=folder)
    lab = lab or start()
    results = []
    for case in exercise.cases:
        try:
            results.append(_run_case(lab, exercise, answer, case, folder))
        except LabError as exc:  # a filter Lambda would reject, say
            results.append(case.result(False, _expected(exercise, case), f"refused: {exc.what}"))
    passed = all(r.passed for r in results)
    result = CheckResult(exercise, tuple(results), answer, folder, note_for(exercise.id, passed))
    # Every check is kept in the learner's results (lk.progress() shows them; a hub grades them).
    _results.record("check", exercise.id[:2], exercise.id, result.passed)
    return result

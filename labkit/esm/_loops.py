"""A function that feeds its own stream: noticed within seconds, stopped, and explained.

A function that writes to the table whose stream invokes it, for every record, including the
records it wrote itself, never stops. On AWS nothing stops it either. The Lambda guide, "Use
Lambda recursive loop detection to prevent infinite loops" (invocation-recursion.html),
"Supported AWS services": "Lambda currently detects recursive loops between your functions,
Amazon SQS, Amazon S3, and Amazon SNS ... When another AWS service such as Amazon DynamoDB forms
part of the loop, Lambda can't currently detect and stop it." Such a loop is billed per
invocation and per write until someone notices. Lambda stops the loops it does detect when a
function "is invoked approximately 16 times in the same chain of requests"; the lab stops a
self-feeding function at the same depth, ``LOOP_GENERATIONS``.

How the lab tells the function's own records from everyone else's:

* While a handler runs, every write its thread sends to DynamoDB and DynamoDB accepts
  (PutItem, UpdateItem, DeleteItem, BatchWriteItem, TransactWriteItems), by any client it made,
  is recorded (``recording``; the requests are watched through ``backend._sdk.watching``).
* Every stream record has a *generation*: 0 for a record someone else wrote; g + 1 for a record
  the function wrote while it handled a batch of generation g, the generation of the batch's
  shallowest record (a batch holding someone else's record may be why the function wrote, so a
  chain goes on only through batches of the function's own records). A record is
  the function's own when (a) it is of the same key as one of the function's writes to its
  source table, (b) it was read after that invocation ended (reading and invoking never overlap
  in a trigger, so a record read before cannot be the write's), (c) within ``WRITE_MATCH_S`` of
  it, and (d) it is what that write makes: a delete a REMOVE; a put an INSERT or MODIFY whose
  new image is the item put; an update an INSERT or MODIFY that changes an attribute the update
  names (when the stream carries both images) and whose new image holds what its plain
  ``SET name = :value`` and ``REMOVE name`` actions make certain. The latest invocation with
  such a write is the record's cause, and the key's writes from earlier invocations are
  dropped: they changed nothing, or their records came before.
* A batch of generation ``LOOP_GENERATIONS`` is not invoked: the trigger
  raises ``RecursiveLoopError`` (a background poller records it in ``poller_errors`` and stops).
  Nothing is checkpointed or discarded: once the code changes (a new file in the code folder,
  or ``trigger.handler = ...``), the next run delivers the waiting records to it.

Why a lesson that writes back once is not stopped: a status update that converges writes once
(its record is generation 1); for that record the function writes nothing, or the same value,
and "If you perform a PutItem or UpdateItem operation that does not change any data in an item,
DynamoDB Streams does not write a stream record for that operation" (DynamoDB developer guide,
"Change data capture for DynamoDB Streams"; DynamoDB Local 3.3.1 does the same). The chain
ends at generation 1 or 2. Another writer's records, even on the same item, are generation 0
unless they are exactly what the function wrote, within seconds of its write.

Not seen: writes from threads the handler starts, and PartiQL (ExecuteStatement,
BatchExecuteStatement, ExecuteTransaction); a loop through a second table and a second
function (A writes B, B's function writes A) is not followed either.

Engine module: no Jupyter imports.
"""

from __future__ import annotations

import itertools
import json
import re
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from .._errors import RecursiveLoopError
from ..backend._sdk import watching

if TYPE_CHECKING:
    from ._batching import Entry
    from ._function import Function

__all__ = [
    "LOOP_GENERATIONS",
    "READ_ORDER",
    "WRITE_MATCH_S",
    "LoopDetector",
    "Write",
    "recording",
]

LOOP_GENERATIONS = 16  # Lambda's "approximately 16 times in the same chain of requests"
WRITE_MATCH_S = 10.0  # a write's record is read within this long of it, or never (no change)
# Stamps the order of reads and invocations of every trigger: an entry read after a write's
# invocation ended has a higher stamp than the write.
READ_ORDER = itertools.count(1)
_WRITE_OPERATIONS = frozenset(
    {"PutItem", "UpdateItem", "DeleteItem", "BatchWriteItem", "TransactWriteItems"}
)
_TOKEN = re.compile(r":[A-Za-z0-9_]+|#?[A-Za-z_][A-Za-z0-9_]*")
_NOT_NAMES = frozenset({"SET", "REMOVE", "ADD", "DELETE", "if_not_exists", "list_append"})
_CLAUSE = re.compile(r"(?<![#:\w])(SET|REMOVE|ADD|DELETE)(?!\w)", re.IGNORECASE)
_NAME = re.compile(r"#?[A-Za-z_][A-Za-z0-9_]*")  # a top-level attribute, or its #alias
_MEMORY = 100_000  # generations remembered (of records above generation 0)


@dataclass(frozen=True)
class Write:
    """One item a function wrote, as its request said (attribute values in DynamoDB JSON)."""

    table: str
    kind: str  # "put", "update" or "delete"
    key: dict[str, Any] | None = None  # an update's or delete's Key
    item: dict[str, Any] | None = None  # a put's Item
    names: frozenset[str] | None = None  # the attributes an update names (None: unknown)
    # What an update makes certain of the new image: (attribute, value), or (attribute, None)
    # for one it removes; from its plain ``SET name = :value`` and ``REMOVE name`` actions.
    expects: tuple[tuple[str, Any], ...] = ()


# -- recording a handler's writes ----------------------------------------------------------------
_local = threading.local()


@contextmanager
def recording(sink: list[Write]) -> Iterator[None]:
    """Append to ``sink`` every write this thread sends to DynamoDB while the block runs."""
    _local.sink = sink
    try:
        with watching(_watch):
            yield
    finally:
        _local.sink = None


def _watch(service: str | None, operation: str, request: dict[str, Any], response: Any) -> None:
    sink = getattr(_local, "sink", None)
    if sink is None or service != "dynamodb" or operation not in _WRITE_OPERATIONS:
        return
    try:
        if response[0].status_code >= 300:
            return  # refused: nothing was written
        sink.extend(_writes(operation, json.loads(request.get("body") or b"{}")))
    except Exception:  # a watcher never breaks the function's own request
        return


def _table(name: str) -> str:
    return name.rsplit(":table/", 1)[-1] if name.startswith("arn:") else name


def _actions(expression: str) -> Iterator[tuple[str, str]]:
    """(clause, action) for each action of an update expression: ``("SET", "a = :a")``."""
    parts = _CLAUSE.split(expression)
    for clause, body in zip(parts[1::2], parts[2::2], strict=False):
        depth, start = 0, 0
        for i, char in enumerate(body + ","):
            depth += {"(": 1, ")": -1}.get(char, 0)
            if char == "," and depth == 0:
                yield clause.upper(), body[start:i].strip()
                start = i + 1


def _update(table: str, spec: dict[str, Any]) -> Write:
    names: frozenset[str] | None = None
    expects: list[tuple[str, Any]] = []
    expression = spec.get("UpdateExpression")
    if isinstance(expression, str):
        aliases = spec.get("ExpressionAttributeNames") or {}
        values = spec.get("ExpressionAttributeValues") or {}
        names = frozenset(
            aliases.get(t, t)
            for t in _TOKEN.findall(expression)
            if not t.startswith(":") and t not in _NOT_NAMES and t.upper() not in _NOT_NAMES
        )
        for clause, action in _actions(expression):
            target, _, value = (part.strip() for part in action.partition("="))
            if clause == "SET" and _NAME.fullmatch(target) and value in values:
                expects.append((aliases.get(target, target), values[value]))
            elif clause == "REMOVE" and _NAME.fullmatch(action):
                expects.append((aliases.get(action, action), None))
    elif isinstance(spec.get("AttributeUpdates"), dict):
        names = frozenset(spec["AttributeUpdates"])
    return Write(table, "update", key=spec.get("Key"), names=names, expects=tuple(expects))


def _writes(operation: str, body: dict[str, Any]) -> list[Write]:
    if operation == "PutItem":
        return [Write(_table(body["TableName"]), "put", item=body["Item"])]
    if operation == "UpdateItem":
        return [_update(_table(body["TableName"]), body)]
    if operation == "DeleteItem":
        return [Write(_table(body["TableName"]), "delete", key=body["Key"])]
    out: list[Write] = []
    if operation == "BatchWriteItem":
        for name, requests in body.get("RequestItems", {}).items():
            for request in requests:
                if "PutRequest" in request:
                    out.append(Write(_table(name), "put", item=request["PutRequest"]["Item"]))
                elif "DeleteRequest" in request:
                    out.append(Write(_table(name), "delete", key=request["DeleteRequest"]["Key"]))
        return out
    for action in body.get("TransactItems", []):  # TransactWriteItems
        if "Put" in action:
            out.append(Write(_table(action["Put"]["TableName"]), "put", item=action["Put"]["Item"]))
        elif "Update" in action:
            out.append(_update(_table(action["Update"]["TableName"]), action["Update"]))
        elif "Delete" in action:
            spec = action["Delete"]
            out.append(Write(_table(spec["TableName"]), "delete", key=spec["Key"]))
    return out


# -- comparing a write with a record -------------------------------------------------------------
def _canon(value: Any) -> Any:
    """An attribute value in one spelling: numbers normalised, sets sorted."""
    if not isinstance(value, dict) or len(value) != 1:
        return value
    ((kind, inner),) = value.items()
    if kind == "N":
        return {"N": str(Decimal(inner).normalize())}
    if kind == "NS":
        return {"NS": sorted(str(Decimal(i).normalize()) for i in inner)}
    if kind in ("SS", "BS"):
        return {kind: sorted(inner)}
    if kind == "M":
        return {"M": {k: _canon(v) for k, v in inner.items()}}
    if kind == "L":
        return {"L": [_canon(v) for v in inner]}
    return value


def _key_text(keys: dict[str, Any]) -> str:
    return json.dumps({k: _canon(v) for k, v in keys.items()}, sort_keys=True)


def _made_by(write: Write, record: dict[str, Any]) -> bool:
    """Whether ``record`` is what ``write`` would put in the stream (see the module's (d))."""
    event, ddb = record.get("eventName"), record.get("dynamodb", {})
    if write.kind == "delete":
        return event == "REMOVE"
    if event not in ("INSERT", "MODIFY"):
        return False
    new, old = ddb.get("NewImage"), ddb.get("OldImage")
    if write.kind == "put":
        return new is None or _canon({"M": new}) == _canon({"M": write.item or {}})
    if new is not None:
        for name, value in write.expects:
            if (name in new) if value is None else _canon(new.get(name)) != _canon(value):
                return False  # the new image is not what the update made certain
    if write.names is None or new is None or (event == "MODIFY" and old is None):
        return True
    if event == "INSERT":
        changed = set(new)
    else:
        changed = {n for n in set(new) | set(old) if _canon(new.get(n)) != _canon(old.get(n))}
    return bool(changed & write.names)


@dataclass
class _Pending:
    write: Write
    generation: int
    order: int  # READ_ORDER when the invocation that wrote it ended
    deadline: float  # time.monotonic()


# -- the detector --------------------------------------------------------------------------------
class LoopDetector:
    """The generations of one trigger's records, and the stop (see the module's docstring)."""

    def __init__(self, table_name: str, function_name: str, limit: int = LOOP_GENERATIONS):
        self.table_name, self.function_name, self.limit = table_name, function_name, limit
        self.deepest = 0  # the deepest generation seen so far
        self._keys: tuple[str, ...] | None = None  # the source table's key attributes
        self._pending: dict[str, list[_Pending]] = {}  # by key: writes awaiting their record
        self._generations: dict[str, int] = {}  # by sequence number, above 0 only
        self._halted: tuple[int, str] | None = None  # the code that looped
        self._lock = threading.Lock()  # lanes of one shard call at once

    def _generation(self, entry: Entry) -> int:
        sequence = entry.sequence_number
        if sequence in self._generations or not self._pending:
            return self._generations.get(sequence, 0)
        keys = entry.record.get("dynamodb", {}).get("Keys") or {}
        waiting = self._pending.get(_key_text(keys), [])
        now = time.monotonic()
        waiting[:] = [p for p in waiting if p.deadline >= now]
        # The latest invocation whose writes include one that made this record is its cause;
        # the key's writes from earlier invocations are dropped: they changed nothing, or
        # their records came before this one.
        for stamp in sorted({p.order for p in waiting if p.order < entry.order}, reverse=True):
            for pending in waiting:
                if pending.order == stamp and _made_by(pending.write, entry.record):
                    waiting[:] = [p for p in waiting if p is not pending and p.order >= stamp]
                    if len(self._generations) >= _MEMORY:
                        del self._generations[next(iter(self._generations))]
                    self._generations[sequence] = pending.generation
                    self.deepest = max(self.deepest, pending.generation)
                    return pending.generation
        return 0

    def _depth(self, entries: Sequence[Entry]) -> int:
        """A batch's generation: its *shallowest* record's. A function that handles a batch
        holding someone else's record may be writing because of that record, so a chain goes
        on only through batches of the function's own records."""
        return min((self._generation(e) for e in entries), default=0)

    def check(self, entries: Sequence[Entry], function: Function) -> None:
        """Before a batch is invoked: raise ``RecursiveLoopError`` if it continues a loop
        ``limit`` generations deep (and keep refusing until the function's code changes)."""
        with self._lock:
            if self._halted is not None and self._halted != _code(function):
                self._halted = None  # new code: it gets a fresh start
                self._pending.clear()
                self._generations.clear()
            depth = self._depth(entries)
            if depth < self.limit:
                return
            self._halted = _code(function)
        raise self._error(entries[-1].record, depth, function)

    def after(self, entries: Sequence[Entry], writes: Sequence[Write]) -> None:
        """After a batch was invoked: remember the function's writes to its source table."""
        mine = [w for w in writes if w.table == self.table_name]
        if not mine:
            return
        with self._lock:
            if self._keys is None and entries:
                self._keys = tuple(entries[0].record.get("dynamodb", {}).get("Keys") or {})
            if not self._keys:
                return  # no record seen yet (a final window call): nothing to key by
            generation = 1 + self._depth(entries)
            order, deadline = next(READ_ORDER), time.monotonic() + WRITE_MATCH_S
            for write in mine:
                key = write.key if write.key is not None else write.item or {}
                chosen = {k: key[k] for k in self._keys if k in key}
                pending = _Pending(write, generation, order, deadline)
                self._pending.setdefault(_key_text(chosen), []).append(pending)
            if len(self._pending) > 1000:  # sweep the keys no record came for (no change)
                now = time.monotonic()
                for key_text in [k for k, v in self._pending.items() if v[-1].deadline < now]:
                    del self._pending[key_text]

    def _error(self, record: dict[str, Any], deepest: int, function: Function) -> Exception:
        fn, table = self.function_name, self.table_name
        keys = record.get("dynamodb", {}).get("Keys") or {}
        key = ", ".join(f"{k}={next(iter(v.values()), '')}" for k, v in sorted(keys.items()))
        named = sorted(k for k, v in function.environment.items() if v == table)
        cause = (
            f" (its environment's {', '.join(named)} names {table!r}: one table as both the "
            "source and the target is the usual cause)"
            if named
            else ""
        )
        return RecursiveLoopError(
            f"The function {fn!r} is feeding its own stream: {deepest} times in a row it wrote "
            f"to {table!r}, the table whose stream invokes it{cause}, in response to a record "
            f"it had written itself (the latest: {record.get('eventName')} {key}). Left "
            "alone, this never ends. AWS would not stop it either: Lambda's recursive loop "
            "detection covers loops through Amazon SQS, Amazon SNS, Amazon S3 and Lambda, not "
            "DynamoDB streams, so it would run, and be billed, until someone noticed. The lab "
            "stopped this trigger before invoking the function again; the records waiting in "
            "the stream are kept.",
            "make the function write back only when something changes (compare OldImage with "
            "NewImage, or use a ConditionExpression), skip the records it wrote itself (an "
            "attribute only it sets, tested in the code or in filter_criteria), or write to "
            "another table; then save the fixed code (or set trigger.handler) and run the "
            "trigger again (run_until_idle() or start()): the waiting records go to the fixed "
            "code.",
            function_name=fn,
            table_name=table,
            generations=deepest,
        )


def _code(function: Function) -> tuple[int, str]:
    """Which code ran: the function object and, for a module, its code folder's version."""
    return id(function), function.code_version()

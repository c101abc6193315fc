"""The Lab: one DynamoDB endpoint, its boto3 clients, and the tables and triggers made on it.

``start()`` resolves the backend (``backend/_connect.py``): ``$LABKIT_ENDPOINT_URL`` when set,
real AWS on opt-in, else a DynamoDB Local that labkit launches in memory on a free loopback port,
reused for the rest of the process's life and stopped when it ends (also when it is killed: see
``backend/_guard.py``). While a local lab that ``start()`` returned runs, the learner's own
default boto3 clients go to it and nothing else leaves the machine (``backend/_sdk.py``);
``Lab.close()`` undoes that.
"""

from __future__ import annotations

import atexit
import contextlib
import os
import sys
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import boto3
from botocore.config import Config
from botocore.exceptions import ClientError

from . import _seams
from ._backfill import (
    StreamPosition,
    TableComparison,
    TableCopy,
    compare_tables,
    copy_table,
    take_position,
)
from ._errors import (
    BackendError,
    BackendStoppedError,
    LabError,
    StreamNotEnabledError,
    TableError,
    TableExistsError,
    TriggerError,
)
from ._items import check_items, item_key
from ._lab_kinesis import KinesisRoom
from ._names import check_table_name
from .backend._connect import (
    CREDENTIALS,
    Connection,
    connect_aws,
    connect_external,
    env_port,
    isolated_session,
    launch,
    opted_into_aws,
    ping,
)
from .backend._connect import REGION as REGION_DEFAULT
from .backend._health import ServerWatch, client_config
from .backend._kinesis import KinesisServer
from .backend._sdk import SdkRedirect, redirect
from .backend._server import LocalServer, check_port
from .esm._capture import say
from .esm._checkpoints import TableCheckpoints
from .esm._events import StreamViewType
from .esm._function import (
    DEFAULT_MEMORY_MB,
    DEFAULT_TIMEOUT_S,
    Function,
    check_function_name,
    mapping_function_name,
)
from .esm._kinesis import is_kinesis_arn
from .esm._options import TriggerConfig
from .esm._pipe import Pipe, Queue
from .esm._pipe_params import SQS_MAX_BATCH, check_pipe_name, pipe_config
from .esm._transformer import InputTemplate
from .esm._trigger import Trigger

__all__ = ["Lab", "running_lab", "start"]

# On real AWS (opt-in: LABKIT_USE_AWS=1) every lab table is named with this prefix and tagged.
AWS_TABLE_PREFIX = os.environ.get("LABKIT_TABLE_PREFIX", "labkit-")
LAB_TAG = "labkit"
_KEY_TYPES = ("S", "N", "B")
# put_items shows a progress bar only for this many items or more (and a call over 2 s).
_PROGRESS_MIN_COUNT = 1000

_lock = threading.Lock()
_current: Lab | None = None


@dataclass(frozen=True)
class _KeySpec:
    name: str
    type: str

    @classmethod
    def parse(cls, key: str | tuple[str, str], role: str) -> _KeySpec:
        if isinstance(key, str):
            name, kind = key, "S"
        elif isinstance(key, tuple | list) and len(key) == 2:
            name, kind = key
        else:
            name, kind = "", ""
        if not isinstance(name, str) or not 1 <= len(name) <= 255 or kind not in _KEY_TYPES:
            raise TableError(
                f"The {role} {str(key)[:80]!r} is not valid: a key is an attribute name (1 to 255 "
                f"characters), optionally with its type, one of {', '.join(_KEY_TYPES)}.",
                f"pass {role}='pk' (a string key) or {role}=('pk', 'N') for a number key.",
            )
        return cls(name, kind)


class Lab(KinesisRoom):
    """A DynamoDB endpoint to learn on, with its clients, tables and triggers.

    Introduced in notebooks/00-setup-check.ipynb.
    """

    def __init__(
        self,
        endpoint_url: str | None,
        server: LocalServer | None = None,
        *,
        on_aws: bool = False,
        session: boto3.Session | None = None,
        prefix: str = AWS_TABLE_PREFIX,
    ) -> None:
        self.endpoint_url = endpoint_url
        self.server = server
        self.on_aws = on_aws
        # On AWS every table name gets the lab prefix, so lesson code runs unchanged and the
        # lab can never touch a table it did not make.
        self.prefix = prefix if on_aws else ""
        self.session = session or (boto3.Session() if on_aws else isolated_session())
        self.region = self.session.region_name or REGION_DEFAULT
        # On the DynamoDB Local labkit started, a killed or frozen server is told within seconds
        # (backend/_health.py); an endpoint elsewhere may be slower, and keeps botocore's ways.
        self.watch = ServerWatch(server) if server is not None else None
        config = (
            client_config()
            if server is not None
            else Config(
                connect_timeout=5,
                read_timeout=30,
                retries={"max_attempts": 3, "mode": "standard"},
                max_pool_connections=20,
            )
        )
        self.dynamodb = self.session.client("dynamodb", endpoint_url=endpoint_url, config=config)
        self.streams = self.session.client(
            "dynamodbstreams", endpoint_url=endpoint_url, config=config
        )
        self.resource = self.session.resource("dynamodb", endpoint_url=endpoint_url, config=config)
        # The triggers' own streams client: the same, except that it leaves timestamps as the
        # numbers DynamoDB sent (epoch seconds), which is what the Lambda event carries anyway.
        # botocore would make each record's ApproximateCreationDateTime a timezone-aware datetime
        # (dateutil, about a third of its per-record parsing) only for labkit to turn it back.
        self.trigger_streams = self.session.client(
            "dynamodbstreams", endpoint_url=endpoint_url, config=config
        )
        self.trigger_streams._endpoint._response_parser_factory = _epoch_parser_factory()
        if self.watch is not None:
            clients = (self.dynamodb, self.streams, self.trigger_streams, self.resource.meta.client)
            for client in clients:
                self.watch.attach(client)
        self.created_tables: list[str] = []
        self.triggers: list[Trigger] = []
        self.pipes: list[Pipe] = []
        self.closed = False
        # Set by start() for a local lab: the learner's default boto3 clients point here.
        self.sdk: SdkRedirect | None = None
        # Kinesis (lesson 15), started on first use: the server, its client, what was made on it.
        self.kinesis_server: KinesisServer | None = None
        # default boto3 Kinesis clients (a learner's, a function's) go to the local Kinesis too
        self._kinesis_sdk: SdkRedirect | None = None
        self._kinesis: Any = None
        self.kinesis_streams: list[str] = []
        self.kinesis_destinations: list[Any] = []  # _kds.KinesisDestination

    # -- lifecycle ------------------------------------------------------------------------
    @property
    def backend(self) -> str:
        if self.server is not None:
            return f"DynamoDB Local {self.server.jar.version} started by labkit (in memory)"
        if self.on_aws:
            return f"real AWS (region {self.region}, tables named {self.prefix}<name>)"
        return "external endpoint (LABKIT_ENDPOINT_URL)"

    @property
    def stopped_because(self) -> str | None:
        """Why the DynamoDB Local this lab started is gone (killed, exited, suspended), or None.
        ``lk.start()`` replaces a lab whose server stopped."""
        if self.closed or self.watch is None:
            return None
        return self.watch.failure()

    @property
    def state(self) -> str:
        """``"running"``, ``"stopped"`` (its DynamoDB Local is gone) or ``"closed"``."""
        if self.closed:
            return "closed"
        return "stopped" if self.stopped_because is not None else "running"

    def __repr__(self) -> str:
        where = f" at {self.endpoint_url}" if self.endpoint_url else ""
        why = self.stopped_because
        return f"<Lab {self.state}{f' ({why})' if why else ''}: {self.backend}{where}>"

    def name(self, table_name: str) -> str:
        """The real name of a lab table: the name itself, or on AWS the lab prefix + name."""
        if not self.prefix or table_name.startswith(self.prefix):
            return table_name
        return self.prefix + table_name

    def _repr_html_(self) -> str:
        tables = ", ".join(self.created_tables) or "none yet"
        return (
            f"<b>Lab</b> ({self.state}): {self.backend}<br>"
            f"endpoint <code>{self.endpoint_url}</code>, region <code>{self.region}</code>"
            f"<br>tables created here: {tables}"
        )

    def __enter__(self) -> Lab:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Stop the triggers, give default boto3 clients back their own settings and, if labkit
        started it, stop DynamoDB Local. Safe to call twice."""
        global _current
        for trigger in [*self.triggers, *self.pipes]:
            trigger.close()
        if self._kinesis_sdk is not None:
            self._kinesis_sdk.restore()
        if self.sdk is not None:
            self.sdk.restore()  # after the triggers: no handler runs any more
        if self.kinesis_server is not None:
            self.kinesis_server.stop()
        if self.server is not None:
            self.server.stop()
        self.closed = True
        with _lock:
            if _current is self:
                _current = None

    def _check_open(self) -> None:
        if self.closed:
            raise BackendError(
                "This lab is closed: its DynamoDB Local has stopped.",
                "start a new one with `lab = lk.start()`.",
            )
        if self.watch is not None:
            self.watch.check()

    # -- tables ---------------------------------------------------------------------------
    def create_table(
        self,
        name: str,
        key: str | tuple[str, str] = "pk",
        sort_key: str | tuple[str, str] | None = None,
        stream: str | StreamViewType | None = "NEW_AND_OLD_IMAGES",
    ) -> Any:
        """Create an on-demand table, wait until it is ACTIVE, and return its boto3 Table.

        ``stream`` is the stream view type (KEYS_ONLY, NEW_IMAGE, OLD_IMAGE,
        NEW_AND_OLD_IMAGES) or None for no stream.

        Introduced in notebooks/00-setup-check.ipynb.
        """
        self._check_open()
        name = self.name(check_table_name(name))
        keys = [_KeySpec.parse(key, "key")]
        if sort_key is not None:
            keys.append(_KeySpec.parse(sort_key, "sort_key"))
            if keys[1].name == keys[0].name:
                raise TableError(
                    f"sort_key and key are both named {keys[0].name!r}: a table's two key "
                    "attributes must differ.",
                    "rename the sort key (for example sort_key='sk'), or leave it out.",
                )
        params: dict[str, Any] = {
            "TableName": name,
            "KeySchema": [
                {"AttributeName": k.name, "KeyType": role}
                for k, role in zip(keys, ("HASH", "RANGE"), strict=False)
            ],
            "AttributeDefinitions": [
                {"AttributeName": k.name, "AttributeType": k.type} for k in keys
            ],
            "BillingMode": "PAY_PER_REQUEST",
        }
        if stream is not None:
            views = [v.value for v in StreamViewType]
            if str(stream) not in views:
                raise TableError(
                    f"stream={stream!r} is not a stream view type.",
                    f"pass one of {', '.join(views)}, or stream=None for a table without one.",
                )
            params["StreamSpecification"] = {"StreamEnabled": True, "StreamViewType": str(stream)}
        if self.on_aws:
            params["Tags"] = [{"Key": LAB_TAG, "Value": "true"}]
        try:
            self.dynamodb.create_table(**params)
        except ClientError as exc:
            if exc.response["Error"]["Code"] == "ResourceInUseException":
                raise TableExistsError(
                    f"A table named {name!r} already exists on {self.endpoint_url}.",
                    "use it with lab.table(name), pick another name, or run lab.reset() to "
                    "delete the tables this lab created.",
                    cause=exc,
                ) from exc
            raise self._translate(exc, f"creating table {name!r}") from exc
        self.created_tables.append(name)
        self._wait_active(name, stream is not None)
        return self.table(name)

    def _wait_active(self, name: str, with_stream: bool, timeout: float = 60.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            desc = self.dynamodb.describe_table(TableName=name)["Table"]
            stream_ok = not with_stream or desc.get("LatestStreamArn")
            if desc["TableStatus"] == "ACTIVE" and stream_ok:
                return
            time.sleep(0.05)
        raise TableError(
            f"Table {name!r} did not become ACTIVE within {timeout:.0f} s.",
            "check the endpoint with `python -m labkit doctor`.",
        )

    def table(self, name: str) -> Any:
        """The boto3 Table resource for ``name`` (the same object your Lambda code would use)."""
        self._check_open()
        return self.resource.Table(self.name(check_table_name(name)))

    def stream_arn(self, table_name: str) -> str:
        """The ARN of the table's latest stream, or StreamNotEnabledError."""
        self._check_open()
        table_name = self.name(check_table_name(table_name))
        try:
            desc = self.dynamodb.describe_table(TableName=table_name)["Table"]
        except ClientError as exc:
            if exc.response["Error"]["Code"] == "ResourceNotFoundException":
                raise TableError(
                    f"There is no table named {table_name!r} on {self.endpoint_url}.",
                    "create it first with lab.create_table(name).",
                    cause=exc,
                ) from exc
            raise self._translate(exc, f"describing table {table_name!r}") from exc
        spec = desc.get("StreamSpecification") or {}
        if not spec.get("StreamEnabled") or "LatestStreamArn" not in desc:
            raise StreamNotEnabledError(
                f"Table {table_name!r} has no stream, so no change of it is recorded.",
                "create it with a stream: lab.create_table(name, stream='NEW_AND_OLD_IMAGES').",
            )
        return str(desc["LatestStreamArn"])

    def items(self, table_name: str) -> list[dict[str, Any]]:
        """Every item of a (small) table, as Python values, in key order (numbers in numeric
        order, binary keys as bytes)."""
        table = self.table(table_name)
        if not self._exists(table.table_name):
            raise TableError(
                f"There is no table named {table.table_name!r} on {self.endpoint_url or 'AWS'}.",
                "create it first with lab.create_table(name).",
            )
        items: list[dict[str, Any]] = []
        kwargs: dict[str, Any] = {"ConsistentRead": True}
        while True:
            page = table.scan(**kwargs)
            items.extend(page["Items"])
            if "LastEvaluatedKey" not in page:
                break
            kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]
        keys = [k["AttributeName"] for k in table.key_schema]
        # key attributes first, then the rest by name: the same order on every run
        ordered = [
            {**{k: i[k] for k in keys if k in i}, **{k: i[k] for k in sorted(i) if k not in keys}}
            for i in items
        ]
        # in key order as DynamoDB compares keys: numbers as numbers, binary as bytes
        return sorted(ordered, key=lambda item: item_key(item, keys))

    def new_key(self, table_name: str, key: str) -> str:
        """``key`` if no item of the table has it, else the first of ``key-2``, ``key-3``, ...
        that none has. A demo cell that writes with it shows its point when it is run again:
        written to the same key with the same values, a put changes nothing, and DynamoDB adds a
        stream record only for a write that changes an item (so nothing would be delivered).
        For a table with a partition key only.

        Introduced in notebooks/01-stream-processing-flow.ipynb.
        """
        table = self.table(table_name)
        schema = table.key_schema
        if len(schema) != 1:
            raise TableError(
                f"Table {table.table_name!r} has a sort key, so a partition key alone does not "
                "name an item.",
                "use new_key on a table with a partition key only, or choose the keys yourself.",
            )
        attribute = schema[0]["AttributeName"]
        candidate, n = key, 1
        while "Item" in table.get_item(Key={attribute: candidate}, ConsistentRead=True):
            n += 1
            candidate = f"{key}-{n}"
        return candidate

    def put_items(self, table_name: str, items: Iterable[dict[str, Any]]) -> int:
        """Write many items at once with boto3's batch writer; returns how many were written.

        Each item is one PutItem in a ``BatchWriteItem`` of up to 25 (the batch writer resends
        unprocessed items), so the stream gets one record per item that changed, as on AWS.
        A value DynamoDB cannot store (a float, a number out of its range) is an
        ``InvalidItemError`` before anything is written.
        Thousands of items show a progress bar (only when the call takes over two seconds).

        Introduced in notebooks/01-stream-processing-flow.ipynb.
        """
        table = self.table(table_name)
        items = list(items)
        if not all(isinstance(item, dict) for item in items):
            raise TableError(
                f"put_items({table_name!r}, ...) needs items as dicts; got "
                f"{next(type(i).__name__ for i in items if not isinstance(i, dict))}.",
                'pass a list of dicts such as [{"pk": "order-1", "status": "new"}].',
            )
        check_items(items, f"put_items({table_name!r}, ...)")  # before anything is written
        try:
            with (
                _seams.Progress(
                    f"put_items {table_name}",
                    len(items),
                    unit="item",
                    min_count=_PROGRESS_MIN_COUNT,
                ) as progress,
                table.batch_writer() as batch,
            ):
                for item in items:
                    batch.put_item(Item=item)
                    progress.update()
        except ClientError as exc:
            raise self._translate(exc, f"writing {len(items)} items to {table_name!r}") from exc
        return len(items)

    def reset(self) -> list[str]:
        """Close the triggers and delete the tables this lab created; returns their names.

        Nothing else is ever deleted. On AWS a table is deleted only if it still carries the
        lab's tag; otherwise reset stops with an error before deleting anything more.

        Introduced in notebooks/00-setup-check.ipynb.
        """
        self._check_open()
        for trigger in [*self.triggers, *self.pipes]:
            trigger.close()
        self.triggers.clear()
        self.pipes.clear()
        self.kinesis_destinations.clear()
        with contextlib.suppress(BackendStoppedError):  # a dead Kinesis: nothing to delete
            for arn in self.kinesis_streams:
                with contextlib.suppress(ClientError):
                    self.kinesis.delete_stream(StreamARN=arn, EnforceConsumerDeletion=True)
        self.kinesis_streams.clear()
        deleted: list[str] = []
        for name in list(self.created_tables):
            if self._delete(name):
                deleted.append(name)
            self.created_tables.remove(name)
        return deleted

    def delete_table(self, name: str) -> None:
        """Delete one table this lab created (and only such a table).

        Introduced in notebooks/00-setup-check.ipynb.
        """
        self._check_open()
        real = self.name(name)
        if real not in self.created_tables:
            raise TableError(
                f"Refusing to delete {real!r}: this lab did not create it, and labkit deletes "
                "only the tables it created.",
                "delete it yourself (console, AWS CLI or boto3) if you are sure, or pass the "
                "name of a table made with lab.create_table().",
            )
        self._delete(real)
        self.created_tables.remove(real)

    def _delete(self, name: str) -> bool:
        """Delete a created table; False if it was already gone."""
        try:
            if self.on_aws:
                self._check_tag(name)
            self.dynamodb.delete_table(TableName=name)
        except ClientError as exc:
            if exc.response["Error"]["Code"] == "ResourceNotFoundException":
                return False
            raise self._translate(exc, f"deleting table {name!r}") from exc
        return True

    def _check_tag(self, name: str) -> None:
        arn = self.dynamodb.describe_table(TableName=name)["Table"]["TableArn"]
        tags = self.dynamodb.list_tags_of_resource(ResourceArn=arn).get("Tags", [])
        if {"Key": LAB_TAG, "Value": "true"} not in tags:
            raise TableError(
                f"Refusing to delete {name!r}: it no longer carries the tag {LAB_TAG}=true that "
                "labkit puts on the tables it creates, so it may not be the lab's table.",
                "check the table in the AWS console; delete it yourself if it is the lab's.",
            )

    # -- backfill then tail ----------------------------------------------------------------
    def stream_position(
        self,
        table_name: str,
        *,
        checkpoint_table: str | None = None,
        function_name: str | None = None,
    ) -> StreamPosition:
        """Where the table's stream stands now: for each shard, the sequence number to resume
        after (found by reading each open shard to its end; DynamoDB Streams has no
        AT_TIMESTAMP iterator, and a LATEST iterator names no sequence number and expires after
        15 minutes). Take it *before* copying the table.

        With ``checkpoint_table`` and ``function_name`` the position is stored there as that
        function's checkpoints (created if missing, as ``lab.trigger`` would), so that
        ``lab.trigger(table_name, function, checkpoint_table=...)`` made later starts right
        after it: how a consumer with a lease table (the Kinesis Client Library's idea) starts
        from a position. A Lambda event source mapping itself cannot: its StartingPosition is
        TRIM_HORIZON or LATEST for a DynamoDB stream.

        Introduced in notebooks/16-backfill-then-tail.ipynb.
        """
        self._check_open()
        check_table_name(table_name, "table to take the position of")
        if (checkpoint_table is None) != (function_name is None):
            raise TriggerError(
                "stream_position() needs checkpoint_table and function_name together: the "
                "position is stored as the checkpoints of one function in one table.",
                "pass both, such as checkpoint_table='replica_position', "
                "function_name='apply_changes' (the name the trigger's function will have), or "
                "neither to only look at the position.",
            )
        if function_name is not None:
            check_function_name(function_name, "function_name=")
        stream_arn = self.stream_arn(table_name)
        position = take_position(self.streams, self.name(table_name), stream_arn)
        if checkpoint_table is None or function_name is None:
            return position
        check_table_name(checkpoint_table, "checkpoint_table name")
        if self._exists(checkpoint_table):
            self._check_checkpoint_table(checkpoint_table)
        else:
            self._create_checkpoint_table(checkpoint_table)
        store = TableCheckpoints(
            self.dynamodb,
            self.name(checkpoint_table),
            consumer=function_name,
            stream_arn=stream_arn,
        )
        for shard_id, sequence_number in position.checkpoints.items():
            store.put(shard_id, sequence_number)
        return replace(position, saved_in=checkpoint_table, consumer=function_name)

    def copy_table(
        self,
        source: str,
        target: str,
        *,
        total_segments: int = 4,
        page_size: int = 100,
        during: Callable[[], Any] | None = None,
    ) -> TableCopy:
        """Copy every item of ``source`` into ``target`` (an existing table with the same key)
        with a parallel Scan: ``total_segments`` threads, pages of ``page_size`` items, each
        page read with ConsistentRead and written with BatchWriteItem. ``during`` is a function
        run once every segment has copied its first page, while the segments wait: the
        application's writes during the copy, at one fixed moment so that the run is the same
        each time. Returns what each segment copied (``.table()``).

        Introduced in notebooks/16-backfill-then-tail.ipynb.
        """
        self._check_open()
        for name, role in ((source, "from"), (target, "into")):
            check_table_name(name, "table to copy")
            if not self._exists(name):
                raise TableError(
                    f"There is no table named {self.name(name)!r} to copy {role}.",
                    f"create it first with lab.create_table({name!r}).",
                )
        keys = self._keys(source)
        if self.name(source) == self.name(target) or self._keys(target) != keys:
            raise TableError(
                f"copy_table({source!r}, {target!r}) needs a different target table with the "
                f"same key as the source ({', '.join(f'{k} ({t})' for k, t in keys)}).",
                f"create the replica with the source's key, such as "
                f"lab.create_table({target!r}, stream=None) for a string key 'pk'.",
            )
        try:
            return copy_table(
                self.dynamodb,
                self.name(source),
                self.name(target),
                keys=[k for k, _ in keys],
                total_segments=total_segments,
                page_size=page_size,
                during=during,
            )
        except ClientError as exc:
            raise self._translate(exc, f"copying {source!r} into {target!r}") from exc

    def compare_tables(self, source: str, target: str) -> TableComparison:
        """Compare two tables item by item (a consistent scan of each): ``.equal``,
        ``.summary``, and ``.table()`` of the items that differ.

        Introduced in notebooks/16-backfill-then-tail.ipynb.
        """
        keys = [k for k, _ in self._keys(source)] if self._exists(source) else []
        source_items, target_items = self.items(source), self.items(target)
        return compare_tables(source, target, keys, source_items, target_items)

    # -- triggers -------------------------------------------------------------------------
    def function(
        self,
        function_name: str,
        handler: str | Callable[[dict[str, Any], Any], Any],
        *,
        code: str | Path | None = None,
        environment: dict[str, str] | None = None,
        timeout: int = DEFAULT_TIMEOUT_S,
        memory_size: int = DEFAULT_MEMORY_MB,
    ) -> Function:
        """Define a function as Lambda has one: its handler (``"module.function"`` in the
        ``code`` folder, default ``./functions``, or a callable), its environment variables,
        timeout (1 to 900 s, default 3) and memory size (128 to 10,240 MB, default 128).
        Checked now, so a mistake is reported here; pass it to ``lab.trigger``.

        Introduced in notebooks/01-stream-processing-flow.ipynb.
        """
        return Function(
            function_name,
            handler,
            code=Path(code) if code is not None else None,
            environment=environment or {},
            timeout=timeout,
            memory_size=memory_size,
        )

    def function_variables(self) -> dict[str, str]:
        """What a function's environment gets from the lab besides Lambda's own variables:
        the lab's credentials and, on a local lab, the DynamoDB endpoints (so a default boto3
        client in the function reaches the lab, never AWS)."""
        # No X-Ray daemon runs here: Powertools' documented switch turns its Tracer into a no-op
        # (SAM CLI does the same for `sam local` with AWS_SAM_LOCAL).
        lab = {"POWERTOOLS_TRACE_DISABLED": "true"}
        if self.on_aws or self.endpoint_url is None:
            return lab
        kinesis = self.kinesis_server
        return {
            **lab,
            "AWS_ACCESS_KEY_ID": CREDENTIALS["aws_access_key_id"],
            "AWS_SECRET_ACCESS_KEY": CREDENTIALS["aws_secret_access_key"],
            "AWS_ENDPOINT_URL_DYNAMODB": self.endpoint_url,
            "AWS_ENDPOINT_URL_DYNAMODB_STREAMS": self.endpoint_url,
            **({"AWS_ENDPOINT_URL_KINESIS": kinesis.endpoint_url} if kinesis is not None else {}),
        }

    def trigger(
        self,
        table_name: str,
        handler: Function | Callable[[dict[str, Any], Any], Any],
        batch_size: int = TriggerConfig.batch_size,
        starting_position: str = TriggerConfig.starting_position,
        *,
        maximum_batching_window_in_seconds: int = TriggerConfig.maximum_batching_window_in_seconds,
        filter_criteria: dict[str, Any] | None = TriggerConfig.filter_criteria,
        maximum_retry_attempts: int = TriggerConfig.maximum_retry_attempts,
        maximum_record_age_in_seconds: int = TriggerConfig.maximum_record_age_in_seconds,
        bisect_batch_on_function_error: bool = TriggerConfig.bisect_batch_on_function_error,
        destination_config: dict[str, Any] | None = TriggerConfig.destination_config,
        function_response_types: list[str] | tuple[str, ...] = (
            TriggerConfig.function_response_types
        ),
        tumbling_window_in_seconds: int = TriggerConfig.tumbling_window_in_seconds,
        parallelization_factor: int = TriggerConfig.parallelization_factor,
        metrics_config: dict[str, Any] | None = TriggerConfig.metrics_config,
        checkpoint_table: str | None = None,
        function_name: str | None = None,
    ) -> Trigger:
        """Attach ``handler`` to the table's stream, as a Lambda event source mapping would.

        The options are Lambda's, with its defaults and ranges (see ``TriggerConfig``).
        ``checkpoint_table`` keeps the checkpoints in a DynamoDB table of that name (created if
        missing), so that a trigger made again resumes after the last record completed (in a
        new process too when the tables outlive it: ``$LABKIT_DB_PATH`` keeps labkit's DynamoDB
        Local on disk; in memory, a new kernel starts from no tables). ``function_name`` names
        the function (in its context, and as the consumer in the checkpoint table); it
        defaults to the ``Function``'s name or the handler's ``__name__``.

        **One trigger per function and table.** AWS refuses a second mapping of one function to
        one event source (CreateEventSourceMapping answers ``ResourceConflictException``: "The
        event source arn ... and function ... provided mapping already exists. Please update or
        delete the existing mapping"). Here the usual way to meet that is re-running the cell
        that makes the trigger; two live triggers would deliver every record twice. So a new
        trigger of a function (the same name) on a table that has an open one *replaces* it,
        as UpdateEventSourceMapping would: the earlier one stops after its batch in flight and
        is closed, and the new one goes on from the earlier one's checkpoints, whatever its
        ``starting_position`` (an update keeps the mapping's place): nothing is delivered twice
        and nothing is skipped. Replacing rather than refusing keeps a re-run cell working, and
        it is said on the output. To read the stream again from its start, close the earlier
        trigger first; for a second consumer of the stream (fan-out), use another function.

        Introduced in notebooks/01-stream-processing-flow.ipynb.
        """
        self._check_open()
        kinesis = is_kinesis_arn(table_name)
        if kinesis:
            refused = {
                "filter_criteria": filter_criteria,
                "destination_config": destination_config,
                "checkpoint_table": checkpoint_table,
                "tumbling_window_in_seconds": tumbling_window_in_seconds or None,
            }
            if unsupported := [name for name, value in refused.items() if value is not None]:
                raise TriggerError(
                    f"{', '.join(unsupported)} is not available on a Kinesis trigger in the lab "
                    "(README, Known differences).",
                    f"leave {', '.join(unsupported)} out of lab.trigger(<stream ARN>, ...).",
                )
            if starting_position == "AT_TIMESTAMP":  # Kinesis has it on AWS; the lab does not
                raise TriggerError(
                    "starting_position='AT_TIMESTAMP' (with StartingPositionTimestamp) is a "
                    "Kinesis starting position on AWS, but the lab's Kinesis trigger does not "
                    "offer it (README, Known differences).",
                    "pass starting_position='TRIM_HORIZON' (every record the stream keeps) or "
                    "'LATEST' (records from now on).",
                )
        else:
            check_table_name(table_name, "table to trigger on")
            if checkpoint_table is not None:
                check_table_name(checkpoint_table, "checkpoint_table name")
            if function_name is not None:
                check_function_name(function_name, "function_name=")
        config = TriggerConfig(
            batch_size=batch_size,
            starting_position=starting_position,
            maximum_batching_window_in_seconds=maximum_batching_window_in_seconds,
            filter_criteria=filter_criteria,
            maximum_retry_attempts=maximum_retry_attempts,
            maximum_record_age_in_seconds=maximum_record_age_in_seconds,
            bisect_batch_on_function_error=bisect_batch_on_function_error,
            destination_config=destination_config,
            function_response_types=function_response_types,  # type: ignore[arg-type]
            tumbling_window_in_seconds=tumbling_window_in_seconds,
            parallelization_factor=parallelization_factor,
            metrics_config=metrics_config,
        )
        if kinesis:
            return self._kinesis_trigger(table_name, handler, config, function_name)
        stream_arn = self.stream_arn(table_name)
        destination = None
        if config.destination is not None:
            destination = self._destination(config.destination, table_name)
        name = mapping_function_name(handler, function_name)
        checkpoints = None
        if checkpoint_table is not None:
            if self._exists(checkpoint_table):
                self._check_checkpoint_table(checkpoint_table)
            else:
                self._create_checkpoint_table(checkpoint_table)
            checkpoints = TableCheckpoints(
                self.dynamodb, self.name(checkpoint_table), consumer=name, stream_arn=stream_arn
            )
        earlier = self._mapping_of(name, stream_arn)
        if earlier is not None:
            earlier.stop()  # its batch in flight ends and is checkpointed first
        trigger = Trigger(
            self.name(table_name),
            stream_arn,
            handler,
            config,
            streams=self.trigger_streams,
            region=self.region,
            destination=destination,
            checkpoints=checkpoints,
            function_name=function_name,
            variables=self.function_variables(),
            describe_table=self._description,
            takes_over=earlier,
            # ApproximateCreationDateTime: to the second on AWS, to the minute on DynamoDB Local
            creation_resolution=1.0 if self.on_aws else 60.0,
        )
        if earlier is not None:
            earlier.close(replaced_by=f"lab.trigger({table_name!r}, ...) made again for {name!r}")
            self.triggers.remove(earlier)
            say(
                f"this trigger of {name!r} on {table_name!r} replaces the earlier one (one "
                "trigger per function and table, as on AWS): that one is closed, and this one "
                "goes on from its checkpoint, so no record is delivered twice."
            )
        self.triggers.append(trigger)
        return trigger

    def queue(self, name: str) -> Queue:
        """A stand-in for an SQS queue, kept in a lab table of that name (made if missing): a
        pipe's target or dead-letter queue (``queue.arn``). ``queue.messages()`` and
        ``queue.bodies()`` read it, oldest first.

        Introduced in notebooks/14-eventbridge-pipes.ipynb.
        """
        self._check_open()
        check_table_name(name, "queue name")
        if not self._exists(name):
            self.create_table(name, key="MessageId", stream=None)
        elif self._keys(name) != [("MessageId", "S")]:
            raise TableError(
                f"The table {name!r} exists but is not a queue stand-in (its key is not "
                "'MessageId', a string).",
                "give the queue a name of its own, such as 'shipping-queue'.",
            )
        return Queue(self.table(name), self.region)

    def pipe(
        self,
        name: str,
        source: str,
        target: Any,
        *,
        source_parameters: dict[str, Any],
        enrichment: Any = None,
        enrichment_parameters: dict[str, Any] | None = None,
        target_parameters: dict[str, Any] | None = None,
    ) -> Pipe:
        """An EventBridge pipe from ``source``'s stream, through an optional ``enrichment``
        function, to ``target``: a function (``lab.function(...)`` or a handler) or a queue
        (``lab.queue(...)``). DynamoDB is not a Pipes target: write to a table from a function
        target. The parameters are CreatePipe's, as boto3's ``pipes.create_pipe`` takes them:
        ``source_parameters={"DynamoDBStreamParameters": {"StartingPosition": "LATEST", ...},
        "FilterCriteria": {...}}``, ``enrichment_parameters={"InputTemplate": ...}``,
        ``target_parameters={"InputTemplate": ...}``. Checked now, with the API's ranges.
        Making a pipe of the same name again replaces the earlier one, which it goes on from.

        Introduced in notebooks/14-eventbridge-pipes.ipynb.
        """
        self._check_open()
        check_pipe_name(name)
        check_table_name(source, "pipe source table")
        config, full = pipe_config(source_parameters)
        if isinstance(target, str):
            raise TriggerError(
                f"target={target!r} is a name; if it is a table: DynamoDB is not one of "
                "EventBridge Pipes' targets (Lambda, SQS, SNS, Kinesis, Step Functions, "
                "event buses, API destinations, ...).",
                "write to the table from a function: target=lab.function('save', "
                "'save.handler', ...); for a queue, target=lab.queue('name').",
            )
        if isinstance(target, Queue) and config.batch_size > SQS_MAX_BATCH:
            raise TriggerError(
                f"BatchSize is {config.batch_size}, but an SQS queue target takes at most "
                f"{SQS_MAX_BATCH} records a batch; AWS refuses a pipe whose source batch is "
                "larger than its target's.",
                f'set "BatchSize": {SQS_MAX_BATCH} (or fewer) in DynamoDBStreamParameters.',
            )
        templates = {}
        for role, given in (("enrichment", enrichment_parameters), ("target", target_parameters)):
            if given is None:
                continue
            if not isinstance(given, dict) or set(given) - {"InputTemplate"}:
                raise TriggerError(
                    f"{role}_parameters={given!r}: the lab takes InputTemplate only.",
                    f'pass {role}_parameters={{"InputTemplate": "..."}} or leave it out.',
                )
            if given.get("InputTemplate"):  # "" removes a template [T6]
                templates[role] = InputTemplate(given["InputTemplate"], role)
        if enrichment is None and "enrichment" in templates:
            raise TriggerError(
                "enrichment_parameters were given, but the pipe has no enrichment.",
                "pass enrichment=lab.function(...), or use target_parameters for the target.",
            )
        dead = full.get("DeadLetterConfig", {}).get("Arn")
        dead_letter = None
        if dead is not None:
            queue_name = dead.rsplit(":", 1)[-1]
            if not dead.startswith("arn:aws:sqs:") or not self._exists(queue_name):
                raise TriggerError(
                    f"DeadLetterConfig Arn {dead!r} is not the ARN of a lab queue.",
                    "make one and pass its ARN: dlq = lab.queue('orders-dlq'), then "
                    "DeadLetterConfig={'Arn': dlq.arn}.",
                )
            dead_letter = self.queue(queue_name)
        stream_arn = self.stream_arn(source)
        earlier = next((p for p in self.pipes if p.name == name and not p.closed), None)
        if earlier is not None:
            earlier.stop()
        pipe = Pipe(
            name,
            self.name(source),
            stream_arn,
            target,
            config,
            full,
            source_parameters=dict(source_parameters),
            enrichment=enrichment,
            enrichment_template=templates.get("enrichment"),
            target_template=templates.get("target"),
            dead_letter=dead_letter,
            streams=self.trigger_streams,
            region=self.region,
            variables=self.function_variables(),
            describe_table=self._description,
            takes_over=earlier
            if earlier is not None and earlier.stream_arn == stream_arn
            else None,
            creation_resolution=1.0 if self.on_aws else 60.0,
        )
        if earlier is not None:
            earlier.close(replaced_by=f"lab.pipe({name!r}, ...) made again")
            self.pipes.remove(earlier)
        self.pipes.append(pipe)
        return pipe

    def _mapping_of(self, function_name: str, stream_arn: str) -> Trigger | None:
        """The open trigger of this function on this stream, if there is one (at most one)."""
        for trigger in self.triggers:
            if not trigger.closed and (trigger.function_name, trigger.stream_arn) == (
                function_name,
                stream_arn,
            ):
                return trigger
        return None

    def _description(self, table_name: str) -> dict[str, Any]:
        """DescribeTable's ``Table`` for a lab table (a trigger's deployment template uses it)."""
        table: dict[str, Any] = self.dynamodb.describe_table(TableName=self.name(table_name))[
            "Table"
        ]
        return table

    def _exists(self, table_name: str) -> bool:
        try:
            self.dynamodb.describe_table(TableName=self.name(table_name))
        except ClientError as exc:
            if exc.response["Error"]["Code"] == "ResourceNotFoundException":
                return False
            raise self._translate(exc, f"describing table {table_name!r}") from exc
        return True

    def _keys(self, table_name: str) -> list[tuple[str, str]]:
        """The table's key attributes (hash key first) with their types, ``("pk", "S")``."""
        desc = self._description(table_name)
        types = {d["AttributeName"]: d["AttributeType"] for d in desc["AttributeDefinitions"]}
        return [(k["AttributeName"], types.get(k["AttributeName"], "?")) for k in desc["KeySchema"]]

    def _destination(self, name: str, source: str) -> Any:
        """The on-failure destination table, checked now rather than when a batch is discarded
        mid-run: not the source itself, existing, keyed by strings."""
        example = "lab.create_table('failures', stream=None)"
        if self.name(name) == self.name(source):
            raise TriggerError(
                f"destination_config sends failure documents to {name!r}, the very table this "
                "trigger reads: each document stored there is a new stream record for the same "
                "function, whose failure stores another document, and so on without end.",
                f"give the failure documents a table of their own: {example}, then "
                "destination_config={'OnFailure': {'Destination': 'failures'}}.",
            )
        if not self._exists(name):
            raise TriggerError(
                f"The on-failure destination table {name!r} does not exist.",
                f"create it first: lab.create_table({name!r}, stream=None).",
            )
        wrong = [(k, t) for k, t in self._keys(name) if t != "S"]
        if wrong:
            shown = ", ".join(f"{k!r} of type {t}" for k, t in wrong)
            raise TriggerError(
                f"The on-failure destination {name!r} has the key {shown}, but a failure "
                "document is stored under text keys (shard, sequence number and request id; "
                "the time for a sort key), so storing the first one would fail mid-run.",
                f"use a table with string keys as the destination, such as {example} (its "
                "key 'pk' is a string).",
            )
        return self.table(name)

    def _check_checkpoint_table(self, name: str) -> None:
        keys = self._keys(name)
        if keys != [("leaseKey", "S")]:
            shown = ", ".join(f"{k!r} ({t})" for k, t in keys)
            raise TableError(
                f"checkpoint_table={name!r} names an existing table keyed by {shown}, but a "
                "trigger keeps its checkpoints under the key 'leaseKey' (a string), so it "
                "could neither read nor write them there.",
                "name a table of its own for the checkpoints (labkit creates it), such as "
                "checkpoint_table='orders_checkpoints'; an existing one works only if a "
                "trigger made it.",
            )

    def _create_checkpoint_table(self, name: str) -> None:
        name = self.name(name)
        try:
            self.dynamodb.create_table(
                TableName=name,
                KeySchema=[{"AttributeName": "leaseKey", "KeyType": "HASH"}],
                AttributeDefinitions=[{"AttributeName": "leaseKey", "AttributeType": "S"}],
                BillingMode="PAY_PER_REQUEST",
            )
        except ClientError as exc:
            if exc.response["Error"]["Code"] != "ResourceInUseException":
                raise self._translate(exc, f"creating checkpoint table {name!r}") from exc
        else:
            self.created_tables.append(name)
        self._wait_active(name, with_stream=False)

    # -- errors ---------------------------------------------------------------------------
    def _translate(self, exc: ClientError, doing: str) -> LabError:
        err = exc.response["Error"]
        return TableError(
            f"DynamoDB refused {doing}: {err.get('Code')}: {err.get('Message')}",
            "read the message above; `python -m labkit doctor` checks the endpoint.",
            cause=exc,
        )


def _on(connection: Connection) -> Lab:
    return Lab(
        connection.endpoint_url,
        connection.server,
        on_aws=connection.on_aws,
        session=connection.session,
    )


def _external(url: str) -> Lab:
    """A lab on a DynamoDB the learner runs (``$LABKIT_ENDPOINT_URL``)."""
    return _on(connect_external(url))


def _aws() -> Lab:
    """A lab on the learner's real AWS account (opt-in: LABKIT_USE_AWS=1)."""
    return _on(connect_aws())


def _as_sent(value: Any) -> Any:
    return value


def _epoch_parser_factory() -> Any:
    """botocore's response parsers, with timestamps left as sent (``set_parser_defaults`` of
    ``botocore.parsers.ResponseParserFactory``; the JSON protocol's ``_handle_timestamp`` calls
    the parser with the number in the response)."""
    from botocore.parsers import ResponseParserFactory

    factory = ResponseParserFactory()
    factory.set_parser_defaults(timestamp_parser=_as_sent)
    return factory


def _launch(port: int | None) -> Lab:
    """A lab on a DynamoDB Local of its own, stopped when the process ends."""
    server = launch(port)
    lab = Lab(server.endpoint_url, server)
    atexit.register(lab.close)  # triggers' pollers first, then DynamoDB Local
    try:
        ping(Connection(server.endpoint_url, server, lab.session))
    except LabError:
        lab.close()
        raise
    return lab


def running_lab() -> Lab | None:
    """The lab ``start()`` would return now without starting anything, or None."""
    with _lock:
        return _current if _current is not None and _current.state == "running" else None


def start(port: int | None = None) -> Lab:
    """Start (or return the running) lab.

    Uses ``$LABKIT_ENDPOINT_URL`` if set; else real AWS if ``$LABKIT_USE_AWS=1`` (your own
    credentials and region; tables named ``labkit-<name>`` and tagged); otherwise launches
    DynamoDB Local in memory on ``port`` (or ``$LABKIT_PORT``, or a free port) on 127.0.0.1.
    A second call in the same process returns the running lab; asking it for another port is
    an error. A lab whose DynamoDB Local stopped (killed or frozen: ``repr(lab)`` says so) is
    closed and a fresh one started, with no tables.

    Unless it is on AWS, the lab also takes over the process's default AWS SDK settings until
    ``lab.close()``: ``boto3.client("dynamodb")``, ``boto3.resource("dynamodb")`` and
    ``boto3.client("dynamodbstreams")`` made with defaults (in a handler, at module level, in a
    cell) reach the lab with its credentials and region, and a request bound anywhere but this
    machine raises ``AWSRequestRefusedError`` unsent (see ``backend/_sdk.py``).

    Introduced in notebooks/00-setup-check.ipynb.
    """
    global _current
    if port is not None:
        check_port(port, "port")
    with _lock:
        stale = _current
    if stale is not None and (why := stale.stopped_because) is not None:
        stale.close()  # its triggers, the SDK redirect, what is left of the server
        print(
            f"labkit: the lab's DynamoDB Local had stopped ({why}); starting a fresh one. "
            "Its tables are new and empty: re-run the lesson from the top.",
            file=sys.stderr,
        )
    with _lock:
        if _current is not None and not _current.closed:
            running = _current.server.port if _current.server is not None else None
            if port is not None and port != running:
                raise BackendError(
                    f"A lab is already running in this process ({_current.backend} at "
                    f"{_current.endpoint_url}), so it cannot start again on port {port}.",
                    "use the running lab (lk.start() without a port returns it), or close it "
                    "first with lab.close().",
                )
            return _current
        if url := os.environ.get("LABKIT_ENDPOINT_URL"):
            lab = _external(url)
        elif opted_into_aws():
            lab = _aws()
        else:
            lab = _launch(port if port is not None else env_port())
        if not lab.on_aws and lab.endpoint_url:
            # One lab per process, so one redirect: it lasts until this lab closes.
            lab.sdk = redirect(lab.endpoint_url, lab.region, CREDENTIALS, watch=lab.watch)
        _current = lab
        return _current

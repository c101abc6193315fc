"""The Lab's Kinesis room (lesson 15): the local Kinesis, its streams, the tables' Kinesis
streaming destinations and the triggers that read Kinesis. ``Lab`` takes these methods from
:class:`KinesisRoom`; they use the Lab's session, region, clients and trigger list.

The local Kinesis is moto's server mode (``backend/_kinesis.py``), started on first use, never by
``lk.start()``; a table's changes are forwarded to it by ``_kds.py``, because DynamoDB Local has
no ``EnableKinesisStreamingDestination``.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError

from ._errors import (
    BackendError,
    BackendStoppedError,
    StreamNotEnabledError,
    TableExistsError,
    TriggerError,
)
from ._names import check_table_name
from .backend._health import NETWORK_ERRORS, client_config
from .backend._kinesis import KinesisServer
from .backend._sdk import SdkRedirect, redirect_service
from .esm._capture import say
from .esm._function import Function, mapping_function_name
from .esm._kinesis import KinesisTrigger, is_kinesis_arn
from .esm._options import TriggerConfig
from .esm._trigger import Trigger

if TYPE_CHECKING:
    from ._kds import KinesisDestination

__all__ = ["KinesisRoom"]


class KinesisRoom:
    """Lesson 15's methods of the Lab (see the module's docstring)."""

    # Set by Lab.__init__; declared here for readers and type checkers.
    kinesis_server: KinesisServer | None
    kinesis_streams: list[str]
    kinesis_destinations: list[KinesisDestination]
    _kinesis: Any
    _kinesis_sdk: SdkRedirect | None

    @property
    def kinesis(self) -> Any:
        """A boto3 Kinesis client on the lab's local Kinesis, which starts on first use (moto's
        server mode on a loopback port, stopped by ``lab.close()``; ``backend/_kinesis.py``). A
        GetRecords through it first forwards the pending changes of the lab's tables that have a
        Kinesis streaming destination, as on AWS they would already be in the stream.

        Introduced in notebooks/15-kinesis-data-streams.ipynb.
        """
        self._check_open()
        if self._kinesis is not None:
            self._check_kinesis_server()
        if self._kinesis is None:
            if self.on_aws:
                raise BackendError(
                    "The Kinesis lessons run on the local lab only: labkit forwards a table's "
                    "changes itself, which on AWS DynamoDB does (and would do twice).",
                    "run lesson 15 without LABKIT_USE_AWS; on AWS use "
                    "dynamodb.enable_kinesis_streaming_destination yourself.",
                )
            server = KinesisServer()
            server.start()
            self.kinesis_server = server
            if self.sdk is not None and self.sdk.active:
                if self._kinesis_sdk is not None:
                    self._kinesis_sdk.restore()
                self._kinesis_sdk = redirect_service(
                    "AWS_ENDPOINT_URL_KINESIS", server.endpoint_url, self.region
                )
            client = self.session.client(
                "kinesis", endpoint_url=server.endpoint_url, config=client_config()
            )
            client.meta.events.register(
                "before-call.kinesis.GetRecords", lambda **_: self._feed(None)
            )
            # a server that died is told as a labkit error, before each attempt of a call
            client.meta.events.register("before-send.kinesis", self._check_kinesis_server)
            client.meta.events.register("after-call-error.kinesis", self._kinesis_call_failed)
            self._kinesis = client
        return self._kinesis

    def _kinesis_call_failed(self, exception: BaseException, **_: Any) -> None:
        """A Kinesis call failed for good: if it was a network error, wait a moment for the
        guard to see its server gone (as ``_health`` does) and say so as a labkit error."""
        if not isinstance(exception, NETWORK_ERRORS) or self.kinesis_server is None:
            return
        deadline = time.monotonic() + 1.0
        while self.kinesis_server.failure() is None and time.monotonic() < deadline:
            time.sleep(0.05)
        self._check_kinesis_server()

    def _check_kinesis_server(self, **_: Any) -> None:
        """Raise BackendStoppedError if the local Kinesis this lab started has stopped, and
        forget it and what was made on it, so that the next use starts a fresh one."""
        server = self.kinesis_server
        if server is None or (why := server.failure()) is None:
            return
        server.stop()
        self.kinesis_server, self._kinesis = None, None
        self.kinesis_streams.clear()
        self.kinesis_destinations.clear()
        for trigger in [t for t in self.triggers if isinstance(t, KinesisTrigger)]:
            trigger.close()
            self.triggers.remove(trigger)
        raise BackendStoppedError(
            f"The lab's local Kinesis stopped: {why}. It kept its streams in memory, so they "
            "are gone, with their records; the Kinesis triggers are closed.",
            "re-run the lesson from the top: lab.kinesis_stream(...) starts a fresh local Kinesis.",
            reason=why,
        )

    def kinesis_stream(
        self, name: str, shard_count: int = 1, retention_period_hours: int = 24
    ) -> str:
        """Create a Kinesis data stream (provisioned, ``shard_count`` shards, data kept
        ``retention_period_hours``: 24, the default, to 8,760, as on AWS), wait until it is
        ACTIVE, and return its ARN. ``lab.reset()`` deletes it.

        Introduced in notebooks/15-kinesis-data-streams.ipynb.
        """
        self._check_open()
        if not isinstance(name, str) or not re.fullmatch(r"[a-zA-Z0-9_.-]{1,128}", name):
            raise StreamNotEnabledError(
                f"{str(name)[:80]!r} is not a Kinesis stream name: 1 to 128 characters of "
                "a-z, A-Z, 0-9, '_', '.' and '-'.",
                "choose a name such as 'orders-changes'.",
            )
        for what, value, low, high in (
            ("shard_count", shard_count, 1, 16),
            ("retention_period_hours", retention_period_hours, 24, 8760),
        ):
            if not isinstance(value, int) or isinstance(value, bool) or not low <= value <= high:
                raise StreamNotEnabledError(
                    f"{what}={value!r} is out of range: from {low} to {high}"
                    + (" (24 hours to 365 days, as on AWS)." if high == 8760 else " in the lab."),
                    f"pass a whole number {what}= from {low} to {high}.",
                )
        try:
            self.kinesis.create_stream(StreamName=name, ShardCount=shard_count)
        except ClientError as exc:
            if exc.response["Error"]["Code"] == "ResourceInUseException":
                raise TableExistsError(
                    f"A Kinesis stream named {name!r} already exists in the lab.",
                    "pick another name, or run lab.reset() to delete the streams this lab made.",
                    cause=exc,
                ) from exc
            raise
        summary = self.kinesis.describe_stream_summary(StreamName=name)
        arn = str(summary["StreamDescriptionSummary"]["StreamARN"])
        self.kinesis_streams.append(arn)
        self.kinesis.get_waiter("stream_exists").wait(
            StreamName=name, WaiterConfig={"Delay": 0.05, "MaxAttempts": 200}
        )
        if retention_period_hours > 24:
            self.kinesis.increase_stream_retention_period(
                StreamARN=arn, RetentionPeriodHours=retention_period_hours
            )
        return arn

    def enable_kinesis_streaming_destination(
        self,
        table_name: str,
        stream_arn: str,
        approximate_creation_date_time_precision: str = "MICROSECOND",
    ) -> Any:
        """Send every later change of ``table_name`` to the Kinesis stream ``stream_arn``, as
        DynamoDB's ``EnableKinesisStreamingDestination`` does (with
        ``EnableKinesisStreamingConfiguration={"ApproximateCreationDateTimePrecision": ...}``,
        ``MICROSECOND`` by default, or ``MILLISECOND``). Returns the destination
        (``_kds.KinesisDestination``): ``forward()``, ``describe()``, ``disable()``.

        DynamoDB Local does not implement the operation, so labkit forwards the changes itself,
        from the table's stream, which must be ``NEW_AND_OLD_IMAGES`` (see ``_kds.py``).

        Introduced in notebooks/15-kinesis-data-streams.ipynb.
        """
        from ._kds import PRECISIONS, KinesisDestination

        precision = approximate_creation_date_time_precision
        if precision not in PRECISIONS:
            raise TriggerError(
                f"approximate_creation_date_time_precision={precision!r} is not a precision "
                "DynamoDB knows.",
                f"pass one of {', '.join(PRECISIONS)} (MICROSECOND is the default).",
            )
        arn = self._check_kinesis_arn(stream_arn)
        table = self.name(check_table_name(table_name))
        table_stream = self.stream_arn(table)
        view = self._description(table)["StreamSpecification"].get("StreamViewType")
        if view != "NEW_AND_OLD_IMAGES":
            raise StreamNotEnabledError(
                f"Table {table!r} has a {view} stream; labkit forwards a table's changes to "
                "Kinesis from its DynamoDB stream, and a Kinesis record carries both images.",
                f"create the table with lab.create_table({table!r}, "
                "stream='NEW_AND_OLD_IMAGES') (the default).",
            )
        for earlier in self.kinesis_destinations:
            if earlier.table_name == table and earlier.status == "ACTIVE":
                raise TriggerError(
                    f"Table {table!r} already streams to {earlier.stream_arn}.",
                    "use that destination, or call its disable() first.",
                )
        destination = KinesisDestination.enable(
            self.streams, self.kinesis, table, table_stream, arn, precision, self.region
        )
        self.kinesis_destinations.append(destination)
        return destination

    def _check_kinesis_arn(self, stream_arn: object) -> str:
        if not is_kinesis_arn(stream_arn):
            raise StreamNotEnabledError(
                f"{str(stream_arn)[:80]!r} is not a Kinesis stream ARN.",
                "pass what lab.kinesis_stream('name') returned.",
            )
        try:
            self.kinesis.describe_stream_summary(StreamARN=stream_arn)
        except ClientError as exc:
            raise StreamNotEnabledError(
                f"There is no Kinesis stream {stream_arn} in the lab.",
                "create it first with lab.kinesis_stream('name').",
                cause=exc,
            ) from exc
        return str(stream_arn)

    def _feed(self, stream_arn: str | None) -> None:
        """Forward the pending changes of the destinations to ``stream_arn`` (None: all)."""
        for destination in list(self.kinesis_destinations):
            if stream_arn is None or destination.stream_arn == stream_arn:
                destination.forward()

    def _kinesis_trigger(
        self,
        stream_arn: str,
        handler: Function | Callable[[dict[str, Any], Any], Any],
        config: TriggerConfig,
        function_name: str | None,
    ) -> Trigger:
        arn = self._check_kinesis_arn(stream_arn)
        name = mapping_function_name(handler, function_name)
        earlier = self._mapping_of(name, arn)
        if earlier is not None:
            earlier.stop()
        trigger = KinesisTrigger(
            arn.rpartition("/")[2],
            arn,
            handler,
            config,
            streams=self.kinesis,
            region=self.region,
            function_name=function_name,
            variables=self.function_variables(),
            takes_over=earlier,
            creation_resolution=0.001,  # approximateArrivalTimestamp: milliseconds
        )
        trigger.feed = lambda: self._feed(arn)
        if earlier is not None:
            earlier.close(replaced_by=f"lab.trigger({arn!r}, ...) made again for {name!r}")
            self.triggers.remove(earlier)
            say(f"this trigger of {name!r} replaces the earlier one on the same Kinesis stream.")
        self.triggers.append(trigger)
        return trigger

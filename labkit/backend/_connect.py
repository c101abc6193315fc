"""Where the lab's DynamoDB is: a DynamoDB Local labkit launches, an endpoint the learner names,
or (only on explicit opt-in) real AWS.

``connect(port)`` resolves it in that order of precedence: ``$LABKIT_ENDPOINT_URL`` when set (a
DynamoDB Local in docker, say); else real AWS if ``$LABKIT_USE_AWS=1``; else a DynamoDB Local
started in memory on a free loopback port (or ``port``, or ``$LABKIT_PORT``). It returns a
``Connection``: the endpoint, the server labkit started (if any) and the boto3 session to use.
A local or external connection uses an *isolated* session that reads none of the learner's AWS
configuration, so nothing the lab does can reach their AWS account.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlparse

import boto3
import botocore.session
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from .._errors import BackendError, EndpointUnreachableError, LabError, PortInUseError
from ._archive import find_class_data_archive
from ._install import find_dynamodb_local, install_dynamodb_local
from ._java import find_java
from ._server import LocalServer, check_port, free_port

__all__ = [
    "CREDENTIALS",
    "REGION",
    "Connection",
    "connect",
    "connect_aws",
    "connect_external",
    "env_db_path",
    "env_java_heap",
    "env_port",
    "isolated_session",
    "launch",
    "opted_into_aws",
    "ping",
]

# DynamoDB Local rejects access keys containing "_" or "-". Fixed values, so that any client using
# them (a terminal, another notebook) sees the same tables even on a server without -sharedDb.
CREDENTIALS = {"aws_access_key_id": "labkit", "aws_secret_access_key": "labkit"}
REGION = "us-east-1"


@dataclass(frozen=True)
class Connection:
    """An endpoint to talk to, the server behind it if labkit started one, and the session."""

    endpoint_url: str | None  # None: AWS's own endpoints (opt-in only)
    server: LocalServer | None
    session: boto3.Session
    on_aws: bool = False


def isolated_session() -> boto3.Session:
    """A boto3 session that reads none of the learner's AWS configuration or environment."""
    ignore = (None, None, None, None)
    core = botocore.session.Session(
        session_vars={
            "profile": ignore,
            "config_file": (None, None, os.devnull, None),
            "credentials_file": (None, None, os.devnull, None),
            "max_attempts": ignore,
            "retry_mode": (None, None, "standard", None),
            "ignore_configured_endpoint_urls": (None, None, True, None),
        }
    )
    return boto3.Session(botocore_session=core, region_name=REGION, **CREDENTIALS)


def ping(connection: Connection) -> None:
    """One quick ListTables: a few seconds at most, whatever the endpoint does."""
    quick = Config(connect_timeout=2, read_timeout=3, retries={"max_attempts": 1})
    client = connection.session.client(
        "dynamodb", endpoint_url=connection.endpoint_url, config=quick
    )
    try:
        client.list_tables(Limit=1)
    except (BotoCoreError, ClientError) as exc:
        url = connection.endpoint_url
        where = (
            f"LABKIT_ENDPOINT_URL={url}" if connection.server is None and url else (url or "AWS")
        )
        raise EndpointUnreachableError(
            f"No DynamoDB answered at {where} ({exc}).",
            "start your DynamoDB Local there (for docker: `docker run -p 8000:8000 "
            "amazon/dynamodb-local`), correct LABKIT_ENDPOINT_URL (like http://127.0.0.1:8000), "
            "or unset it to let labkit start DynamoDB Local itself.",
            cause=exc,
        ) from exc


def connect_external(url: str) -> Connection:
    """A DynamoDB the learner runs themselves (``$LABKIT_ENDPOINT_URL``), never AWS's."""
    url = url.strip()
    try:
        parsed = urlparse(url)
        port = parsed.port  # raises ValueError for a port that is not a number or too large
    except ValueError:
        parsed, port = None, None
    if parsed is None or parsed.scheme not in ("http", "https") or not parsed.hostname:
        raise EndpointUnreachableError(
            f"LABKIT_ENDPOINT_URL={url!r} is not an http(s) URL with a valid port.",
            "set it like http://127.0.0.1:8000, or unset it.",
        )
    del port
    if parsed.hostname.endswith(".amazonaws.com"):
        raise BackendError(
            f"LABKIT_ENDPOINT_URL={url!r} points at real AWS. labkit uses real AWS only when you "
            "ask for it, and then with your own credentials and prefixed, tagged tables.",
            "unset LABKIT_ENDPOINT_URL to use DynamoDB Local, or unset it and set "
            "LABKIT_USE_AWS=1 to use your AWS account.",
        )
    connection = Connection(url.rstrip("/"), None, isolated_session())
    ping(connection)
    return connection


def connect_aws() -> Connection:
    """The learner's real AWS account (opt-in: LABKIT_USE_AWS=1)."""
    session = boto3.Session()
    if not session.region_name:
        raise BackendError(
            "LABKIT_USE_AWS=1 asks for real AWS, but no AWS region is configured.",
            "set AWS_REGION (for example `export AWS_REGION=eu-west-1`) or a region in your "
            "AWS profile.",
        )
    if session.get_credentials() is None:
        raise BackendError(
            "LABKIT_USE_AWS=1 asks for real AWS, but no AWS credentials were found.",
            "configure credentials (`aws configure` or AWS_PROFILE), or unset LABKIT_USE_AWS to "
            "use DynamoDB Local.",
        )
    connection = Connection(None, None, session, on_aws=True)
    ping(connection)
    return connection


# The values of LABKIT_USE_AWS (compared stripped, in lower case): anything else is refused, so a
# learner who wrote LABKIT_USE_AWS=on is told, not left on DynamoDB Local without a word.
AWS_ON = ("1", "true", "yes")
AWS_OFF = ("", "0", "false", "no")


def opted_into_aws() -> bool:
    """Whether ``$LABKIT_USE_AWS`` asks for real AWS; a BackendError for a value it does not
    know."""
    value = os.environ.get("LABKIT_USE_AWS", "")
    if value.strip().lower() in AWS_ON:
        return True
    if value.strip().lower() in AWS_OFF:
        return False
    raise BackendError(
        f"LABKIT_USE_AWS={value!r} is not a value labkit knows, so it cannot tell whether you "
        f"want real AWS: it accepts {', '.join(AWS_ON)} (real AWS) and {', '.join(AWS_OFF[1:])} "
        "or unset (DynamoDB Local).",
        "set LABKIT_USE_AWS=1 to use your AWS account, or unset it to stay on DynamoDB Local.",
    )


def env_db_path() -> Path | None:
    """``$LABKIT_DB_PATH``: a folder where DynamoDB Local keeps its tables (``-dbPath``), so that
    they outlive the kernel (a ``checkpoint_table`` then resumes in a new process); None when
    unset (in memory). Created if missing; a BackendError if it cannot be a folder."""
    value = os.environ.get("LABKIT_DB_PATH", "").strip()
    if not value:
        return None
    folder = Path(value).expanduser().resolve()
    try:
        folder.mkdir(parents=True, exist_ok=True)
        probe = folder / ".labkit-write-test"
        probe.write_bytes(b"")
        probe.unlink()
    except OSError as exc:
        raise BackendError(
            f"LABKIT_DB_PATH={value!r} cannot hold DynamoDB Local's tables: {exc}.",
            "point it at a folder you can write to, or unset it to keep the tables in memory.",
        ) from exc
    return folder


def env_java_heap() -> tuple[str, ...]:
    """``$LABKIT_JAVA_HEAP`` (``256m``, ``1g``) as Java's ``-Xmx`` option; no option when unset.

    Unset, Java sizes its heap itself: a quarter of the machine's memory, or of the memory
    cgroup's limit when it runs in one (JDK 17 reads cgroup v1 and v2 limits). A workshop
    (``labkit/workshop``) sets it so that each learner's DynamoDB Local fits the learner's memory
    cap with room for the kernels. A BackendError if it is not a size Java accepts."""
    value = os.environ.get("LABKIT_JAVA_HEAP", "").strip()
    if not value:
        return ()
    if not re.fullmatch(r"[1-9][0-9]*[kKmMgG]?", value):
        raise BackendError(
            f"LABKIT_JAVA_HEAP={value!r} is not a heap size Java accepts.",
            "write a number with k, m or g after it (e.g. LABKIT_JAVA_HEAP=256m), or unset it.",
        )
    return (f"-Xmx{value}",)


def launch(port: int | None) -> LocalServer:
    """Start DynamoDB Local (installing it first if needed) on ``port`` or a free port, in
    memory, or on disk in ``$LABKIT_DB_PATH``; its heap capped by ``$LABKIT_JAVA_HEAP``."""
    db_path = env_db_path()
    heap = env_java_heap()
    java = find_java()
    try:
        jar = find_dynamodb_local()
    except LabError:
        jar = install_dynamodb_local()
    archive = find_class_data_archive(java, jar)
    for attempt in range(3):
        server = LocalServer(jar, java, port if port is not None else free_port())
        server.class_data = archive
        server.db_path = db_path
        server.extra_jvm = heap
        try:
            server.start()
            return server
        except PortInUseError:
            if port is not None or attempt == 2:
                raise  # the learner's own port, or three races lost in a row
    raise AssertionError("unreachable")  # pragma: no cover


def env_port() -> int | None:
    """``$LABKIT_PORT`` as a port number, None when unset, BackendError when it is not a port
    DynamoDB Local can use."""
    value = os.environ.get("LABKIT_PORT")
    if not value:
        return None
    return check_port(value, "LABKIT_PORT", text=True)


def connect(port: int | None = None) -> Connection:
    """Resolve the backend as the module docstring says, and check that it answers."""
    if url := os.environ.get("LABKIT_ENDPOINT_URL"):
        return connect_external(url)
    if opted_into_aws():
        return connect_aws()
    server = launch(port if port is not None else env_port())
    connection = Connection(server.endpoint_url, server, isolated_session())
    try:
        ping(connection)
    except LabError:
        server.stop()
        raise
    return connection

"""Is the lab's DynamoDB Local still there? A server that was killed or froze, reported as a
labkit error within seconds, instead of botocore's bare connection error or a two-minute hang.

A ``ServerWatch`` watches one ``LocalServer`` for every client that talks to it (read in
botocore 1.44's installed source):

* **Before each attempt** of a request (the ``before-send.<service>.<operation>`` event, which
  ``Endpoint._do_get_response`` in ``botocore/endpoint.py`` emits before every attempt, retries
  included) it asks ``LocalServer.failure()``: a ``waitpid`` on the guard and, on Linux, a read
  of ``/proc/<java pid>/stat`` (a few microseconds in all, against 2 ms for a call). A server
  killed or suspended before the call is reported at once, and no retry goes to a server seen
  suspended since the last attempt. What a handler raises there is returned to the retry loop
  (``_do_get_response`` returns any exception), which retries only connection errors and
  transient codes (``TransientRetryableChecker`` in ``botocore/retries/standard.py``,
  ``_catch_general_errors`` in ``botocore/retryhandler.py``), so ``_send_request`` raises it at
  once.
* **After a call failed** for good (the ``after-call-error.<service>.<operation>`` event, which
  ``BaseClient._make_request`` in ``botocore/client.py`` emits with the exception just before
  re-raising it: what a handler raises replaces it) it turns botocore's network errors
  (``EndpointConnectionError``, ``ReadTimeoutError``, ``ConnectionClosedError``...: the
  ``ConnectionError`` and ``HTTPClientError`` families of ``botocore/exceptions.py``, which
  ``URLLib3Session.send`` in ``botocore/httpsession.py`` raises) into ``BackendStoppedError``
  after looking at the server's processes; a server whose Java runs but which answers not even
  a plain HTTP request (``answers()``) is declared hung.
* **Timeouts.** DynamoDB Local on loopback answers in milliseconds, so a lab's clients
  (``client_config()``) wait ``READ_TIMEOUT_S`` for an answer and make ``ATTEMPTS`` attempts (the
  lab's earlier settings, 30 s x 3, and botocore's defaults, 60 s x 3 or more, hung for minutes).
  A server frozen in the middle of a call is reported after one read timeout (the check above
  stops the retry); one that hangs while its process runs, after about
  ``ATTEMPTS x READ_TIMEOUT_S + PROBE_TIMEOUT_S`` seconds (12 s), within the lab's promise of 15.

The learner's own default clients, sent to the lab by ``_sdk.py``, get the same: its request
guard calls ``check()`` before each attempt and ``translate()`` after a failed call, and
``cap_read_timeout()`` gives them the lab's read timeout through botocore's per-request override
(``request_dict["context"]["read_timeout"]``, read by ``URLLib3Session._get_request_timeout``).

Once the server is seen gone, the watch records why (``LocalServer.lost``) and stops what is left
(the guard wakes a suspended Java to end it), so ``lk.start()`` starts a fresh one.
"""

from __future__ import annotations

import http.client
import threading
import time
from typing import Any

from botocore.config import Config
from botocore.exceptions import ConnectionError as BotoConnectionError
from botocore.exceptions import HTTPClientError

from .._errors import BackendError, BackendStoppedError, LabError
from ._server import LOOPBACK, LocalServer

__all__ = [
    "ATTEMPTS",
    "CONNECT_TIMEOUT_S",
    "NETWORK_ERRORS",
    "READ_TIMEOUT_S",
    "ServerWatch",
    "client_config",
]

CONNECT_TIMEOUT_S = 2
READ_TIMEOUT_S = 5
ATTEMPTS = 2  # one retry: enough for a pooled connection the server had closed
PROBE_TIMEOUT_S = 2
# A guard sees its Java end within milliseconds; a refused connection waits this long for it.
_GUARD_NOTICES_S = 1.0
NETWORK_ERRORS = (BotoConnectionError, HTTPClientError)


def client_config(max_pool_connections: int = 20) -> Config:
    """The botocore settings of a lab's clients on the DynamoDB Local that labkit started."""
    return Config(
        connect_timeout=CONNECT_TIMEOUT_S,
        read_timeout=READ_TIMEOUT_S,
        retries={"max_attempts": ATTEMPTS, "mode": "standard"},
        max_pool_connections=max_pool_connections,
    )


def answers(port: int, timeout: float = PROBE_TIMEOUT_S) -> bool:
    """Whether an HTTP server on 127.0.0.1:``port`` answers a plain GET within ``timeout``."""
    connection = http.client.HTTPConnection(LOOPBACK, port, timeout=timeout)
    try:
        connection.request("GET", "/")
        connection.getresponse().read()
    except (OSError, http.client.HTTPException):
        return False
    finally:
        connection.close()
    return True


class ServerWatch:
    """Reports a lab's DynamoDB Local as stopped, as soon as a request can tell."""

    def __init__(self, server: LocalServer) -> None:
        self.server = server
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return f"<ServerWatch {self.server.endpoint_url}: {self.failure() or 'running'}>"

    def failure(self) -> str | None:
        """Why the server is gone, or None while it runs (see ``LocalServer.failure``)."""
        return self.server.failure()

    def attach(self, client: Any) -> Any:
        """Have ``client`` (a botocore client of this server) checked and its errors turned into
        labkit's; returns it."""
        events = client.meta.events
        events.register("before-send", self._before_send, unique_id=f"labkit-watch-{id(self)}")
        events.register(
            "after-call-error", self._after_call_error, unique_id=f"labkit-watch-{id(self)}"
        )
        return client

    def check(self) -> None:
        """Raise BackendStoppedError if the server is gone (or suspended) now."""
        if (why := self.failure()) is not None:
            raise self.stopped(why)

    def translate(self, error: BaseException, operation: str = "") -> LabError | None:
        """The labkit error for a call to this server that failed with ``error``, or None when
        ``error`` is no network error (or already labkit's)."""
        if isinstance(error, LabError) or not isinstance(error, NETWORK_ERRORS):
            return None
        why = self.failure()
        if why is None and isinstance(error, BotoConnectionError):
            deadline = time.monotonic() + _GUARD_NOTICES_S
            while why is None and time.monotonic() < deadline:
                time.sleep(0.05)
                why = self.failure()
        if why is None:
            if answers(self.server.port):
                call = f"the call {operation}" if operation else "a call"
                return BackendError(
                    f"DynamoDB Local did not answer {call} ({error}), although it still runs "
                    "and answers other requests: the machine may be very busy.",
                    "run the cell again; if it keeps happening, close other programs, and "
                    "check the machine with `python -m labkit doctor`.",
                    cause=error,
                )
            why = (
                f"it gave no answer for {ATTEMPTS * READ_TIMEOUT_S + PROBE_TIMEOUT_S} s "
                "although its Java process runs: it hung"
            )
        return self.stopped(why, cause=error)

    def stopped(self, why: str, *, cause: BaseException | None = None) -> BackendStoppedError:
        """Record that the server is gone, stop what is left of it, and return the error."""
        with self._lock:
            self.server.lost(why)
        return BackendStoppedError(
            f"DynamoDB Local stopped: {why}. It kept the lab's tables in memory, so they are "
            "gone, with their items and streams.",
            "run `lab = lk.start()` to start a fresh DynamoDB Local, then re-run the lesson from "
            "the top (its first cells make the tables again). If it stops again, run "
            "`python -m labkit doctor`.",
            reason=why,
            cause=cause,
        )

    def cap_read_timeout(self, context: object) -> None:
        """Give one request of a client made elsewhere (a learner's default client) at most the
        lab's read timeout, through botocore's per-request override."""
        if not isinstance(context, dict) or context.get("read_timeout") is not None:
            return
        configured = getattr(context.get("client_config"), "read_timeout", None)
        if configured is None or configured > READ_TIMEOUT_S:
            context["read_timeout"] = READ_TIMEOUT_S

    # -- botocore's events -------------------------------------------------------------------
    def _before_send(self, **_: Any) -> None:
        self.check()

    def _after_call_error(self, exception: BaseException, event_name: str = "", **_: Any) -> None:
        if (error := self.translate(exception, event_name.rpartition(".")[2])) is not None:
            raise error from exception

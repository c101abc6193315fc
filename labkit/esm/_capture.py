"""Capturing what a function writes, the way CloudWatch Logs keeps a Lambda function's output.

Invocations may run on several threads at once (``parallelization_factor``, several triggers), so
capture is per thread: while any invocation runs, ``sys.stdout`` and ``sys.stderr`` are routers
that send a thread's writes to that thread's invocation log. A thread the function starts during
the call has no log of its own: its writes go to the one invocation running, if exactly one is
(with several, where they belong cannot be known, and they go where output went before).
An invocation that timed out is closed: what its thread still writes (a call stuck in C code
returning late) is dropped, and the notebook's own output is never taken for its.
The ``logging`` module reaches the log too: while capture is on, the root logger has a handler
that writes records in the Lambda Python runtime's format (``[LEVEL]\\tTIME\\tREQUEST_ID\\tMSG``).
What labkit itself has to tell the learner (``say``) goes past the routers, to the notebook.
"""

from __future__ import annotations

import contextlib
import io
import logging
import sys
import threading
import time
from collections.abc import Iterator
from typing import TextIO

__all__ = ["LogBuffer", "captured_output", "say"]

_local = threading.local()
_lock = threading.Lock()
_active: list[LogBuffer] = []
_saved: tuple[TextIO, TextIO] | None = None


class LogBuffer:
    """The lines one invocation wrote, readable while it still runs (a timed-out call)."""

    def __init__(self, request_id: str = "") -> None:
        self.request_id = request_id
        self._text = io.StringIO()
        self._lock = threading.Lock()
        self.closed = False
        self._init_end = 0  # where the init phase's output ends (a cold start)

    def end_init(self) -> None:
        """Mark the end of the init phase: what was written so far is the module's output."""
        with self._lock:
            self._init_end = self._text.tell()

    def write(self, text: str) -> int:
        with self._lock:
            return len(text) if self.closed else self._text.write(text)

    def close(self) -> None:
        """The invocation is over (it timed out): later writes are dropped, as on Lambda."""
        with self._lock:
            self.closed = True

    def lines(self) -> list[str]:
        with self._lock:
            text = self._text.getvalue()
        return [line for line in text.splitlines() if line.strip()]

    def phases(self) -> tuple[list[str], list[str]]:
        """The lines written during the init phase, and those written after it."""
        with self._lock:
            text, end = self._text.getvalue(), self._init_end
        keep = [line for line in text[:end].splitlines() if line.strip()]
        return keep, [line for line in text[end:].splitlines() if line.strip()]


def _current() -> LogBuffer | None:
    buffer = getattr(_local, "buffer", None)
    if buffer is not None:
        return buffer  # type: ignore[no-any-return]
    active = [buffer for buffer in _active if not buffer.closed]
    return active[0] if len(active) == 1 else None


class _Router(io.TextIOBase):
    def __init__(self, fallback: TextIO) -> None:
        self.fallback = fallback

    def write(self, text: str) -> int:
        buffer = _current()
        if buffer is not None:
            return buffer.write(text)
        return self.fallback.write(text)

    def flush(self) -> None:
        if _current() is None:
            self.fallback.flush()


class _LambdaLogHandler(logging.Handler):
    """The Lambda Python runtime's log format, for records logged inside an invocation."""

    def emit(self, record: logging.LogRecord) -> None:
        buffer = _current()
        if buffer is None:
            return
        when = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created))
        stamp = f"{when}.{int(record.msecs):03d}Z"
        try:
            message = record.getMessage()
        except Exception:  # a malformed log call must not fail the function
            message = str(record.msg)
        buffer.write(f"[{record.levelname}]\t{stamp}\t{buffer.request_id}\t{message}\n")


_handler = _LambdaLogHandler()


@contextlib.contextmanager
def captured_output(buffer: LogBuffer | None = None) -> Iterator[LogBuffer]:
    """Send this thread's stdout, stderr and log records in the block to ``buffer``."""
    global _saved
    buffer = buffer if buffer is not None else LogBuffer()
    with _lock:
        if not _active:
            _saved = (sys.stdout, sys.stderr)
            sys.stdout, sys.stderr = _Router(sys.stdout), _Router(sys.stderr)  # type: ignore
            logging.getLogger().addHandler(_handler)
        _active.append(buffer)
    previous = getattr(_local, "buffer", None)
    _local.buffer = buffer
    try:
        yield buffer
    finally:
        _local.buffer = previous
        with _lock:
            _active.remove(buffer)
            if not _active and _saved is not None:
                sys.stdout, sys.stderr = _saved
                _saved = None
                logging.getLogger().removeHandler(_handler)


def say(text: str) -> None:
    """Tell the learner something (a trigger replaced, a thread still running): one line on the
    notebook's own output, never in the log of an invocation running at that moment."""
    with _lock:
        out = _saved[0] if _saved is not None else sys.stdout
    print(f"labkit: {text}", file=out, flush=True)

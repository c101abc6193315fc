"""Capturing what a handler prints, the way CloudWatch Logs keeps a Lambda function's output.

Invocations may run on several threads at once (``parallelization_factor``), so capture is per
thread: while any invocation runs, ``sys.stdout`` and ``sys.stderr`` are routers that send a
thread's writes to that thread's invocation log, and everything else where it went before.
"""

from __future__ import annotations

import contextlib
import io
import sys
import threading
from collections.abc import Iterator
from typing import TextIO

__all__ = ["captured_output"]

_local = threading.local()
_lock = threading.Lock()
_active = 0
_saved: tuple[TextIO, TextIO] | None = None


class _Router(io.TextIOBase):
    def __init__(self, fallback: TextIO) -> None:
        self.fallback = fallback

    def write(self, text: str) -> int:
        buffer = getattr(_local, "buffer", None)
        if buffer is not None:
            return buffer.write(text)
        return self.fallback.write(text)

    def flush(self) -> None:
        if getattr(_local, "buffer", None) is None:
            self.fallback.flush()


@contextlib.contextmanager
def captured_output() -> Iterator[list[str]]:
    """Collect this thread's stdout and stderr lines in the block into the yielded list."""
    global _active, _saved
    with _lock:
        if _active == 0:
            _saved = (sys.stdout, sys.stderr)
            sys.stdout, sys.stderr = _Router(sys.stdout), _Router(sys.stderr)  # type: ignore
        _active += 1
    lines: list[str] = []
    _local.buffer = io.StringIO()
    try:
        yield lines
    finally:
        text = _local.buffer.getvalue()
        _local.buffer = None
        lines.extend(line for line in text.splitlines() if line.strip())
        with _lock:
            _active -= 1
            if _active == 0 and _saved is not None:
                sys.stdout, sys.stderr = _saved
                _saved = None

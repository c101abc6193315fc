"""Capturing what a handler prints, the way CloudWatch Logs keeps a Lambda function's output."""

from __future__ import annotations

import contextlib
import io
from collections.abc import Iterator

__all__ = ["captured_output"]


@contextlib.contextmanager
def captured_output() -> Iterator[list[str]]:
    """Collect lines written to stdout and stderr in the block into the yielded list."""
    lines: list[str] = []
    buffer = io.StringIO()
    with contextlib.redirect_stdout(buffer), contextlib.redirect_stderr(buffer):
        try:
            yield lines
        finally:
            lines.extend(line for line in buffer.getvalue().splitlines() if line.strip())

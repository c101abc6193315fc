"""The background poller behind ``trigger.start()``: one thread that runs the trigger's passes
until it is told to stop, pausing between empty polls.

Between empty polls it waits a fraction (``IDLE_PAUSE_FRACTION``) of the time since records last
came, at least 1 ms and at most ``idle_sleep`` seconds: records come in bursts, so soon after one
it polls often and a record waits a few ms; after half a second of quiet (with idle_sleep=0.05) it
is at idle_sleep. A failing batch (or a failing poll) is retried after a pause that doubles up to
``idle_sleep``. A poll that raises is kept in ``errors`` (once per distinct message), never
silently dropped, and polling goes on, unless DynamoDB Local stopped (``BackendStoppedError``):
then nothing can be read any more, so the thread records that and ends; or after a
``RecursiveLoopError``: the trigger has stopped a function that feeds its own stream
(``_loops``), and the poller ends.

There is never more than one thread. ``stop()`` asks the pass to end after the batch in flight
(the trigger's run loop looks at ``stopping`` between batches) and waits for the thread, up to
a bound the caller gives; a thread still alive then is kept, not forgotten: ``running`` stays
true, and ``start()`` waits for it before it starts another.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

from .._errors import BackendStoppedError, RecursiveLoopError

__all__ = ["IDLE_PAUSE_FRACTION", "Poller"]

IDLE_PAUSE_FRACTION = 0.1

# One pass: (live=True, blocked lanes to fill in) -> whether anything moved.
PassFn = Callable[[set[tuple[str, int]]], bool]


class Poller:
    """A thread that calls ``run_pass`` until ``stop()``."""

    def __init__(self, run_pass: PassFn, errors: list[str], *, name: str) -> None:
        self._run_pass = run_pass
        self.errors = errors
        self._name = name
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()
        self.pass_began: float | None = None  # time.monotonic() of the pass under way, if any

    @property
    def running(self) -> bool:
        """Whether the thread is alive (also while it finishes a pass after ``stop()``)."""
        return self._thread is not None and self._thread.is_alive()

    @property
    def stopping(self) -> bool:
        """Set by ``stop()``: the pass under way ends after the batch in flight."""
        return self._stop.is_set()

    def start(self, idle_sleep: float, wait: float) -> bool:
        """Start the thread, unless it polls already. A thread still finishing after
        ``stop()`` is waited for (up to ``wait`` seconds) first, so that one thread polls;
        False if it is still alive then (and nothing was started)."""
        if self.running and not self.stopping:
            return True
        if not self.stop(wait):
            return False
        self._stop.clear()
        self._thread = threading.Thread(
            target=self._loop, args=(idle_sleep,), name=self._name, daemon=True
        )
        self._thread.start()
        return True

    def _loop(self, idle_sleep: float) -> None:
        pause = 0.001
        last_moved = time.monotonic()
        while not self._stop.is_set():
            blocked: set[tuple[str, int]] = set()
            failed = False
            self.pass_began = time.monotonic()
            try:
                moved = self._run_pass(blocked)
            except Exception as exc:  # keep polling, but never silently
                moved, failed = False, True
                message = f"{type(exc).__name__}: {exc}"
                if not self.errors or self.errors[-1] != message:
                    self.errors.append(message)
                if isinstance(exc, BackendStoppedError | RecursiveLoopError):
                    self.pass_began = None
                    return  # the server is gone, or the function feeds itself: stop
            finally:
                self.pass_began = None
            now = time.monotonic()
            if blocked or failed:
                pause = min(max(pause * 2, 0.001), idle_sleep)
            elif moved:
                pause, last_moved = 0.0, now
            else:
                quiet = now - last_moved
                pause = min(max(quiet * IDLE_PAUSE_FRACTION, 0.001), idle_sleep)
            if pause:
                self._stop.wait(pause)

    def stop(self, wait: float) -> bool:
        """Ask the thread to stop after the batch in flight and wait for it, up to ``wait``
        seconds. True once no thread runs; False if it is still alive (it is kept: ``running``
        says so, and it ends as soon as its pass does)."""
        self._stop.set()
        thread = self._thread
        if thread is None or thread is threading.current_thread():
            return True
        thread.join(wait)
        if thread.is_alive():
            return False
        self._thread = None
        return True

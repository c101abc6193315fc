"""The background poller behind ``trigger.start()``: one thread that runs the trigger's passes
until it is told to stop, pausing between empty polls.

Between empty polls it waits a fraction (``IDLE_PAUSE_FRACTION``) of the time since records last
came, at least 1 ms and at most ``idle_sleep`` seconds: records come in bursts, so soon after one
it polls often and a record waits a few ms; after half a second of quiet (with idle_sleep=0.05) it
is at idle_sleep. A failing batch (or a failing poll) is retried after a pause that doubles up to
``idle_sleep``. A poll that raises is kept in ``errors`` (once per distinct message), never
silently dropped, and polling goes on, except after a ``RecursiveLoopError``: the trigger has
stopped a function that feeds its own stream (``_loops``), and the poller ends.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

from .._errors import RecursiveLoopError

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

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def start(self, idle_sleep: float) -> None:
        if self.running:
            return
        self._stop.clear()
        self._thread = threading.Thread(
            target=self._loop, args=(idle_sleep,), name=self._name, daemon=True
        )
        self._thread.start()

    def _loop(self, idle_sleep: float) -> None:
        pause = 0.001
        last_moved = time.monotonic()
        while not self._stop.is_set():
            blocked: set[tuple[str, int]] = set()
            failed = False
            try:
                moved = self._run_pass(blocked)
            except Exception as exc:  # keep polling, but never silently
                moved, failed = False, True
                message = f"{type(exc).__name__}: {exc}"
                if not self.errors or self.errors[-1] != message:
                    self.errors.append(message)
                if isinstance(exc, RecursiveLoopError):
                    break  # the trigger stopped a self-feeding function: stop polling too
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

    def stop(self, timeout: float = 10.0) -> None:
        """Ask the thread to stop and wait for it to finish its current pass."""
        thread, self._thread = self._thread, None
        self._stop.set()
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout)

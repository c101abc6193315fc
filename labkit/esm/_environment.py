"""Execution environments: where a function's code is loaded once and then invoked, as on Lambda.

An environment is made on a cold start: the function's variables are set (its own and the ones
Lambda reserves), its module is imported (module-level code runs: clients are created, tables
named from ``os.environ``), and later invocations in it are warm. Each environment has one worker
thread, so one invocation at a time, as Lambda's; concurrent invocations (lanes of a
``parallelization_factor``, fan-out) get environments of their own. When the code changes (the
lab's "deploy": a new file written to the code folder, or a new ``Function``), the next
invocation gets a fresh environment. A call that runs past the timeout ends its environment:
its thread gets an exception as soon as it runs Python code again (a call blocked in C, such as
``time.sleep`` or a socket read, first returns), and meanwhile holds nothing: its variables leave
``os.environ`` and its log takes no more lines at the timeout (``Job.end``).

Environment variables live in the one process (``os.environ``): while an invocation runs, the
function's variables are set there, and invocations of functions whose variables differ take
turns; those of one function (its lanes) run together. The one variable that differs between
environments of one function, ``AWS_LAMBDA_LOG_STREAM_NAME``, does not make them take turns:
while two run at once ``os.environ`` holds the first one's (``context.log_stream_name`` is each
one's own).
"""

from __future__ import annotations

import ctypes
import datetime as dt
import importlib.util
import os
import queue
import sys
import threading
import time
import traceback
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any

from ._capture import LogBuffer, captured_output
from ._function import Function
from ._loops import Write, recording

__all__ = [
    "INIT_LIMIT_S",
    "EnvironmentPool",
    "ExecutionEnvironment",
    "Job",
    "process_mb",
    "reserved_variables",
]

_PYTHON = f"python{sys.version_info.major}.{sys.version_info.minor}"
INIT_LIMIT_S = 10.0  # Lambda's limit for the init phase of an on-demand function


def reserved_variables(function: Function, region: str, log_stream: str) -> dict[str, str]:
    """The variables Lambda sets for every function ("Defined runtime environment variables")."""
    return {
        "_HANDLER": function.handler_name,
        "AWS_EXECUTION_ENV": f"AWS_Lambda_{_PYTHON}",
        "AWS_REGION": region,
        "AWS_DEFAULT_REGION": region,
        "AWS_LAMBDA_FUNCTION_NAME": function.function_name,
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(function.memory_size),
        "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
        "AWS_LAMBDA_INITIALIZATION_TYPE": "on-demand",
        "AWS_LAMBDA_LOG_GROUP_NAME": f"/aws/lambda/{function.function_name}",
        "AWS_LAMBDA_LOG_STREAM_NAME": log_stream,
        "LAMBDA_TASK_ROOT": str(function.code or Path.cwd()),
        "LAMBDA_RUNTIME_DIR": str(Path(sys.executable).resolve().parent),
    }


class _Hold:
    """One invocation's hold on the variables in ``os.environ``; released once."""

    def __init__(self, owner: _Variables) -> None:
        self._owner = owner
        self.held = True

    def release(self) -> None:
        self._owner._release(self)


# Variables each execution environment of one function has its own value of: they do not make
# two environments of the function take turns (lanes run at once, as on Lambda).
_PER_ENVIRONMENT = frozenset({"AWS_LAMBDA_LOG_STREAM_NAME"})


class _Variables:
    """Sets a function's variables in ``os.environ`` while its invocations run."""

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._key: frozenset[tuple[str, str]] | None = None
        self._holders = 0
        self._saved: dict[str, str | None] = {}

    @contextmanager
    def set(self, variables: dict[str, str]) -> Iterator[_Hold]:
        """Hold ``variables`` in ``os.environ`` for the block. A timed-out invocation's hold is
        released by the caller (``_Hold.release``), so a call stuck in C code keeps no other
        function waiting; the block's own end then releases nothing."""
        key = frozenset((k, v) for k, v in variables.items() if k not in _PER_ENVIRONMENT)
        with self._cond:
            while self._holders and self._key != key:
                self._cond.wait()
            if not self._holders:
                self._key = key
                self._saved = {name: os.environ.get(name) for name in variables}
                os.environ.update(variables)
            self._holders += 1
            hold = _Hold(self)
        try:
            yield hold
        finally:
            hold.release()

    def _release(self, hold: _Hold) -> None:
        with self._cond:
            if not hold.held:
                return
            hold.held = False
            self._holders -= 1
            if not self._holders:
                for name, value in self._saved.items():
                    if value is None:
                        os.environ.pop(name, None)
                    else:
                        os.environ[name] = value
                self._key, self._saved = None, {}
                self._cond.notify_all()


VARIABLES = _Variables()


@dataclass
class Job:
    """One invocation handed to an environment's worker thread."""

    event: dict[str, Any]
    context: Any
    buffer: LogBuffer
    check: Callable[[Any], None]  # raises if the response is one Lambda would refuse
    initialised: threading.Event = field(default_factory=threading.Event)
    done: threading.Event = field(default_factory=threading.Event)
    result: Any = None
    error: BaseException | None = None
    init_error: BaseException | None = None
    duration_ms: float | None = None  # the handler's own time, measured in its thread
    hold: _Hold | None = None  # its variables in os.environ, while it runs
    writes: list[Write] = field(default_factory=list)  # what the handler wrote to DynamoDB

    def end(self) -> None:
        """Give up on a call that timed out: its log takes no more lines, and its variables
        leave ``os.environ`` now, whatever its thread is still doing."""
        self.buffer.close()
        if self.hold is not None:
            self.hold.release()


class _TimedOut(BaseException):
    """Raised inside a worker thread whose call ran past the function's timeout."""


class ExecutionEnvironment:
    """One execution environment of a function: its loaded handler and its worker thread."""

    def __init__(self, function: Function, variables: dict[str, str], version: str) -> None:
        self.function = function
        self.version = version
        self.id = uuid.uuid4().hex
        day = dt.datetime.now(dt.UTC).strftime("%Y/%m/%d")
        self.log_stream = f"{day}/[$LATEST]{self.id}"
        self.variables = {**variables, "AWS_LAMBDA_LOG_STREAM_NAME": self.log_stream}
        self.handler: Callable[..., Any] | None = None
        self.module: ModuleType | None = None
        self.init_ms: float | None = None  # the last cold start's init duration, until reported
        self.dead = False
        self.busy_since: float | None = None  # time.monotonic() of the call it runs, if any
        self._jobs: queue.SimpleQueue[Job | None] = queue.SimpleQueue()
        self._thread = threading.Thread(
            target=self._work, name=f"labkit-function-{function.function_name}", daemon=True
        )
        self._thread.start()

    def _load(self) -> Callable[..., Any]:
        """The init phase: import the handler's module (its module-level code runs here)."""
        handler = self.function.handler
        if not isinstance(handler, str):
            return handler
        code = self.function.code
        assert code is not None
        module_name, _, name = handler.rpartition(".")
        path = code.joinpath(*module_name.split("."))
        path = (
            path.with_suffix(".py") if path.with_suffix(".py").is_file() else path / "__init__.py"
        )
        # Sibling modules the code imports are loaded again too: this version of them.
        for loaded, module in list(sys.modules.items()):
            where = getattr(module, "__file__", None) or ""
            if where.startswith(str(code) + os.sep) and loaded != module_name:
                del sys.modules[loaded]
        boto3 = sys.modules.get("boto3")
        if boto3 is not None:  # a new environment is a new process on Lambda: no cached session
            boto3.DEFAULT_SESSION = None
        if str(code) not in sys.path:
            sys.path.insert(0, str(code))  # LAMBDA_TASK_ROOT is on the path, as on Lambda
        spec = importlib.util.spec_from_file_location(module_name, path)
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        earlier = sys.modules.get(module_name)
        sys.modules[module_name] = module
        try:
            spec.loader.exec_module(module)
        finally:
            if earlier is not None:
                sys.modules[module_name] = earlier
            else:
                sys.modules.pop(module_name, None)
        self.module = module
        found = getattr(module, name, None)
        if not callable(found):
            raise AttributeError(f"module '{module_name}' has no attribute '{name}'")
        return found  # type: ignore[no-any-return]

    def _work(self) -> None:
        try:
            while (job := self._jobs.get()) is not None:
                self._run(job)
        except _TimedOut:
            return  # this environment is over: the caller has moved on

    def _run(self, job: Job) -> None:
        try:
            with VARIABLES.set(self.variables) as job.hold, captured_output(job.buffer):
                try:
                    if self.handler is None:
                        began = time.perf_counter()
                        try:
                            self.handler = self._load()
                        finally:
                            self.init_ms = (time.perf_counter() - began) * 1000
                            job.buffer.end_init()
                    job.initialised.set()
                    began = time.perf_counter()
                    try:
                        with recording(job.writes):
                            job.result = self.handler(job.event, job.context)
                        job.check(job.result)
                    finally:
                        job.duration_ms = (time.perf_counter() - began) * 1000
                except _TimedOut:
                    raise
                except BaseException as exc:  # the function's failure is data, as in Lambda
                    if self.handler is None:
                        job.init_error, self.dead = exc, True
                    else:
                        job.error = exc
                    print(traceback.format_exc().rstrip())
        finally:
            job.initialised.set()
            job.done.set()

    def submit(self, job: Job) -> None:
        self._jobs.put(job)

    def abandon(self) -> None:
        """End a timed-out environment: stop its thread at its next Python instruction (a call
        blocked inside C, such as a socket read, stops when that call returns)."""
        self.dead = True
        ident = self._thread.ident
        if ident is not None and self._thread.is_alive():
            ctypes.pythonapi.PyThreadState_SetAsyncExc(
                ctypes.c_ulong(ident), ctypes.py_object(_TimedOut)
            )

    def close(self) -> None:
        self._jobs.put(None)

    @property
    def alive(self) -> bool:
        return self._thread.is_alive()


def process_mb() -> float:
    """The process's resident memory in MB (Linux), or 0 where it cannot be read."""
    try:
        with open("/proc/self/statm") as statm:
            return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20
    except (OSError, ValueError, IndexError):
        return 0.0


class EnvironmentPool:
    """A function's execution environments: an idle one is reused (warm), else one is made."""

    def __init__(
        self, function: Function, region: str, variables: dict[str, str] | None = None
    ) -> None:
        self.function = function
        self.region = region
        self.variables = dict(variables or {})  # the lab's own (credentials, endpoints)
        self._idle: list[ExecutionEnvironment] = []
        self._all: list[ExecutionEnvironment] = []
        self._lock = threading.Lock()
        self.cold_starts = 0
        self.baseline_mb = process_mb()  # "Max Memory Used" counts from here

    def acquire(self) -> ExecutionEnvironment:
        version = self.function.code_version()
        with self._lock:
            while self._idle:
                env = self._idle.pop()
                if env.version == version and not env.dead:
                    env.busy_since = time.monotonic()
                    return env
                env.close()
            self.cold_starts += 1
            variables = {**self.variables, **self.function.environment}
            variables.update(reserved_variables(self.function, self.region, ""))
            env = ExecutionEnvironment(self.function, variables, version)
            env.busy_since = time.monotonic()
            self._all.append(env)
            return env

    def release(self, env: ExecutionEnvironment) -> None:
        with self._lock:
            env.busy_since = None
            if env.dead:
                env.close()
            else:
                self._idle.append(env)

    def in_flight(self) -> list[float]:
        """When each invocation running now began (``time.monotonic()``), oldest first."""
        with self._lock:
            return sorted(e.busy_since for e in self._all if e.busy_since is not None)

    def close(self, timeout: float = 1.0) -> list[str]:
        """Close every environment; the names of worker threads still running after
        ``timeout`` (a timed-out call stuck in C code)."""
        with self._lock:
            envs, self._idle, self._all = list(self._all), [], []
        for env in envs:
            env.close()
        deadline = time.monotonic() + timeout
        for env in envs:
            env._thread.join(max(0.0, deadline - time.monotonic()))
        return [env._thread.name for env in envs if env.alive]

"""A function, as Lambda has one: code and handler, environment, timeout, memory size, name.

AWS keeps the function apart from its event source mapping; so does labkit. A ``Function`` is
checked when it is defined, with Lambda's rules (CreateFunction in the AWS Lambda API
Reference; "Working with Lambda environment variables"; "Configure Lambda function timeout";
"Configure Lambda function memory"), so a mistake is reported at the cell that makes it:

* ``function_name``: 1 to 64 of ``a-z A-Z 0-9 - _`` (the plain-name form of FunctionName);
* ``handler``: a Python callable, or a handler string as Lambda takes it, ``"module.function"``
  (``"package.module.function"`` too), found in the ``code`` folder: the module file must exist,
  compile, and define the function at its top level, not as ``async def``;
* ``environment``: string keys matching ``[a-zA-Z]([a-zA-Z0-9_])+`` with string values, none of
  the keys Lambda reserves, 4 KB in all;
* ``timeout``: 1 to 900 seconds, default 3; ``memory_size``: 128 to 10,240 MB, default 128.

Introduced in notebooks/01-stream-processing-flow.ipynb.
"""

from __future__ import annotations

import ast
import functools
import hashlib
import inspect
import os
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import botocore.session

from .._errors import FunctionError, TriggerError

__all__ = [
    "DEFAULT_MEMORY_MB",
    "DEFAULT_TIMEOUT_S",
    "RESERVED_VARIABLES",
    "Function",
    "as_function",
    "check_function_name",
    "check_handler",
    "check_mapping_function_name",
    "mapping_function_name",
]

DEFAULT_TIMEOUT_S = 3
DEFAULT_MEMORY_MB = 128
_NAME = re.compile(r"^[a-zA-Z0-9_-]{1,64}$")
_ENV_KEY = re.compile(r"^[a-zA-Z][a-zA-Z0-9_]+$")
_ENV_MAX_BYTES = 4 * 1024
# "Lambda reserves these environment variable keys; you can't set them in your function's
# configuration" (AWS Lambda guide, "Defined runtime environment variables").
RESERVED_VARIABLES = frozenset(
    {
        "_HANDLER",
        "_X_AMZN_TRACE_ID",
        "AWS_DEFAULT_REGION",
        "AWS_REGION",
        "AWS_EXECUTION_ENV",
        "AWS_LAMBDA_FUNCTION_NAME",
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE",
        "AWS_LAMBDA_FUNCTION_VERSION",
        "AWS_LAMBDA_INITIALIZATION_TYPE",
        "AWS_LAMBDA_LOG_GROUP_NAME",
        "AWS_LAMBDA_LOG_STREAM_NAME",
        "AWS_ACCESS_KEY",
        "AWS_ACCESS_KEY_ID",
        "AWS_SECRET_ACCESS_KEY",
        "AWS_SESSION_TOKEN",
        "AWS_LAMBDA_RUNTIME_API",
        "LAMBDA_TASK_ROOT",
        "LAMBDA_RUNTIME_DIR",
    }
)


def _whole(name: str, value: object, low: int, high: int, default: int, unit: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise FunctionError(
            f"{name}={value!r} is out of range: Lambda accepts a whole number of {unit} from "
            f"{low:,} to {high:,}.",
            f"pass {name} within that range (Lambda's default is {default}).",
        )
    return value


def _module_file(code: Path, module: str) -> Path | None:
    base = code.joinpath(*module.split("."))
    for candidate in (base.with_suffix(".py"), base / "__init__.py"):
        if candidate.is_file():
            return candidate
    return None


def _top_level_names(tree: ast.Module) -> dict[str, ast.AST]:
    names: dict[str, ast.AST] = {}
    for node in tree.body:
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            names[node.name] = node
        elif isinstance(node, ast.Assign | ast.AnnAssign):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            for target in targets:
                if isinstance(target, ast.Name):
                    names[target.id] = node
        elif isinstance(node, ast.ImportFrom | ast.Import):
            for alias in node.names:
                names[(alias.asname or alias.name).split(".")[0]] = node
    return names


@dataclass(frozen=True)
class Function:
    """A Lambda function: its name, code and handler, environment variables and limits.

    ``handler`` is a callable ``(event, context)``, or ``"module.function"`` loaded from the
    ``code`` folder (default ``./functions``) in the function's own execution environment.
    ``environment`` holds the function's own variables; Lambda's reserved ones are added when it
    runs. Made by ``lab.function(...)``.

    Introduced in notebooks/01-stream-processing-flow.ipynb.
    """

    function_name: str
    handler: str | Callable[..., Any]
    code: Path | None = None
    environment: Mapping[str, str] = field(default_factory=dict)
    timeout: int = DEFAULT_TIMEOUT_S
    memory_size: int = DEFAULT_MEMORY_MB
    description: str = ""

    def __post_init__(self) -> None:
        check_function_name(self.function_name)
        object.__setattr__(self, "timeout", _whole("timeout", self.timeout, 1, 900, 3, "seconds"))
        object.__setattr__(
            self, "memory_size", _whole("memory_size", self.memory_size, 128, 10_240, 128, "MB")
        )
        object.__setattr__(self, "environment", self._checked_environment())
        if isinstance(self.handler, str):
            code = Path(self.code) if self.code is not None else Path.cwd() / "functions"
            object.__setattr__(self, "code", code.resolve())
            self._check_handler_string()
        else:
            check_handler(self.handler, self.function_name)

    # -- checks -----------------------------------------------------------------------------
    def _checked_environment(self) -> dict[str, str]:
        env = self.environment
        if env is None:
            return {}
        if not isinstance(env, Mapping):
            raise FunctionError(
                f"environment={env!r} is not a mapping of names to values.",
                "pass environment={'TABLE_NAME': 'orders_replica'}.",
            )
        for key, value in env.items():
            if not isinstance(key, str) or not _ENV_KEY.fullmatch(key):
                raise FunctionError(
                    f"The environment variable name {key!r} is not one Lambda accepts: a letter, "
                    "then letters, digits and '_' (at least two characters).",
                    "rename it, for example 'TABLE_NAME'.",
                )
            if key in RESERVED_VARIABLES:
                raise FunctionError(
                    f"{key} is reserved: Lambda sets it for every function and refuses it in a "
                    "function's configuration.",
                    f"read {key} in your code instead (the lab sets it, as Lambda does), or use "
                    "another name for your own variable.",
                )
            if not isinstance(value, str):
                raise FunctionError(
                    f"The environment variable {key}={value!r} is a {type(value).__name__}; "
                    "Lambda's environment variables are strings.",
                    f"pass {key}={str(value)!r} and convert it in your code "
                    f"(for example int(os.environ[{key!r}])).",
                )
        size = sum(len(k.encode()) + len(v.encode()) for k, v in env.items())
        if size > _ENV_MAX_BYTES:
            raise FunctionError(
                f"The environment variables take {size:,} bytes; Lambda allows 4 KB in all.",
                "keep large settings in a table or a file the function reads.",
            )
        return dict(env)

    def _check_handler_string(self) -> None:
        text = self.handler
        assert isinstance(text, str) and self.code is not None
        module, _, name = text.rpartition(".")
        if not module or not name or not all(p.isidentifier() for p in text.split(".")):
            raise FunctionError(
                f"The handler {text!r} is not of the form 'module.function'.",
                "name the file (without .py) and the function in it, for example "
                "handler='replica.handler' for def handler(event, context) in replica.py.",
            )
        path = _module_file(self.code, module)
        if path is None:
            raise FunctionError(
                f"The handler {text!r} names the module {module!r}, but {self.code} has no "
                f"{module.replace('.', '/')}.py.",
                f"write the function's code to {self.code / (module.replace('.', '/') + '.py')} "
                "(in a notebook: %%writefile), or pass code='<folder>' where it is.",
            )
        source = path.read_text(encoding="utf-8")
        try:
            tree = ast.parse(source, filename=str(path))
        except SyntaxError as exc:
            raise FunctionError(
                f"{path.name} has a syntax error on line {exc.lineno}: {exc.msg}.",
                f"correct line {exc.lineno} of {path}, then define the function again.",
                cause=exc,
            ) from exc
        node = _top_level_names(tree).get(name)
        if node is None:
            raise FunctionError(
                f"{path.name} defines no {name!r} at its top level, so Lambda could not find "
                f"the handler {text!r}.",
                f"define def {name}(event, context): in {path.name}, or name the function it "
                "has in the handler string.",
            )
        if isinstance(node, ast.AsyncFunctionDef):
            raise FunctionError(
                f"{name!r} in {path.name} is an async function: Lambda's Python runtime would "
                "not run its body.",
                f"write it as a plain def {name}(event, context):.",
            )

    # -- what the runtime needs -------------------------------------------------------------
    @property
    def handler_name(self) -> str:
        """The handler as Lambda's configuration names it (a callable's module and name)."""
        if isinstance(self.handler, str):
            return self.handler
        module = getattr(self.handler, "__module__", None) or "lambda_function"
        module = "lambda_function" if module == "__main__" else module.rpartition(".")[2]
        return f"{module}.{getattr(self.handler, '__name__', 'handler')}"

    def code_version(self) -> str:
        """A digest of the code folder's Python files (names, sizes, times): a new value means
        the code changed, and the next invocation gets a fresh execution environment. Read on
        every invocation, so it walks the folder with ``os.scandir`` (no pathlib objects)."""
        if not isinstance(self.handler, str) or self.code is None:
            return ""
        found: list[str] = []
        folders = [str(self.code)]
        while folders:
            try:
                entries = list(os.scandir(folders.pop()))
            except OSError:
                continue
            for entry in entries:
                if entry.is_dir(follow_symlinks=False):
                    if entry.name != "__pycache__":
                        folders.append(entry.path)
                elif entry.name.endswith(".py"):
                    stat = entry.stat()
                    found.append(f"{entry.path}:{stat.st_size}:{stat.st_mtime_ns}")
        return hashlib.sha256("\n".join(sorted(found)).encode()).hexdigest()


def check_function_name(name: object, role: str = "") -> str:
    """A function's own name, as CreateFunction takes it: 1 to 64 of ``a-z A-Z 0-9 - _``."""
    if not isinstance(name, str) or not _NAME.fullmatch(name):
        raise FunctionError(
            f"{role}{name!r} is not a function name Lambda accepts: 1 to 64 letters, digits, "
            "'-' and '_'.",
            "choose a name such as 'replicate-orders' or 'count_orders'.",
        )
    return name


@functools.cache
def _mapping_function_name() -> tuple[re.Pattern[str], int]:
    """CreateEventSourceMapping's FunctionName rule, from botocore's own Lambda model
    (botocore/data/lambda/2015-03-31/service-2.json, shape ``NamespacedFunctionName``: a name,
    a partial ARN or an ARN, optionally with a version or alias; max 256). botocore does not
    enforce a pattern before sending, so labkit does."""
    model = botocore.session.get_session().get_service_model("lambda")
    shape = model.operation_model("CreateEventSourceMapping").input_shape.members["FunctionName"]
    return re.compile(shape.metadata["pattern"]), int(shape.metadata.get("max", 256))


def check_mapping_function_name(name: object) -> str | None:
    """Why AWS would refuse ``name`` as CreateEventSourceMapping's ``FunctionName``, or None.

    The pattern and length are botocore's model's; the Lambda API Reference adds, for the same
    parameter: "If you specify only the function name, it's limited to 64 characters in
    length" (CreateEventSourceMapping, Request Parameters, FunctionName)."""
    pattern, longest = _mapping_function_name()
    if not isinstance(name, str) or not name:
        return "it is not a non-empty string"
    if not pattern.fullmatch(name):
        return f"it does not match the pattern Lambda checks ({pattern.pattern})"
    if len(name) > longest:
        return f"it is longer than {longest} characters"
    if ":" not in name and len(name) > 64:
        return "a function name alone is limited to 64 characters"
    return None


def check_handler(handler: object, table_name: str) -> None:
    """Refuse, when the trigger is made, a handler Lambda's Python runtime could not run."""
    if not callable(handler):
        raise TriggerError(
            f"The handler for {table_name!r} is {handler!r}, which cannot be called.",
            "pass a function taking (event, context), like a Lambda handler.",
        )
    if inspect.iscoroutinefunction(handler) or inspect.isgeneratorfunction(handler):
        kind = "an async function" if inspect.iscoroutinefunction(handler) else "a generator"
        raise TriggerError(
            f"The handler {getattr(handler, '__name__', handler)!r} is {kind}: calling it "
            "would not run its body, so no record would really be processed.",
            "write the handler as a plain `def handler(event, context):` that returns its "
            "response, as Lambda's Python runtime expects.",
        )


def as_function(
    handler: Function | Callable[..., Any], table_name: str, function_name: str | None = None
) -> Function:
    """A trigger's function: the Function itself, or a callable wrapped in one (as today)."""
    if isinstance(handler, Function):
        return handler
    check_handler(handler, table_name)
    name = str(function_name or getattr(handler, "__name__", "handler"))
    if not _NAME.fullmatch(name):
        name = re.sub(r"[^a-zA-Z0-9_-]", "_", name)[:64] or "handler"
    return Function(name, handler)


def mapping_function_name(handler: Function | Callable[..., Any], function_name: str | None) -> str:
    """The name a mapping knows its function by: ``function_name`` if given, else the
    ``Function``'s name, else the callable's ``__name__``. It names the consumer in a checkpoint
    table, and it is what makes two mappings "of the same function": AWS allows one mapping per
    function and event source (CreateEventSourceMapping's ResourceConflictException)."""
    if function_name:
        return str(function_name)
    if isinstance(handler, Function):
        return handler.function_name
    return str(getattr(handler, "__name__", "handler"))

"""EventBridge Pipes' input transformer: an ``InputTemplate`` checked when the pipe is made and
applied to each event on the way to the enrichment or the target.

What AWS documents ("Amazon EventBridge Pipes input transformation", the EventBridge user guide,
and the ``InputTemplate`` shape of botocore's ``pipes`` model):

[T1] A template is "free text, a JSON path to the event payload, or a JSON object that includes
     inline JSON paths": ``Hello, sender``, ``<$.attributes.SenderId>``,
     ``Hello, <$.attributes.SenderId>``, ``{"key2": <$.body.key>}``.
[T2] "EventBridge replaces input transformers at runtime to ensure valid JSON output. Put quotes
     around variables that refer to JSON path parameters, but do not put quotes around
     variables that refer to JSON objects or arrays"; the guide's own example writes
     ``"instance" : <$.detail.instance-id>`` unquoted and gets ``"instance" : "i-0123456789"``.
[T3] Supported path syntax: dot notation, dashes, underscores, alphanumeric characters, array
     indices (square brackets) and wildcards (``*``).
[T4] Reserved variables: ``<aws.pipes.pipe-arn>``, ``<aws.pipes.pipe-name>``,
     ``<aws.pipes.source-arn>``, ``<aws.pipes.enrichment-arn>``, ``<aws.pipes.target-arn>``,
     ``<aws.pipes.event.ingestion-time>`` (an ISO 8601 timestamp), ``<aws.pipes.event>`` (the
     event as received) and ``<aws.pipes.event.json>``, which "can only be used as a value for
     a JSON field".
[T5] "Input transformers are applied separately on each individual JSON record in the array,
     not the array as a whole" ("batching and concurrency").
[T6] botocore's model: ``InputTemplate`` is a string of 0 to 8,192 characters; "To remove an
     input template, specify an empty string."

labkit's reading where the guide says nothing: a path that is not in the event gives ``null``
in a JSON position and nothing inside a quoted string; a JSON template that does not come out
as valid JSON is refused when the pipe is made; a wildcard gives the list of what it matched.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from dataclasses import dataclass, field
from typing import Any

from .._errors import InvalidTriggerOptionError

__all__ = ["MAX_TEMPLATE_LENGTH", "RESERVED", "InputTemplate", "PipeNames"]

MAX_TEMPLATE_LENGTH = 8192  # [T6]
_PLACEHOLDER = re.compile(r"<([^<>\s]*)>")
_PATH = re.compile(r"\$(\.[A-Za-z0-9_\-/]+|\.\*|\[\d+\]|\[\*\])*")  # [T3]
_STEP = re.compile(r"\.([A-Za-z0-9_\-/]+|\*)|\[(\d+|\*)\]")
RESERVED = (  # [T4]
    "aws.pipes.pipe-arn",
    "aws.pipes.pipe-name",
    "aws.pipes.source-arn",
    "aws.pipes.enrichment-arn",
    "aws.pipes.target-arn",
    "aws.pipes.event.ingestion-time",
    "aws.pipes.event",
    "aws.pipes.event.json",
)
_MISSING = object()


@dataclass(frozen=True)
class PipeNames:
    """What the reserved variables name: the pipe, its source, enrichment and target."""

    pipe_arn: str
    pipe_name: str
    source_arn: str
    enrichment_arn: str = ""
    target_arn: str = ""


def _walk(value: Any, path: str) -> Any:
    """The value at a JSON path [T3] (a list for a wildcard), or ``_MISSING``."""
    current: list[Any] = [value]
    wild = False
    for name, index in _STEP.findall(path[1:]):
        step = name or index
        nxt: list[Any] = []
        for item in current:
            if step == "*":
                wild = True
                nxt.extend(item.values() if isinstance(item, dict) else item)
            elif name and isinstance(item, dict) and name in item:
                nxt.append(item[name])
            elif index and isinstance(item, list) and int(index) < len(item):
                nxt.append(item[int(index)])
        current = nxt
    if wild:
        return current
    return current[0] if current else _MISSING


def _inside_string(text: str, at: int) -> bool:
    """Whether position ``at`` of a JSON template is inside a string literal."""
    inside = escaped = False
    for char in text[:at]:
        if escaped:
            escaped = False
        elif char == "\\":
            escaped = True
        elif char == '"':
            inside = not inside
    return inside


@dataclass(frozen=True)
class InputTemplate:
    """A checked ``InputTemplate``: ``render(event)`` gives what the next step receives.

    Introduced in notebooks/14-eventbridge-pipes.ipynb.
    """

    template: str
    role: str = "target"  # "enrichment" or "target": said in errors
    _parts: tuple[tuple[str, str, bool], ...] = field(init=False, repr=False, compare=False)
    _json: bool = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        where = f"{self.role.capitalize()}Parameters InputTemplate"
        if not isinstance(self.template, str):
            raise InvalidTriggerOptionError(
                f"{where} is {self.template!r}, not a string.",
                "pass a string, e.g. '{\"order\": <$.dynamodb.Keys.pk.S>}'.",
            )
        if len(self.template) > MAX_TEMPLATE_LENGTH:
            raise InvalidTriggerOptionError(
                f"{where} is {len(self.template):,} characters; Pipes accepts at most "
                f"{MAX_TEMPLATE_LENGTH:,}.",
                "shorten it: pick the fields the next step needs.",
            )
        parts = []
        for match in _PLACEHOLDER.finditer(self.template):
            name = match.group(1)
            quoted = _inside_string(self.template, match.start())
            if name.startswith("$"):
                if not _PATH.fullmatch(name):
                    raise InvalidTriggerOptionError(
                        f"{where} has the path <{name}>, which Pipes cannot read: paths use dot "
                        "notation, letters, digits, '-', '_', array indices and '*'.",
                        "write e.g. <$.dynamodb.NewImage.status.S> or <$.dynamodb.Keys.pk.S>.",
                    )
            elif name not in RESERVED:
                raise InvalidTriggerOptionError(
                    f"{where} has <{name}>, which is neither a JSON path ($. ...) nor one of "
                    "Pipes' reserved variables.",
                    f"use a path like <$.eventName>, or one of: {', '.join(RESERVED)}.",
                )
            if name == "aws.pipes.event.json" and quoted:
                raise InvalidTriggerOptionError(
                    f"{where} puts <aws.pipes.event.json> inside quotes; AWS: it 'can only be "
                    "used as a value for a JSON field' (it is not escaped).",
                    'write it unquoted as a field\'s value: {"original": <aws.pipes.event.json>}.',
                )
            parts.append((match.group(0), name, quoted))
        object.__setattr__(self, "_parts", tuple(parts))
        trial = self.template
        for text, _name, quoted in parts:
            trial = trial.replace(text, "x" if quoted else "null", 1)
        is_json = trial.lstrip().startswith(("{", "["))
        if is_json:
            try:
                json.loads(trial)
            except json.JSONDecodeError as exc:
                raise InvalidTriggerOptionError(
                    f"{where} looks like a JSON template but is not valid JSON once its "
                    f"placeholders are filled in ({exc.msg}, column {exc.colno}).",
                    "check its commas and quotes (quote a placeholder only inside a string).",
                    cause=exc,
                ) from exc
        object.__setattr__(self, "_json", is_json)

    def _value(self, name: str, event: Any, names: PipeNames) -> Any:
        if name.startswith("$"):
            return _walk(event, name)
        return {
            "aws.pipes.pipe-arn": names.pipe_arn,
            "aws.pipes.pipe-name": names.pipe_name,
            "aws.pipes.source-arn": names.source_arn,
            "aws.pipes.enrichment-arn": names.enrichment_arn,
            "aws.pipes.target-arn": names.target_arn,
            "aws.pipes.event.ingestion-time": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
            "aws.pipes.event": json.dumps(event, default=str),
            "aws.pipes.event.json": event,
        }[name]

    def render(self, event: Any, names: PipeNames) -> Any:
        """What the step receives for one event: a JSON value for a JSON template or a lone
        path, else the text."""
        if len(self._parts) == 1 and self._parts[0][0] == self.template.strip():
            value = self._value(self._parts[0][1], event, names)  # [T1] a lone JSON path
            return None if value is _MISSING else value
        out = self.template
        for text, name, quoted in self._parts:
            value = self._value(name, event, names)
            if quoted or not self._json:
                shown = "" if value is _MISSING or value is None else value
                if not isinstance(shown, str):
                    shown = json.dumps(shown, default=str)
                if quoted and self._json:
                    shown = json.dumps(shown)[1:-1]  # escaped inside its JSON string
            else:
                shown = "null" if value is _MISSING else json.dumps(value, default=str)
            out = out.replace(text, shown, 1)
        return json.loads(out) if self._json else out

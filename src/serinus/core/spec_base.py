"""The building blocks every spec model shares: the base class, bounded types, durations, names.

Kept apart from `spec` so that section modules (notifications, analysis, routing, workloads)
can build on them while `spec` imports those sections, without an import cycle.

Every number a spec holds is finite and within a range, every string and list has a maximum
size: the limits live here as named types so a field states what it is (`Port`, `Line`,
`Duration`) and gets the limit with it. `docs/spec-limits.md` lists them; a unit test walks
the models' JSON schema and fails on any number without bounds or list without a maximum.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterator, Sequence
from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field
from pydantic.alias_generators import to_camel

# --- sizes -------------------------------------------------------------------------------------

# Any string of any spec model, unless its field allows more (the backstop for free text).
MAX_STRING = 4096
MAX_LINE = 1024  # one-line text: commands' arguments, header values, paths
MAX_TEXT = 16_384  # multi-line text: instructions, queries, request bodies
MAX_URL = 2048
MAX_NAME = 253  # a DNS subdomain, the longest Kubernetes name
MAX_LIST = 100  # list items unless a field says otherwise
MAX_MAP = 100  # map entries unless a field says otherwise
# Free-form sections (pod templates, Helm values): nesting and size, on top of the document's.
MAX_FREE_FORM_DEPTH = 32
MAX_FREE_FORM_NODES = 20_000
MAX_FREE_FORM_STRING = 65_536
# Integers travel through JSON and Kubernetes (int64); numbers beyond it are refused anywhere.
MAX_INT64 = 2**63 - 1

# Durations: finite, non-negative, at most a year (a longer pause is a typo, and `now + d`
# must stay a valid timestamp).
MAX_DURATION_SECONDS = 365 * 24 * 3600.0
_MAX_DURATION_TEXT = 32

# --- string patterns ---------------------------------------------------------------------------

# No control characters at all (a newline in a header value or a config line is an injection).
SINGLE_LINE = r"^[^\x00-\x1f\x7f]*$"
# Multi-line text: tabs and line breaks allowed, other control characters (NUL...) are not.
MULTI_LINE = r"^[^\x00-\x08\x0b\x0c\x0e-\x1f\x7f]*$"
DNS_LABEL = r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$"
DNS_SUBDOMAIN = r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$"
LABEL_KEY = r"^([a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*/)?[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$"  # noqa: E501
HTTP_URL = r"^https?://[^\s\x00-\x1f\x7f]+$"
HEADER_NAME = r"^[A-Za-z0-9!#$%&'*+.^_`|~-]+$"
ENV_NAME = r"^[A-Za-z_][A-Za-z0-9_]*$"
# A URL path: starts with '/', visible ASCII only (no spaces, quotes or '#').
URL_PATH = r"^/[A-Za-z0-9\-._~!$&'()*+,;=:@%/?]*$"
# A file path or program name: one line, and never an option (a leading '-').
FILE_PATH = r"^[^\x00-\x1f\x7f\-][^\x00-\x1f\x7f]*$"

Line = Annotated[str, Field(max_length=MAX_LINE, pattern=SINGLE_LINE)]
Text = Annotated[str, Field(max_length=MAX_TEXT, pattern=MULTI_LINE)]
Url = Annotated[str, Field(max_length=MAX_URL, pattern=HTTP_URL)]
FilePath = Annotated[str, Field(min_length=1, max_length=MAX_STRING, pattern=FILE_PATH)]
UrlPath = Annotated[str, Field(max_length=MAX_LINE, pattern=URL_PATH)]
EnvName = Annotated[str, Field(max_length=MAX_LINE, pattern=ENV_NAME)]
HeaderName = Annotated[str, Field(max_length=MAX_LINE, pattern=HEADER_NAME)]
# A command argument: anything but NUL (which no exec accepts) and other control characters.
Argument = Annotated[str, Field(max_length=MAX_STRING, pattern=MULTI_LINE)]


def keys_matching(pattern: str, what: str) -> AfterValidator:
    """A check that every key of a map matches `pattern` (a validator, not a schema keyword:
    Kubernetes' structural schemas have no `patternProperties`)."""
    compiled = re.compile(pattern)

    def check(value: dict[str, Any]) -> dict[str, Any]:
        for key in value:
            if not compiled.match(key):
                raise ValueError(f"{key[:40]!r} is not {what}")
        return value

    return AfterValidator(check)


EnvMap = Annotated[
    dict[str, Argument],
    Field(max_length=MAX_MAP),
    keys_matching(ENV_NAME, "an environment variable name (letters, digits, '_')"),
]
HeaderMap = Annotated[
    dict[str, Line], Field(max_length=MAX_MAP), keys_matching(HEADER_NAME, "a header name")
]


def _program_first(command: list[str]) -> list[str]:
    if not command[0] or command[0].startswith("-"):
        raise ValueError("command[0]: the program must be a name or a path, not an option")
    return command


MAX_COMMAND = 256  # arguments of a command line
# A command line run without a shell: the program first (never an option), then its arguments.
Command = Annotated[
    list[Argument],
    Field(min_length=1, max_length=MAX_COMMAND),
    AfterValidator(_program_first),
]


def duplicated(names: Sequence[str]) -> list[str]:
    """The names that occur more than once, sorted (for "duplicate names: a, b" errors)."""
    return sorted({name for name in names if names.count(name) > 1})


# --- numbers -----------------------------------------------------------------------------------

Percent = Annotated[int, Field(ge=0, le=100, strict=True)]
Port = Annotated[int, Field(ge=1, le=65535, strict=True)]
# Limits and counts of measurements, requests, steps: generous, but never absurd.
MAX_COUNT = 100_000
Count = Annotated[int, Field(ge=0, le=MAX_COUNT, strict=True)]
PositiveCount = Annotated[int, Field(ge=1, le=MAX_COUNT, strict=True)]


def parse_duration(value: Any) -> float:
    """Seconds from a number, or a string of number+unit parts: `30s`, `500ms`, `5m`, `1h30m`.

    Strict on purpose: no spaces, at most 32 characters, finite, between 0 and 365 days.
    """
    if isinstance(value, bool):
        raise ValueError("a duration is a number of seconds or a string like '30s', '5m', '1h'")
    if isinstance(value, int) and abs(value) > MAX_DURATION_SECONDS:
        seconds = math.inf  # float() of a huge int would raise OverflowError
    elif isinstance(value, int | float):
        seconds = float(value)
    elif isinstance(value, str) and len(value) <= _MAX_DURATION_TEXT:
        seconds = _seconds_of(value)
    else:
        raise ValueError(
            "invalid duration: use seconds or a string like '30s', '500ms', '5m', '1h30m'"
        )
    if math.isnan(seconds):
        raise ValueError("a duration must be a number, not NaN")
    if seconds < 0:
        raise ValueError("a duration cannot be negative")
    if seconds > MAX_DURATION_SECONDS:
        raise ValueError(
            f"a duration must be at most {MAX_DURATION_SECONDS:.0f} seconds (365 days)"
        )
    return seconds


_NUMBER = re.compile(r"\d{1,12}(?:\.\d{1,9})?")
_DURATION = re.compile(rf"(?:{_NUMBER.pattern}(?:ms|s|m|h))+")
_DURATION_PART = re.compile(rf"({_NUMBER.pattern})(ms|s|m|h)")
_UNIT_SECONDS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0}


def _seconds_of(text: str) -> float:
    if _NUMBER.fullmatch(text):
        return float(text)
    if not _DURATION.fullmatch(text):
        raise ValueError(
            f"invalid duration {text!r}: use seconds or a string like '30s', '500ms', '5m', "
            "'1h30m' (no spaces)"
        )
    return sum(float(number) * _UNIT_SECONDS[unit] for number, unit in _DURATION_PART.findall(text))


Duration = Annotated[float, BeforeValidator(parse_duration)]
PositiveDuration = Annotated[Duration, Field(gt=0)]


class SpecModel(BaseModel):
    """Base of every spec model: camelCase on the wire, unknown fields rejected, immutable.

    `str_max_length` bounds every string a field does not bound itself.
    """

    model_config = ConfigDict(
        extra="forbid",
        populate_by_name=True,
        alias_generator=to_camel,
        frozen=True,
        str_max_length=MAX_STRING,
    )


def _exactly_one(model: BaseModel, what: str) -> str:
    chosen = [name for name in type(model).model_fields if getattr(model, name) is not None]
    names = ", ".join(field.alias or name for name, field in type(model).model_fields.items())
    if len(chosen) != 1:
        raise ValueError(f"{what} needs exactly one of: {names} (got {len(chosen)})")
    field = type(model).model_fields[chosen[0]]
    return field.alias or chosen[0]


# --- plain data --------------------------------------------------------------------------------


def json_data_problem(
    data: Any, max_depth: int, max_nodes: int, max_string: int | None = None
) -> str | None:
    """Why `data` is not plain JSON data within limits, as `path: problem`; None when it is.

    Plain JSON data: mappings with string keys, lists, strings without NUL, booleans, null,
    integers within int64 and finite floats. YAML can express more (binary, sets, NaN, .inf,
    cycles through aliases); none of it has a meaning in a spec, and NaN or a cycle would break
    whatever reads it later (JSON serialisation, the Kubernetes API, a template renderer).
    """
    for nodes, (path, depth, value) in enumerate(_walk(data), start=1):
        if nodes > max_nodes:
            return f"(document): more than {max_nodes} values"
        if depth > max_depth:
            return f"{path or '(document)'}: nested more than {max_depth} levels deep"
        problem = _value_problem(value)
        too_long = max_string is not None and isinstance(value, str) and len(value) > max_string
        if problem is None and too_long:
            problem = f"a string of {len(value)} characters (at most {max_string})"
        if problem is not None:
            return f"{path or '(document)'}: {problem}"
    return None


def _value_problem(value: Any) -> str | None:
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, int):
        return None if abs(value) <= MAX_INT64 else "integer out of range (64-bit)"
    if isinstance(value, float):
        return None if math.isfinite(value) else f"{value} is not a finite number"
    if isinstance(value, str):
        if "\x00" in value:
            return "contains a NUL character"
        if _CONTROL.search(value):
            return "contains a control character (only tab and line breaks are allowed)"
        return None if value.isascii() or _encodable(value) else "not valid Unicode text"
    if isinstance(value, dict):
        bad = next((key for key in value if not isinstance(key, str)), None)
        if bad is not None:
            return f"mapping key {str(bad)[:40]!r} is not a string"
        nul = next((key for key in value if "\x00" in key), None)
        return "a mapping key contains a NUL character" if nul is not None else None
    if isinstance(value, list):
        return None
    return f"{type(value).__name__} values are not supported (use strings, numbers, lists, maps)"


_CONTROL = re.compile(r"[\x01-\x08\x0b\x0c\x0e-\x1f\x7f]")


def _encodable(text: str) -> bool:
    """False for a lone surrogate (`"\\udcff"` in JSON), which no UTF-8 writer accepts."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _walk(data: Any) -> Iterator[tuple[str, int, Any]]:
    """(path, depth, value) of every value, depth first, without recursion (bounded by caller)."""
    stack: list[tuple[str, int, Any]] = [("", 0, data)]
    while stack:
        path, depth, value = stack.pop()
        yield path, depth, value
        if isinstance(value, dict):
            for key, item in reversed(value.items()):
                step = str(key)[:40]
                stack.append((f"{path}.{step}" if path else step, depth + 1, item))
        elif isinstance(value, list):
            for index in range(len(value) - 1, -1, -1):
                stack.append((f"{path}[{index}]", depth + 1, value[index]))


# A whole document: the same limits `documents.parse_text` applies to text.
MAX_DOCUMENT_DEPTH = 64
MAX_DOCUMENT_NODES = 100_000


def plain_document(cls: type[BaseModel], data: Any) -> Any:
    """Before-validator of whole documents (Rollout, AnalysisTemplate): plain data in limits."""
    problem = json_data_problem(data, MAX_DOCUMENT_DEPTH, MAX_DOCUMENT_NODES)
    if problem is not None:
        raise ValueError(problem)
    return data


def free_form(value: dict[str, Any]) -> dict[str, Any]:
    """Validator of free-form sections (pod templates, Helm values): plain data within limits."""
    problem = json_data_problem(
        value, MAX_FREE_FORM_DEPTH, MAX_FREE_FORM_NODES, MAX_FREE_FORM_STRING
    )
    if problem is not None:
        raise ValueError(problem.removeprefix("(document): "))
    return value


class Metadata(SpecModel):
    name: str = Field(pattern=DNS_LABEL, max_length=53)
    namespace: str = Field(default="default", pattern=DNS_LABEL, max_length=63)
    labels: Annotated[dict[str, Line], keys_matching(LABEL_KEY, "a label key")] = Field(
        default_factory=dict, max_length=MAX_MAP
    )
    annotations: Annotated[dict[str, Text], keys_matching(LABEL_KEY, "an annotation key")] = Field(
        default_factory=dict, max_length=MAX_MAP
    )


class StatusModel(BaseModel):
    """Base of persisted state models: camelCase in storage, immutable, tolerant on read."""

    model_config = ConfigDict(frozen=True, populate_by_name=True, alias_generator=to_camel)

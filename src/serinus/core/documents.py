"""Reading Rollout documents from YAML or JSON text, with errors that name the field path."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, TypeVar

import yaml
from pydantic import BaseModel, ValidationError

from serinus.core.errors import InvalidInput

if TYPE_CHECKING:
    from serinus.core.spec import Rollout

M = TypeVar("M", bound=BaseModel)


def field_path(loc: Sequence[int | str], root: str = "") -> str:
    """`('spec', 'steps', 2, 'setWeight')` -> `spec.steps[2].setWeight`."""
    path = root
    for part in loc:
        if isinstance(part, int):
            path += f"[{part}]"
        elif part.startswith("function-") or part in ("list", "dict"):
            continue  # pydantic's internal validator names add nothing for the user
        else:
            path += f".{part}" if path else part
    return path or "(document)"


def validation_problems(error: ValidationError, root: str = "") -> list[str]:
    problems = []
    for item in error.errors():
        message = str(item["msg"]).removeprefix("Value error, ")
        if item["type"] == "extra_forbidden":
            message = "unknown field"
        elif item["type"] == "missing":
            message = "required field is missing"
        problems.append(f"{field_path(item['loc'], root)}: {message}")
    return problems


def parse_text(text: str, source: str) -> Any:
    """YAML is a superset of JSON, so one parser reads both; errors keep the line number."""
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise InvalidInput([f"not valid YAML or JSON: {exc}"], source) from exc


def validate_model(model: type[M], data: Any, source: str, root: str = "") -> M:
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise InvalidInput(validation_problems(exc, root), source) from exc


def load_rollout(text: str, source: str = "rollout") -> Rollout:
    from serinus.core.spec import Rollout  # spec's sections import this module

    data = parse_text(text, source)
    if not isinstance(data, dict):
        problem = "(document): expected a mapping with apiVersion, kind, metadata, spec"
        raise InvalidInput([problem], source)
    return validate_model(Rollout, data, source)


def dump_rollout(rollout: Rollout) -> str:
    return json.dumps(rollout.model_dump(mode="json", by_alias=True, exclude_none=True))

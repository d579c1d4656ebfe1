"""Message text from jinja2 templates, escaped for the format each channel reads.

The format is chosen by the template's name so a template cannot forget to escape: `*.html.j2`
is HTML-autoescaped, `*.mrkdwn.j2` escapes Slack's control characters (`&`, `<`, `>`) in every
`{{ expression }}`, `*.md.j2` backslash-escapes markdown (Teams cards: no injected links or
emphasis), `*.txt.j2` is plain text. Event messages and data carry user input (judgement
comments, inputs), so escaping is not optional. A templates directory given by the operator
overrides the built-in templates of the same name.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import jinja2

from serinus.core.events import Event

BUILTIN_TEMPLATES = Path(__file__).parent / "templates"
_WORD_START = re.compile(r"(?<!^)(?=[A-Z])")


def escape_mrkdwn(value: Any) -> str:
    """Slack's rule: in mrkdwn text, `&`, `<` and `>` must be entities, nothing else."""
    text = "" if value is None else str(value)
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


_MARKDOWN_SPECIAL = re.compile(r"([\\`*_{}\[\]()#+\-.!|<>~])")


def escape_markdown(value: Any) -> str:
    """Every markdown control character backslash-escaped, so user text stays text."""
    text = "" if value is None else str(value)
    return _MARKDOWN_SPECIAL.sub(r"\\\1", text)


def event_title(event: Event) -> str:
    """`AwaitingJudgement` -> `Awaiting judgement`."""
    words = _WORD_START.sub(" ", event.type.value).split()
    return " ".join([words[0], *(word.lower() for word in words[1:])])


@dataclass(frozen=True)
class MessageContext:
    """What every template sees."""

    rollout: str
    event: Event
    link: str | None

    def as_template_vars(self) -> dict[str, Any]:
        return {
            "rollout": self.rollout,
            "event": self.event,
            "type": self.event.type.value,
            "title": event_title(self.event),
            "message": self.event.message,
            "data": self.event.data,
            "severity": self.event.severity.value,
            "at_iso": datetime.fromtimestamp(self.event.at, UTC).strftime("%Y-%m-%d %H:%M:%S UTC"),
            "link": self.link,
        }


class MessageRenderer:
    """Renders `<name>.<format>.j2` templates; missing variables are errors, not blanks."""

    def __init__(self, templates_dir: Path | None = None) -> None:
        search_path = (
            [BUILTIN_TEMPLATES] if templates_dir is None else [templates_dir, BUILTIN_TEMPLATES]
        )
        loader = jinja2.FileSystemLoader([str(path) for path in search_path])
        common: dict[str, Any] = {
            "loader": loader,
            "undefined": jinja2.StrictUndefined,
            "trim_blocks": True,
            "lstrip_blocks": True,
        }
        self._environments = {
            "html": jinja2.Environment(autoescape=True, **common),
            "mrkdwn": jinja2.Environment(autoescape=False, finalize=escape_mrkdwn, **common),
            "md": jinja2.Environment(autoescape=False, finalize=escape_markdown, **common),
            "txt": jinja2.Environment(autoescape=False, **common),
        }

    def render(self, template: str, context: MessageContext) -> str:
        """Render e.g. `slack.mrkdwn.j2`; the format is the part before `.j2`."""
        parts = template.split(".")
        if len(parts) < 3 or parts[-1] != "j2" or parts[-2] not in self._environments:
            formats = ", ".join(self._environments)
            raise ValueError(
                f"template {template!r}: name it <name>.<format>.j2 with format in {formats}"
            )
        environment = self._environments[parts[-2]]
        return environment.get_template(template).render(context.as_template_vars()).strip()

"""Templates: the format named by the file decides the escaping; overrides win; typos fail."""

from __future__ import annotations

from pathlib import Path

import jinja2
import pytest

from serinus.adapters.notifiers.rendering import (
    MessageContext,
    MessageRenderer,
    escape_mrkdwn,
    event_title,
)
from serinus.core.events import Event, EventType

HOSTILE = Event(
    type=EventType.JUDGED,
    message="<script>alert(1)</script> & <!channel>",
    at=1_700_000_000.0,
    data={"comment": "<b>ship</b>", "approved": False},
)


def test_event_titles_read_as_words() -> None:
    assert event_title(Event(type=EventType.AWAITING_JUDGEMENT, message="", at=0)) == (
        "Awaiting judgement"
    )
    assert event_title(Event(type=EventType.FAILED, message="", at=0)) == "Failed"


def test_mrkdwn_escapes_only_slacks_control_characters() -> None:
    assert escape_mrkdwn("a & <b> *c*") == "a &amp; &lt;b&gt; *c*"
    assert escape_mrkdwn(None) == ""


def test_html_templates_are_autoescaped() -> None:
    html = MessageRenderer().render("email_body.html.j2", MessageContext("shop", HOSTILE, None))
    assert "<script>" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "&lt;b&gt;ship&lt;/b&gt;" in html


def test_mrkdwn_templates_escape_every_expression() -> None:
    text = MessageRenderer().render("slack.mrkdwn.j2", MessageContext("shop", HOSTILE, None))
    assert "<" not in text
    assert "&lt;!channel&gt;" in text
    assert "*Judged*" in text


def test_text_templates_keep_the_text_and_show_the_link() -> None:
    context = MessageContext("shop", HOSTILE, "https://dash.example/rollouts/shop")
    text = MessageRenderer().render("email_body.txt.j2", context)
    assert "<script>alert(1)</script> & <!channel>" in text
    assert "Open the rollout: https://dash.example/rollouts/shop" in text
    assert "comment: <b>ship</b>" in text
    assert "2023-11-14 22:13:20 UTC" in text


def test_an_operator_template_overrides_the_builtin_one(tmp_path: Path) -> None:
    (tmp_path / "sms.txt.j2").write_text("{{ rollout }} is {{ type }}")
    renderer = MessageRenderer(tmp_path)
    assert renderer.render("sms.txt.j2", MessageContext("shop", HOSTILE, None)) == "shop is Judged"
    # Templates not overridden still come from the package.
    assert "Judged" in renderer.render(
        "email_subject.txt.j2", MessageContext("shop", HOSTILE, None)
    )


def test_a_misspelt_variable_is_an_error_not_a_blank(tmp_path: Path) -> None:
    (tmp_path / "sms.txt.j2").write_text("{{ rolout }}")
    with pytest.raises(jinja2.UndefinedError, match="rolout"):
        MessageRenderer(tmp_path).render("sms.txt.j2", MessageContext("shop", HOSTILE, None))


def test_template_names_must_say_their_format() -> None:
    with pytest.raises(ValueError, match=r"<name>\.<format>\.j2"):
        MessageRenderer().render("sms.j2", MessageContext("shop", HOSTILE, None))

"""The instructions renderer: the few allowed constructs, templated links, and nothing else."""

from __future__ import annotations

import html.parser

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from serinus.entrypoints.api.markdown import render_markdown

VARIABLES = {"canary.version": "v2", "rollout.name": "web", "stable.version": "v1"}
ALLOWED_TAGS = {"p", "ul", "ol", "li", "strong", "code", "a", "h3", "h4", "h5"}


class _Tags(html.parser.HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))


def tags(rendered: str) -> list[tuple[str, dict[str, str | None]]]:
    parser = _Tags()
    parser.feed(rendered)
    return parser.tags


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("plain text", "<p>plain text</p>"),
        ("one\ntwo\n\nthree", "<p>one two</p>\n<p>three</p>"),
        ("**bold** and `code`", "<p><strong>bold</strong> and <code>code</code></p>"),
        ("- a\n- b", "<ul><li>a</li><li>b</li></ul>"),
        ("* a\n* **b**", "<ul><li>a</li><li><strong>b</strong></li></ul>"),
        ("1. first\n2. second", "<ol><li>first</li><li>second</li></ol>"),
        ("# Title", "<h3>Title</h3>"),
        ("intro\n- a\nafter", "<p>intro</p>\n<ul><li>a</li></ul>\n<p>after</p>"),
        (
            "[Grafana](https://g.example/d?v={{ canary.version }})",
            '<p><a href="https://g.example/d?v=v2" rel="noopener noreferrer" target="_blank">'
            "Grafana</a></p>",
        ),
        (
            "see https://jaeger.example/s?service={{rollout.name}}.",
            '<p>see <a href="https://jaeger.example/s?service=web" rel="noopener noreferrer" '
            'target="_blank">https://jaeger.example/s?service=web</a>.</p>',
        ),
        ("`{{ canary.version }}` vs {{ stable.version }}", "<p><code>v2</code> vs v1</p>"),
        ("{{ unknown.thing }}", "<p>{{ unknown.thing }}</p>"),
        ("a < b & c > d", "<p>a &lt; b &amp; c &gt; d</p>"),
    ],
)
def test_allowed_constructs(source: str, expected: str) -> None:
    assert render_markdown(source, VARIABLES) == expected


@pytest.mark.parametrize(
    "source",
    [
        "<script>alert(1)</script>",
        "<img src=x onerror=alert(1)>",
        "[click](javascript:alert(1))",
        "[click](JavaScript:alert%281%29)",
        "[click](java\tscript:alert(1))",
        "[click](data:text/html;base64,PHNjcmlwdD4=)",
        "[click](//evil.example/x)",
        "[click](/relative)",
        '[x](https://ok.example/"onmouseover="alert(1))',
        "**<svg onload=alert(1)>**",
        "`<script>x</script>`",
        "<a href=javascript:alert(1)>x</a>",
        "- <iframe src=https://evil.example>",
    ],
)
def test_script_tags_handlers_and_bad_urls_render_inert(source: str) -> None:
    rendered = render_markdown(source, VARIABLES)
    for tag, attrs in tags(rendered):
        assert tag in ALLOWED_TAGS
        assert set(attrs) <= {"href", "rel", "target"}
        if tag == "a":
            href = attrs["href"] or ""
            assert href.startswith(("http://", "https://")), rendered


def test_values_cannot_inject_markup_or_change_a_link() -> None:
    hostile = {"canary.version": '"><script>alert(1)</script>', "rollout.name": "javascript:x"}
    rendered = render_markdown(
        "[g](https://g.example/?v={{ canary.version }}) {{ canary.version }} "
        "[r]({{ rollout.name }})",
        hostile,
    )
    assert "<script" not in rendered
    assert 'href="https://g.example/?v=%22%3E%3Cscript%3Ealert%281%29%3C%2Fscript%3E"' in rendered
    assert "&quot;&gt;&lt;script&gt;" in rendered
    assert [tag for tag, _ in tags(rendered)] == ["p", "a"]  # no link from the variable alone


PIECES = [*"ab <>\"'`*-#[]()/:=&;\n", "javascript:", "https://x.y", "{{ canary.version }}"]
PIECES += ["<script>", "onerror=", "**", "](", "1. "]


@settings(max_examples=300, deadline=None)
@given(st.lists(st.sampled_from(PIECES), max_size=40).map("".join))
def test_any_source_yields_only_allowed_tags_and_http_links(source: str) -> None:
    rendered = render_markdown(source, VARIABLES)
    for tag, attrs in tags(rendered):
        assert tag in ALLOWED_TAGS, rendered
        assert set(attrs) <= {"href", "rel", "target"}, rendered
        if tag == "a":
            assert (attrs["href"] or "").startswith(("http://", "https://")), rendered

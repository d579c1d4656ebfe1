"""A tiny, safe Markdown renderer for judgement instructions.

Safety comes from the order of work: every piece of the source is HTML-escaped, and only the
few constructs below produce tags, which this module writes itself:

- paragraphs (blank-line separated), `#`/`##`/`###` headings,
- `- item` / `* item` and `1. item` lists,
- `**bold**`, `` `code` ``,
- links `[label](url)` and bare `https://...` URLs, only with http or https targets; anything
  else (`javascript:`, `data:`, relative paths) is shown as text, never as a link.

Templated values `{{ canary.version }}`, `{{ rollout.name }}`, ... are filled in while
rendering: escaped as text, percent-encoded inside a URL, so a value can never add markup or
change a link's scheme. Unknown variables are left as written.

The output is what the dashboard inserts with `innerHTML`; nothing else from users is.
"""

from __future__ import annotations

import html
import re
from collections.abc import Mapping
from urllib.parse import quote, urlsplit

ALLOWED_SCHEMES = frozenset({"http", "https"})
MAX_SOURCE = 20_000

_NAME = r"[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)*"
_PLACEHOLDER = r"\{\{\s*" + _NAME + r"\s*\}\}"
_INLINE = re.compile(
    r"(?P<code>`(?P<code_text>[^`\n]+)`)"
    r"|(?P<link>\[(?P<label>[^\[\]\n]+)\]\((?P<target>(?:[^()\s]|" + _PLACEHOLDER + r")+)\))"
    r"|(?P<bold>\*\*(?P<bold_text>[^\n]+?)\*\*)"
    r"|(?P<url>https?://(?:[^\s<>\"'`{}()\[\]]|" + _PLACEHOLDER + r")+)"
    r"|(?P<var>" + _PLACEHOLDER + r")"
)
_VAR_ONLY = re.compile(r"\{\{\s*(" + _NAME + r")\s*\}\}")
_BULLET = re.compile(r"^\s*[-*]\s+(.*)$")
_NUMBERED = re.compile(r"^\s*\d{1,9}[.)]\s+(.*)$")
_HEADING = re.compile(r"^(#{1,3})\s+(.*)$")
# A URL's trailing punctuation usually ends the sentence, not the URL.
_TRAILING = ".,;:!?"


def _fill(text: str, variables: Mapping[str, str], in_url: bool) -> str:
    """Substitute known variables (raw values; the caller escapes the result as a whole)."""

    def value(match: re.Match[str]) -> str:
        name = match.group(1)
        if name not in variables:
            return match.group(0)
        raw = variables[name]
        return quote(raw, safe="") if in_url else raw

    return _VAR_ONLY.sub(value, text)


def _safe_url(target: str, variables: Mapping[str, str]) -> str | None:
    url = _fill(target.strip(), variables, in_url=True)
    # Browsers ignore control characters and whitespace inside a scheme (`java\tscript:`).
    if any(ord(c) < 0x20 or c == "\x7f" for c in url):
        return None
    try:
        parts = urlsplit(url)
    except ValueError:
        return None
    if parts.scheme.lower() not in ALLOWED_SCHEMES or not parts.netloc:
        return None
    return url


def _link(url: str, label_html: str) -> str:
    href = html.escape(url, quote=True)
    return f'<a href="{href}" rel="noopener noreferrer" target="_blank">{label_html}</a>'


def render_inline(text: str, variables: Mapping[str, str], links: bool = True) -> str:
    out: list[str] = []
    position = 0
    for match in _INLINE.finditer(text):
        out.append(html.escape(text[position : match.start()], quote=True))
        position = match.end()
        whole = match.group(0)
        if match.group("code") is not None:
            code = _fill(match.group("code_text"), variables, in_url=False)
            out.append(f"<code>{html.escape(code, quote=True)}</code>")
        elif match.group("link") is not None:
            label = render_inline(match.group("label"), variables, links=False)
            url = _safe_url(match.group("target"), variables) if links else None
            out.append(_link(url, label) if url else html.escape(whole, quote=True))
        elif match.group("bold") is not None:
            inner = render_inline(match.group("bold_text"), variables, links)
            out.append(f"<strong>{inner}</strong>")
        elif match.group("url") is not None:
            raw = whole.rstrip(_TRAILING)
            position -= len(whole) - len(raw)
            url = _safe_url(raw, variables) if links else None
            shown = html.escape(_fill(raw, variables, in_url=False), quote=True)
            out.append(_link(url, shown) if url else shown)
        else:  # a placeholder in plain text
            out.append(html.escape(_fill(whole, variables, in_url=False), quote=True))
    out.append(html.escape(text[position:], quote=True))
    return "".join(out)


def render_markdown(source: str, variables: Mapping[str, str] | None = None) -> str:
    """Safe HTML for `source`; `variables` fill `{{ name }}` placeholders."""
    values = dict(variables or {})
    text = source[:MAX_SOURCE].replace("\r\n", "\n").replace("\r", "\n")
    out: list[str] = []
    for block in re.split(r"\n[ \t]*\n", text):
        out.extend(_render_block([line for line in block.split("\n") if line.strip()], values))
    return "\n".join(out)


def _kind(line: str) -> str:
    if _HEADING.match(line):
        return "heading"
    if _BULLET.match(line):
        return "ul"
    if _NUMBERED.match(line):
        return "ol"
    return "p"


def _render_block(lines: list[str], variables: Mapping[str, str]) -> list[str]:
    """Runs of lines of one kind: a heading, a list, or a paragraph."""
    out: list[str] = []
    run: list[str] = []
    for index, line in enumerate(lines):
        run.append(line)
        kind = _kind(line)
        following = _kind(lines[index + 1]) if index + 1 < len(lines) else None
        if kind == "heading" or following != kind:
            out.append(_render_run(kind, run, variables))
            run = []
    return out


def _render_run(kind: str, lines: list[str], variables: Mapping[str, str]) -> str:
    if kind == "heading":
        heading = _HEADING.match(lines[0])
        assert heading is not None
        level = len(heading.group(1)) + 2  # h3..h5: below the page's own headings
        return f"<h{level}>{render_inline(heading.group(2), variables)}</h{level}>"
    if kind in ("ul", "ol"):
        pattern = _BULLET if kind == "ul" else _NUMBERED
        items = "".join(
            f"<li>{render_inline(match.group(1), variables)}</li>"
            for line in lines
            if (match := pattern.match(line))
        )
        return f"<{kind}>{items}</{kind}>"
    body = " ".join(line.strip() for line in lines)
    return f"<p>{render_inline(body, variables)}</p>"

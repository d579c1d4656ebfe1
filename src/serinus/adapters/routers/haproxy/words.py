"""The strict shape of every string serinus writes into `haproxy.cfg`, a map or a runtime command.

Checked where each string is written, whatever the spec's lint accepted, so that no value can
add a line, a word or a directive: a word is either one of these shapes (written as is) or
single-quoted (`quote`), where HAProxy expands nothing. Each check raises InvalidInput naming
the field. Line breaks and other control characters are refused everywhere.
"""

from __future__ import annotations

import ipaddress
import re

from serinus.core.errors import InvalidInput

# Written unquoted, also inside `map(...)` arguments: no spaces, quotes, '#', '$', ',' or ')'.
_PATH = re.compile(r"[A-Za-z0-9_./+@~-]{1,1024}")
# Route names and retry-on keywords (a DNS label): also used inside ACL names and `str(...)`.
_NAME = re.compile(r"[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?")
_HOSTNAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9.-]{0,252}")
# An HTTP header name (RFC 9110 token) without `'`, which HAProxy's argument parser re-reads.
_HEADER_NAME = re.compile(r"[A-Za-z0-9!#$%&*+.^_`|~-]{1,256}")
# Inside single quotes everything is literal except the end of the line.
_LINE_BREAKING = re.compile(r"[\x00-\x08\x0a-\x1f\x7f]")
_HTTP_PATH = re.compile(r"/[\x21-\x7e]{0,2047}")
_MAX_QUOTED = 4096


def _refuse(field: str, value: object, expected: str) -> InvalidInput:
    shown = repr(value) if len(repr(value)) <= 80 else repr(value)[:77] + "..."
    return InvalidInput([f"{field}: {shown} is not {expected}"], source="HAProxy configuration")


def path(value: str, field: str) -> str:
    """A file path written unquoted (admin socket, map files)."""
    if not _PATH.fullmatch(value):
        raise _refuse(field, value, "a file path of letters, digits and _./+@~- only")
    return value


def name(value: str, field: str) -> str:
    if not _NAME.fullmatch(value):
        raise _refuse(field, value, "a DNS label (lowercase letters, digits and '-')")
    return value


def header_name(value: str, field: str) -> str:
    """An HTTP header name, single-quoted inside `req.fhdr(...)`."""
    if not _HEADER_NAME.fullmatch(value):
        raise _refuse(field, value, "an HTTP header name (a token without quotes)")
    return quote(value, field)


def address(value: str, field: str, *, wildcard: bool = False) -> str:
    """An IPv4 or IPv6 address or a host name (or `*` where `wildcard`)."""
    if wildcard and value == "*":
        return value
    try:
        ipaddress.ip_address(value)
    except ValueError:
        if not _HOSTNAME.fullmatch(value):
            allowed = "an IP address" + (", `*`" if wildcard else "")
            raise _refuse(field, value, f"{allowed} or a host name") from None
    return value


def port(value: object, field: str, *, lowest: int = 1) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not lowest <= value <= 65535:
        raise _refuse(field, value, f"a port number ({lowest}-65535)")
    return value


def http_path(value: str, field: str) -> str:
    """An HTTP request path (one word of the request line), single-quoted."""
    if not _HTTP_PATH.fullmatch(value):
        raise _refuse(field, value, "an HTTP path: '/' then printable ASCII without spaces")
    return quote(value, field)


def quote(text: str, field: str) -> str:
    """One HAProxy config word holding `text` literally (single quotes; `'` as `'\\''`)."""
    if _LINE_BREAKING.search(text) or len(text) > _MAX_QUOTED:
        raise _refuse(field, text, f"one line of at most {_MAX_QUOTED} characters")
    return "'" + text.replace("'", "'\\''") + "'"

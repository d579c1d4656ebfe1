"""No input makes the HAProxy renderer write an extra line, word or directive (issue 9).

Every string the configuration takes (spec fields, header routes, endpoint addresses) is fuzzed
with hostile text. Each rendering either fails with InvalidInput naming the field, or parses,
the way HAProxy tokenises a line, into exactly the directives of a rendering with harmless
values: same lines, same keywords, same number of words, and every quoted value read back
as the input. The tokenizer is stricter than HAProxy: an unquoted `#` starts a comment
anywhere, and unquoted `$`, `"` or `\\` other than in `\\'` count as injection.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from serinus.adapters.routers.haproxy.config import ConfigInputs, render_config
from serinus.adapters.routers.haproxy.headers import DeclaredRoute, HeaderRule
from serinus.adapters.routers.haproxy.state import RouterState, Slot
from serinus.core.errors import InvalidInput
from serinus.core.spec import HaproxyRouting


class Injected(AssertionError):
    pass


def words_of(line: str) -> list[str]:
    """One configuration line as HAProxy's parser splits it (single quotes literal)."""
    words: list[str] = []
    current: list[str] | None = None
    quoted = escaped = False
    for char in line:
        if escaped:  # only `\'` (a quote between two quoted parts) is ever written
            if char != "'":
                raise Injected(f"an escape of {char!r} in {line!r}")
            assert current is not None
            current.append(char)
            escaped = False
            continue
        if quoted:
            if char == "'":
                quoted = False
            else:
                assert current is not None
                current.append(char)
            continue
        if char in " \t":
            if current is not None:
                words.append("".join(current))
                current = None
            continue
        if char == "#":
            break
        if char in '$"':
            raise Injected(f"unquoted {char!r} in {line!r}")
        current = current if current is not None else []
        if char == "\\":
            escaped = True
        elif char == "'":
            quoted = True
        else:
            current.append(char)
    if quoted or escaped:
        raise Injected(f"unterminated quote or escape in {line!r}")
    if current is not None:
        words.append("".join(current))
    return words


# The only line with double quotes: a fixed text of the preview backend, never fuzzed.
FIXED = '    http-request return status 503 content-type text/plain string "no preview\\n"'


def directives(text: str) -> list[list[str]]:
    parsed: list[list[str]] = []
    for line in text.split("\n"):
        if "\r" in line or "\x00" in line:
            raise Injected(f"a carriage return or NUL in {line!r}")
        if line == FIXED:
            parsed.append(["<fixed>"])
            continue
        found = words_of(line)
        if found:
            parsed.append(found)
    return parsed


def shape(parsed: list[list[str]]) -> list[tuple[str, int]]:
    return [(words[0], len(words)) for words in parsed]


@dataclass(frozen=True)
class Case:
    name: str
    bind_address: str
    admin_socket: str
    health_check_path: str
    route_name: str
    header: str
    value: str
    kind: str
    host: str
    retry_on: str

    def inputs(self) -> ConfigInputs:
        routing = HaproxyRouting.model_construct(
            bind_address=self.bind_address,
            port=8080,
            preview_port=8081,
            stats_port=8404,
            attach=False,
            retry_on=[self.retry_on],
            admin_socket=self.admin_socket,
            binary="haproxy",
        )
        rule = HeaderRule(self.header, self.kind, self.value)  # type: ignore[arg-type]
        return ConfigInputs(
            name=self.name,
            routing=routing,
            admin_socket=Path(self.admin_socket),
            routes_map=Path("/run/s/routes.map"),
            preview_map=Path("/run/s/preview.map"),
            health_check_path=self.health_check_path,
            header_routes=(DeclaredRoute(self.route_name, ((rule,),)),),
        )

    def state(self) -> RouterState:
        return RouterState.empty(2).with_slots("blue", (Slot(self.host, 9000, True), None))


HARMLESS = Case(
    name="web",
    bind_address="127.0.0.1",
    admin_socket="/run/s/admin.sock",
    health_check_path="/healthz",
    route_name="testers",
    header="X-Canary",
    value="always",
    kind="exact",
    host="127.0.0.1",
    retry_on="conn-failure",
)
EXPECTED = directives(render_config(HARMLESS.inputs(), HARMLESS.state()))

HOSTILE = st.text(
    alphabet=st.one_of(
        st.sampled_from(list(" \t\n\r\x00\x0b\x0c#'\"\\$;{}(),%:/*\u2028\x85")),
        st.characters(codec="utf-8"),
    ),
    max_size=40,
)
INJECTIONS = st.sampled_from(
    [
        "\n    server evil 10.0.0.66:80",
        " ssl crt /etc/passwd",
        "' if TRUE\n    use_backend be_green",
        "#",
        "'",
        '"$HOME"',
        "\\",
        "; shutdown frontend main",
        ") -m found || req.fhdr(",
        "\r\nglobal",
    ]
)


def fuzzed(valid: str) -> st.SearchStrategy[str]:
    """The valid value, hostile text, or the valid value with an injection appended."""
    return st.one_of(
        st.just(valid), HOSTILE, st.builds(lambda tail: valid + tail, INJECTIONS | HOSTILE)
    )


VALID_BIND = st.sampled_from(["127.0.0.1", "::1", "*", "localhost"])
ONE_FIELD = st.sampled_from([f for f in HARMLESS.__dict__ if f != "kind"]).flatmap(
    lambda field: st.builds(
        lambda value, kind: Case(**{**HARMLESS.__dict__, field: value, "kind": kind}),
        fuzzed(getattr(HARMLESS, field)),
        st.sampled_from(["exact", "prefix", "regex"]),
    )
)
CASES = ONE_FIELD | st.builds(
    Case,
    name=fuzzed("web"),
    bind_address=VALID_BIND | fuzzed("127.0.0.1"),
    admin_socket=fuzzed("/run/s/admin.sock"),
    health_check_path=fuzzed("/healthz"),
    route_name=fuzzed("testers"),
    header=fuzzed("X-Canary"),
    value=fuzzed("always"),
    kind=st.sampled_from(["exact", "prefix", "regex"]),
    host=fuzzed("127.0.0.1"),
    retry_on=fuzzed("conn-failure"),
)
FIELDS = (
    "bindAddress",
    "adminSocket",
    "readiness.path",
    "setHeaderRoute",
    "headerName",
    "headerValue",
    "server blue-0 host",
    "retryOn",
)


@settings(max_examples=1500, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(CASES)
def test_no_input_adds_a_line_a_word_or_a_directive(case: Case) -> None:
    try:
        text = render_config(case.inputs(), case.state())
    except InvalidInput as exc:
        assert any(field in problem for problem in exc.problems for field in FIELDS), exc
        event("refused")
        return
    event("rendered")
    parsed = directives(text)
    assert shape(parsed) == shape(EXPECTED), text
    acl = next(words for words in parsed if words[0] == "acl")
    value = f"^(?:{case.value})$" if case.kind == "regex" else case.value
    assert (acl[2], acl[-1]) == (f"req.fhdr({case.header})", value)
    assert all(ch not in case.header for ch in "(),'"), "the fetch argument is one name"


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"bind_address": "127.0.0.1:80 ssl"}, "trafficRouting.haproxy.bindAddress"),
        ({"admin_socket": "/run/a.sock level admin\nx"}, "trafficRouting.haproxy.adminSocket"),
        ({"health_check_path": "/h HTTP/1.1\nserver x"}, "workload.process.readiness.path"),
        ({"header": "X'Y"}, "match[0].headerName"),
        ({"value": "a\nb"}, "match[0].headerValue.exact"),
        ({"route_name": "t x"}, "setHeaderRoute.name"),
        ({"host": "1.2.3.4; shutdown"}, "server blue-0 host"),
        ({"retry_on": "all\n"}, "trafficRouting.haproxy.retryOn[0]"),
    ],
)
def test_a_hostile_value_is_refused_naming_its_field(change: dict[str, str], field: str) -> None:
    case = Case(**{**HARMLESS.__dict__, **change})
    with pytest.raises(InvalidInput, match=field.replace("[", r"\[").replace("]", r"\]")):
        render_config(case.inputs(), case.state())


def test_the_harmless_rendering_is_what_the_tokenizer_expects() -> None:
    acl = next(words for words in EXPECTED if words[0] == "acl")
    assert acl == ["acl", "hr_testers_0_0", "req.fhdr(X-Canary)", "-m", "str", "always"]
    assert ["option", "httpchk", "GET", "/healthz"] in EXPECTED
    with pytest.raises(Injected):
        directives('    bind "$X":80')
    assert directives("    bind 1.2.3.4:80 # x ' y") == [["bind", "1.2.3.4:80"]]

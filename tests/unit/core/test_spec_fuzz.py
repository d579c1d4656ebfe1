"""Fuzzing the spec: mutants of valid specs through `serinus lint`'s function and the operator's.

Every mutant is bytes handed to `load_document` (what `serinus lint` calls), so encoding and
YAML problems are covered as well as field values; the parsed ones also go through
`rollout_of`, which the operator uses to read a Rollout object from the API server. Two numbers
must be zero:

- tracebacks: any exception other than InvalidInput (lint) or pydantic's ValidationError
  (operator), or an InvalidInput whose problem is not one line;
- clearly invalid specs accepted, by `clearly_invalid` below: a NaN or infinite number, a
  negative or longer-than-a-year duration, a duration text of more than 32 characters, a string
  over 16 KiB (64 KiB in free-form sections: pod templates, Helm values, Job specs), a NUL
  anywhere or another control character outside free text, a list of more than 1,000 items, an
  integer beyond 64 bits.

Seeded and deterministic; `SERINUS_FUZZ_COUNT` raises the count (default 10,000, ~20 s).
"""

from __future__ import annotations

import copy
import json
import math
import os
import random
import traceback
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from serinus.adapters.stores.rollout_resource import rollout_of
from serinus.core.documents import parse_text
from serinus.core.errors import InvalidInput
from serinus.core.spec import load_document

ROOT = Path(__file__).resolve().parents[3]
COUNT = int(os.environ.get("SERINUS_FUZZ_COUNT", "10000"))
SEED = int(os.environ.get("SERINUS_FUZZ_SEED", "20261201"))

DURATION_KEYS = frozenset(
    {
        "progressDeadlineSeconds", "timeoutSeconds", "periodSeconds", "duration",
        "scaleDownDelay", "abortScaleDownDelay", "timeout", "interval", "initialDelay",
        "autoPromotionSeconds", "terminationGraceSeconds", "start", "end", "step",
    }
)  # fmt: skip
# Keys of free-form sections (their content is the user's own Kubernetes/Helm data).
FREE_FORM_KEYS = frozenset({"template", "values"})
# Free text: instructions, queries, bodies, annotations may hold line breaks and tabs.
MULTI_LINE_KEYS = frozenset(
    {"instructions", "query", "baselineQuery", "canaryQuery", "body", "successCondition",
     "failureCondition", "value", "command", "env", "annotations", "args"}
)  # fmt: skip

PROMETHEUS = {
    "address": "http://prometheus:9090",
    "query": 'sum(rate(x{v="{{canary.version}}"}[1m]))',
}
INLINE_ROLLOUT: dict[str, Any] = {
    "apiVersion": "serinus.io/v1alpha1",
    "kind": "Rollout",
    "metadata": {"name": "shop", "labels": {"team": "a"}, "annotations": {"note": "x\ny"}},
    "spec": {
        "version": "v2",
        "workload": {
            "process": {
                "command": ["app", "--port", "{port}"],
                "replicas": 3,
                "env": {"MODE": "{version}"},
                "readiness": {"path": "/healthz", "timeoutSeconds": "2s", "periodSeconds": 0.5},
                "warmup": {"path": "/", "requests": 5},
                "terminationGraceSeconds": 3,
            }
        },
        "trafficRouting": {"haproxy": {"port": 8081, "statsPort": 8405, "retryOn": ["503"]}},
        "strategy": {
            "blueGreenCanary": {
                "steps": [
                    {"setHeaderRoute": {"name": "t", "match": [
                        {"headerName": "X-Canary", "headerValue": {"regex": "^y"}}]}},
                    {"setWeight": 10},
                    {"pause": {"duration": "1m30s"}},
                    {"analysis": {"templates": ["errors", "latency"], "args": {"limit": "0.05"}}},
                    {"judgement": {
                        "instructions": "Look at {{ canary.version }}",
                        "inputs": [{"name": "ticket", "required": True, "options": ["a", "b"]}],
                        "timeout": "30m",
                        "requiredRoles": ["sre"],
                    }},
                    {"setWeight": 100},
                ],
                "analysis": {"templates": ["errors"], "startingStep": 1, "args": {"limit": "0.1"}},
                "scaleDownDelay": "30s",
                "abortScaleDownDelay": 10,
            }
        },
        "progressDeadlineSeconds": 300,
        "notifications": {
            "channels": [
                {"name": "ops", "slack": {"webhookUrlFrom": {"env": "SLACK"}, "channel": "#ops"}},
                {"name": "mail", "email": {"host": "smtp.example.com", "from": "a@b.c",
                                           "to": ["d@e.f"], "timeoutSeconds": 5}},
                {"name": "hook", "webhook": {"url": "https://hooks.example.com/x",
                                             "secretFrom": {"env": "HOOK"},
                                             "headers": {"X-Team": "shop"}}},
            ],
            "subscriptions": [{"channel": "ops", "events": ["*"]}, {"channel": "mail"}],
        },
        "analysisTemplates": [
            {
                "name": "errors",
                "args": [{"name": "limit", "value": "0.05"}],
                "metrics": [
                    {
                        "name": "error-ratio",
                        "interval": "10s",
                        "count": 3,
                        "failureLimit": 1,
                        "initialDelay": "5s",
                        "successCondition": "result[0] < {{args.limit}}",
                        "provider": {"prometheus": {**PROMETHEUS, "timeout": "5s",
                                                    "range": {"start": "5m", "step": "15s"}}},
                    },
                    {
                        "name": "health",
                        "failureCondition": "result[0] == 0",
                        "provider": {"web": {"url": "http://shop/{{rollout.name}}",
                                             "jsonPath": "$.ok",
                                             "headers": [{"key": "X-A", "value": "1"}],
                                             "method": "POST", "body": "{}"}},
                    },
                ],
            },
            {
                "name": "latency",
                "metrics": [
                    {
                        "name": "p95",
                        "comparison": {
                            "provider": {"prometheus": {"address": "http://prometheus:9090",
                                                        "range": {"start": "10m", "step": "30s"}}},
                            "baselineQuery": "q{c='{{stable.color}}'}",
                            "canaryQuery": "q{c='{{canary.color}}'}",
                            "canaryConfig": {"direction": "increase",
                                             "effectSize": {"allowedIncrease": 1.2}},
                            "judge": {"tolerance": 0.2, "confidenceLevel": 0.95},
                        },
                    },
                    {"name": "smoke", "successCondition": "result[0] == 1",
                     "provider": {"command": {"command": ["true"], "timeout": 10}}},
                ],
            },
        ],
    },
}  # fmt: skip
OTHER_STRATEGIES: list[dict[str, Any]] = [
    {"blueGreen": {"autoPromotion": False, "autoPromotionSeconds": 60, "scaleDownDelay": 5}},
    {"rollingUpdate": {"maxSurge": 2, "maxUnavailable": 1}},
    {"canary": {"steps": [{"setWeight": 50}, {"pause": {}}]}},
]
INLINE_TEMPLATE = {
    "apiVersion": "serinus.io/v1alpha1",
    "kind": "AnalysisTemplate",
    "metadata": {"name": "errors"},
    "spec": {
        k: v for k, v in INLINE_ROLLOUT["spec"]["analysisTemplates"][0].items() if k != "name"
    },
}


def seeds() -> list[bytes]:
    files = sorted(ROOT.glob("examples/**/rollout.yaml"))
    files += sorted((ROOT / "tests/unit/adapters/kube/rollouts").glob("*.yaml"))
    found = [path.read_bytes() for path in files]
    found.append(yaml.safe_dump(INLINE_ROLLOUT).encode())
    found.append(json.dumps(INLINE_TEMPLATE).encode())
    for strategy in OTHER_STRATEGIES:
        document = copy.deepcopy(INLINE_ROLLOUT)
        document["spec"]["strategy"] = strategy
        document["spec"]["trafficRouting"] = {"istio": {"virtualService": {"name": "shop"}}}
        found.append(yaml.safe_dump(document).encode())
    return found


# --- mutations ---------------------------------------------------------------------------------


def hostile_value(rng: random.Random) -> Any:
    choices: list[Any] = [
        math.nan, math.inf, -math.inf, 1e308, -1, -0.5, 0, 10**30, 2**63, 1e-300, True, None,
        "", " ", "30 s", "1" * 400 + "s", "-5s", "nan", ".inf", "1e999", "1d", "99999999h",
        "a\x00b", "line\nbreak", "tab\there", "\x1b[31m", "\u202e", "x" * rng.choice(
            [100, 1025, 4097, 16_385, 70_000]), ["x"] * rng.choice([2, 101, 1001]), [], {},
        {"unknown": 1}, "{{canary.selector}}", "{{args.nope}}", "--flag", "/tmp/a b",
        "http://x/ y", "0.0.0.0 ssl crt /etc/x", "\xff\udcff", 3.5, "5m", 65536, 101, 200,
        201, "é" * 20,
    ]  # fmt: skip
    return rng.choice(choices)


def paths(data: Any, prefix: tuple[Any, ...] = ()) -> Iterator[tuple[Any, ...]]:
    if isinstance(data, dict):
        for key, value in data.items():
            yield (*prefix, key)
            yield from paths(value, (*prefix, key))
    elif isinstance(data, list):
        for index, value in enumerate(data):
            yield (*prefix, index)
            yield from paths(value, (*prefix, index))


def parent_of(data: Any, path: tuple[Any, ...]) -> Any:
    for part in path[:-1]:
        data = data[part]
    return data


def mutate_data(rng: random.Random, data: Any) -> str:
    chosen = rng.choice(list(paths(data)))
    parent, last = parent_of(data, chosen), chosen[-1]
    op = rng.random()
    if op < 0.55:
        parent[last] = hostile_value(rng)
        return f"{chosen} = hostile"
    if op < 0.65 and isinstance(parent, dict):
        del parent[last]
        return f"del {chosen}"
    if op < 0.75 and isinstance(parent, list):
        parent.append(copy.deepcopy(parent[last]))
        return f"duplicate {chosen}"
    if op < 0.85:
        other = rng.choice(list(paths(data)))
        parent[last] = copy.deepcopy(parent_of(data, other)[other[-1]])
        return f"{chosen} = {other}"
    if isinstance(parent, dict):
        parent[f"x{rng.randint(0, 9)}"] = parent[last]
        return f"unknown key beside {chosen}"
    parent[last] = [parent[last]]
    return f"wrap {chosen}"


def mutate_bytes(rng: random.Random, raw: bytes) -> tuple[str, bytes]:
    op = rng.randrange(7)
    at = rng.randrange(len(raw) + 1)
    if op == 0:
        return "flip byte", raw[:at] + bytes([rng.randrange(256)]) + raw[at + 1 :]
    if op == 1:
        return "truncate", raw[:at]
    if op == 2:
        return "invalid UTF-8", raw[:at] + rng.choice([b"\xff", b"\xc3", b"\xed\xa0\x80"]) + raw[
            at:
        ]
    if op == 3:
        depth = rng.choice([70, 1000, 100_000])
        return "deep nesting", raw[:at] + b"[" * depth + raw[at:]
    if op == 4:
        bomb = b"".join(
            f"{n}: &{n} [{', '.join([f'*{p}'] * 9)}]\n".encode()
            for p, n in zip("abcdef", "bcdefg", strict=True)
        )
        return "aliases bomb", b"a: &a [x, x, x, x, x, x, x, x, x]\n" + bomb + raw
    if op == 5:
        return "oversize", raw + b"\n# " + b"x" * (1 << 20)
    return "control bytes", raw[:at] + rng.choice([b"\x00", b"\x07", b"\x1b", b"\r"]) + raw[at:]


DUMPER = getattr(yaml, "CSafeDumper", yaml.SafeDumper)


def mutants(count: int) -> Iterator[tuple[str, bytes, Any]]:
    """(what was done, the bytes, the data they hold or None for byte-level mutants)."""
    rng = random.Random(SEED)
    pool = seeds()
    parsed = [yaml.safe_load(raw) for raw in pool]
    for _ in range(count):
        index = rng.randrange(len(pool))
        if rng.random() < 0.2:
            yield (*mutate_bytes(rng, pool[index]), None)
            continue
        data = copy.deepcopy(parsed[index])
        what = "; ".join(mutate_data(rng, data) for _ in range(rng.choice([1, 1, 1, 2, 3])))
        as_json = rng.random() < 0.7  # the YAML parser reads both; JSON is quicker to write
        try:
            text = json.dumps(data) if as_json else yaml.dump(data, Dumper=DUMPER)
        except (UnicodeEncodeError, ValueError):  # a lone surrogate: JSON escapes it
            text = json.dumps(data)
        yield what, text.encode("utf-8", "surrogatepass"), data


# --- the predicate -----------------------------------------------------------------------------


def clearly_invalid(
    data: Any, path: str = "", free: bool = False, text: bool = False
) -> str | None:
    if isinstance(data, float) and not math.isfinite(data):
        return f"{path}: {data}"
    if isinstance(data, int) and not isinstance(data, bool) and abs(data) >= 2**63:
        return f"{path}: {data} beyond 64 bits"
    if isinstance(data, str):
        if len(data) > (65_536 if free else 16_384):
            return f"{path}: a string of {len(data)} characters"
        if "\x00" in data:
            return f"{path}: NUL"
        allowed = "\t\n\r" if (free or text) else ""
        if any((ord(c) < 32 or ord(c) == 127) and c not in allowed for c in data):
            return f"{path}: control character"
    if isinstance(data, list):
        if len(data) > 1000 and not free:
            return f"{path}: a list of {len(data)} items"
        for index, item in enumerate(data):
            found = clearly_invalid(item, f"{path}[{index}]", free, text)
            if found:
                return found
    if isinstance(data, dict):
        for key, value in data.items():
            where = f"{path}.{key}"
            if not free and key in DURATION_KEYS:
                number = isinstance(value, int | float) and not isinstance(value, bool)
                if number and (value < 0 or value > 365 * 86400):
                    return f"{where}: duration {value}"
                if isinstance(value, str) and len(value) > 32:
                    return f"{where}: duration text of {len(value)} characters"
            free_form = key in FREE_FORM_KEYS or where.endswith(".job.spec")
            found = clearly_invalid(value, where, free or free_form, text or key in MULTI_LINE_KEYS)
            if found:
                return found
    return None


# --- the run -----------------------------------------------------------------------------------


def lint_outcome(raw: bytes) -> tuple[bool, str | None]:
    """(accepted, traceback or None) of `serinus lint`'s function on these bytes."""
    try:
        load_document(raw, "fuzz")
    except InvalidInput as exc:
        bad = [p for p in exc.problems if "\n" in p]
        return False, f"multi-line problem: {bad[0]!r}" if bad else None
    except Exception:
        return False, traceback.format_exc(limit=4)
    return True, None


def operator_outcome(data: Any) -> tuple[bool, str | None]:
    """(accepted, traceback or None) of the operator's reading of a Rollout object."""
    spec = data.get("spec") if isinstance(data, dict) else None
    if not isinstance(spec, dict):  # the API server's schema guarantees an object
        return False, None
    try:
        rollout_of({"metadata": {"name": "fuzz", "namespace": "default"}, "spec": spec})
    except ValidationError:
        return False, None
    except Exception:
        return False, traceback.format_exc(limit=4)
    return True, None


def test_seeds_are_valid() -> None:
    for raw in seeds():
        assert lint_outcome(raw) == (True, None), raw[:200]


def test_fuzzed_specs_never_traceback_and_clearly_invalid_ones_are_refused() -> None:
    tracebacks: list[str] = []
    accepted_invalid: list[str] = []
    accepted = 0
    for what, raw, data in mutants(COUNT):
        ok, crash = lint_outcome(raw)
        if crash:
            tracebacks.append(f"{what}: {crash}")
        elif ok and (why := clearly_invalid(parse_text(raw, "fuzz"))):
            accepted_invalid.append(f"lint accepted {what}: {why}")
        accepted += ok
        if data is None:
            continue  # the operator reads objects, not text: no byte-level mutants there
        operator_ok, crash = operator_outcome(data)
        if crash:
            tracebacks.append(f"operator, {what}: {crash}")
        elif operator_ok and (why := clearly_invalid(data.get("spec"), "spec")):
            accepted_invalid.append(f"the operator accepted {what}: {why}")
    assert tracebacks[:3] == [] and len(tracebacks) == 0
    assert accepted_invalid[:5] == [] and len(accepted_invalid) == 0
    # The mutants must also exercise the accepting path, not only the refusals.
    assert accepted > COUNT // 20

"""What a Rollout may ask of serinus when serinus runs with more rights than its author.

In the cluster (the operator, `serinus lint --cluster`) whoever can write a Rollout must not be
able to run code in the operator's pod or read its environment:

- `ExecutionNotAllowed`: the `process` workload, the `command` metric provider, the `haproxy`
  router (it runs HAProxy in the operator's pod with the author's ports and paths) and every
  author-chosen binary (`workload.helm.helmBinary`). Checks
  that run code are Kubernetes Jobs (`provider.job`). Only an operator started with
  `--allow-author-commands` lets these through;
- `SecretSourceNotAllowed`: secret references to the environment (`{env: NAME}`); in the
  cluster secrets come only from Secrets in the Rollout's namespace. No flag allows these.

The walk goes over the validated models, so a new model holding one of these is found wherever
it sits. Local mode never calls this: there the author is the user.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from pydantic import BaseModel

from serinus.core.analysis.spec import CommandSource, FromEnv
from serinus.core.notification_spec import SecretRef
from serinus.core.spec import HaproxyRouting, ProcessWorkload
from serinus.core.workload_spec import HelmWorkload

EXECUTION = "ExecutionNotAllowed"
SECRET_SOURCE = "SecretSourceNotAllowed"
ALLOW_FLAG = "--allow-author-commands"
DEFAULT_HAPROXY = HaproxyRouting.model_fields["binary"].default  # the factory's own check


@dataclass(frozen=True)
class Refusal:
    reason: str  # EXECUTION or SECRET_SOURCE
    field: str  # the spec path, e.g. spec.workload.process
    message: str

    def __str__(self) -> str:
        return f"{self.field}: {self.message}"


def cluster_refusals(
    model: BaseModel, path: str = "", *, allow_author_commands: bool = False
) -> list[Refusal]:
    """Everything in `model` (a Rollout or an AnalysisTemplate) the cluster mode refuses."""
    found = list(_refusals(model, path))
    if allow_author_commands:
        found = [refusal for refusal in found if refusal.reason != EXECUTION]
    return found


def describe(refusals: list[Refusal]) -> tuple[str, str]:
    """The condition's (reason, message) for a non-empty list: execution first, then secrets."""
    reason = EXECUTION if any(r.reason == EXECUTION for r in refusals) else SECRET_SOURCE
    return reason, "; ".join(str(refusal) for refusal in refusals)


def _refusals(model: BaseModel, path: str) -> Iterator[Refusal]:
    own = _refusal_of(model, path)
    if own is not None:
        yield own
        return
    for name, field in type(model).model_fields.items():
        child = getattr(model, name)
        yield from _walk(child, _join(path, field.alias or name))


def _walk(value: object, path: str) -> Iterator[Refusal]:
    if isinstance(value, BaseModel):
        yield from _refusals(value, path)
    elif isinstance(value, list | tuple):
        for index, item in enumerate(value):
            yield from _walk(item, f"{path}[{index}]")
    elif isinstance(value, dict):
        for key, item in value.items():
            yield from _walk(item, _join(path, str(key)))


def _refusal_of(model: BaseModel, path: str) -> Refusal | None:
    if isinstance(model, ProcessWorkload):
        why = "the process workload runs commands in the operator's pod; use deployment or helm"
        return _execution(path, why)
    if isinstance(model, CommandSource):
        return _execution(
            path, "the command provider runs a command in the operator's pod; use job"
        )
    if isinstance(model, HaproxyRouting):
        # Even its own haproxy would run in the operator's pod with the author's configuration
        # (ports, bind address, admin socket path, attach to any socket).
        why = (
            "the haproxy router runs HAProxy in the operator's pod with the Rollout's "
            "configuration; in a cluster use istio, gatewayAPI or nginx"
        )
        return _execution(path, why)
    if isinstance(model, HelmWorkload) and model.helm_binary is not None:
        why = "an author-chosen binary; the operator runs only its own helm ($SERINUS_HELM)"
        return _execution(_join(path, "helmBinary"), why)
    if isinstance(model, FromEnv) or (isinstance(model, SecretRef) and model.env is not None):
        return Refusal(
            SECRET_SOURCE,
            _join(path, "env"),
            "the operator never reads its own environment for a Rollout; use "
            "secretKeyRef: {name, key} (a Secret in the Rollout's namespace)",
        )
    return None


def _execution(path: str, why: str) -> Refusal:
    return Refusal(EXECUTION, path, f"{why} (only an operator started with {ALLOW_FLAG} runs it)")


def _join(path: str, name: str) -> str:
    return f"{path}.{name}" if path else name

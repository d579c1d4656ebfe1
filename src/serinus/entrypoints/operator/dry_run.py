"""The operator's dry-run annotation: `serinus.io/dry-run: "true"` on a Rollout.

While a Rollout carries it, the operator performs nothing for it: no reconcile, no adapter
write, no status write. Instead it plans the rollout from its recorded status, as
`serinus plan -n` does (the real engine on a copy, every object write sent to the API server
as a server-side dry-run, `app/plan_cluster.py`), and shows the plan in a ConfigMap
`<rollout>-serinus-plan` in the Rollout's namespace, owned by the Rollout (deleted with it):

- `plan.json`: the plan as data (the same document as `serinus plan -n NS -o json`);
- `summary`: one line (how many object writes the API server accepted; the final state, or
  why the plan stops).

The ConfigMap is annotated with the Rollout's resourceVersion it was planned for, so a driver
polling a Rollout under dry-run plans again only when the Rollout changed (a new spec, an
operation). Remove the annotation (or set it to anything but "true") and the next reconcile
performs the rollout. What the cluster policy refuses (`app/cluster_policy.py`) is refused
here too: the plan then says why, and nothing is planned.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from serinus.adapters.kube.client import KubeClient, Object
from serinus.adapters.kube.dry_run import DryRunClient
from serinus.adapters.kube.errors import AlreadyExists
from serinus.adapters.kube.resources import CONFIGMAPS, ObjectRef
from serinus.adapters.platforms.kube_workloads import MANAGED_BY, ROLLOUT_LABEL
from serinus.adapters.stores import rollout_resource as documents
from serinus.app.cluster_policy import cluster_refusals, describe
from serinus.app.engine import Reconciled
from serinus.app.plan_cluster import plan_data, plan_on_cluster
from serinus.core.status import Observed, RolloutStatus

ANNOTATION = "serinus.io/dry-run"
PLANNED_FOR = "serinus.io/planned-for"  # the Rollout's resourceVersion the plan is of
SUFFIX = "-serinus-plan"


def requested(body: Mapping[str, Any]) -> bool:
    """True when the Rollout asks for a dry-run (the annotation is "true")."""
    annotations = (body.get("metadata") or {}).get("annotations") or {}
    return str(annotations.get(ANNOTATION, "")).strip().lower() == "true"


def plan_name(rollout: str) -> str:
    return f"{rollout}{SUFFIX}"


async def show_dry_run(
    client: KubeClient,
    body: Mapping[str, Any],
    *,
    allow_author_commands: bool,
    state_dir: Path,
    clock: Callable[[], float] = time.time,
) -> Reconciled:
    """Plan the Rollout `body` and write the plan's ConfigMap; perform nothing else.

    Returns what the driver's loop expects of a reconcile: the recorded status, unchanged, and
    no decision (so it polls, and plans again only when the Rollout changes)."""
    metadata = body.get("metadata") or {}
    namespace, name = str(metadata.get("namespace") or ""), str(metadata.get("name") or "")
    version = str(metadata.get("resourceVersion") or "")
    status = _recorded(body)
    reconciled = Reconciled(status or RolloutStatus(), Observed(), None)
    ref = ObjectRef(CONFIGMAPS, namespace, plan_name(name))
    shown = await client.get_or_none(ref)
    if shown is not None and _annotations(shown).get(PLANNED_FOR) == version:
        return reconciled  # this very Rollout is planned already
    data, summary = await _planned(client, body, status, allow_author_commands, state_dir, clock)
    wanted = _configmap(body, data, summary)
    if shown is None:
        try:
            await client.create(CONFIGMAPS, namespace, wanted)
            return reconciled
        except AlreadyExists:
            pass  # written meanwhile (another replica): update it below
    await client.read_modify_write(ref, lambda current: _updated(current, wanted))
    return reconciled


def _recorded(body: Mapping[str, Any]) -> RolloutStatus | None:
    try:
        return documents.serinus_status(documents.status_of(body))
    except (ValidationError, KeyError, TypeError, ValueError):
        return None  # an unreadable status: plan from nothing, as a first rollout


async def _planned(
    client: KubeClient,
    body: Mapping[str, Any],
    status: RolloutStatus | None,
    allow_author_commands: bool,
    state_dir: Path,
    clock: Callable[[], float],
) -> tuple[dict[str, Any], str]:
    try:
        rollout = documents.rollout_of(body)
    except ValidationError as exc:
        why = f"the Rollout's spec cannot be run: {exc}"
        return {"stopped": why}, f"dry-run: nothing planned: {why}"
    refusals = cluster_refusals(rollout, allow_author_commands=allow_author_commands)
    if refusals:
        reason, message = describe(refusals)
        return {"stopped": f"{reason}: {message}"}, f"dry-run: nothing planned: {reason}: {message}"
    dry = DryRunClient(client.connection)
    try:
        plan, checked = await plan_on_cluster(
            rollout, dry, clock(), state_dir=state_dir, current=(rollout, status)
        )
    finally:
        await dry.close()
    writes = checked.all()
    accepted = sum(1 for change in writes if change.checked)
    stopped = plan.stopped or checked.stopped
    final = plan.final
    if stopped is not None:
        outcome = f"the plan stops: {stopped}"
    elif final is not None:
        stable = final.stable.version if final.stable is not None else "none"
        outcome = f"the plan ends {final.phase}, stable {stable}"
    else:
        outcome = "nothing to do"
    summary = (
        f"dry-run of {rollout.spec.version}: {len(plan.entries)} plan entries, "
        f"{accepted} of {len(writes)} object writes accepted by the API server; {outcome}"
    )
    return plan_data(plan, checked), summary


def _annotations(obj: Mapping[str, Any]) -> Mapping[str, Any]:
    return (obj.get("metadata") or {}).get("annotations") or {}


def _configmap(body: Mapping[str, Any], data: Mapping[str, Any], summary: str) -> Object:
    metadata = body.get("metadata") or {}
    name = str(metadata.get("name") or "")
    owner = {
        "apiVersion": documents.ROLLOUTS.api_version,
        "kind": documents.ROLLOUTS.kind,
        "name": name,
        "uid": metadata.get("uid"),
    }
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {
            "name": plan_name(name),
            "namespace": metadata.get("namespace"),
            "labels": {**MANAGED_BY, ROLLOUT_LABEL: name},
            "annotations": {PLANNED_FOR: str(metadata.get("resourceVersion") or "")},
            "ownerReferences": [owner] if metadata.get("uid") else [],
        },
        "data": {
            "plan.json": json.dumps(data, indent=2, sort_keys=True),
            "summary": summary,
        },
    }


def _updated(current: Object, wanted: Object) -> Object:
    """The shown ConfigMap with the new plan and planned-for annotation; others' keys stay."""
    metadata = dict(current.get("metadata") or {})
    annotations = {**(metadata.get("annotations") or {}), **wanted["metadata"]["annotations"]}
    return {**current, "metadata": {**metadata, "annotations": annotations}, "data": wanted["data"]}

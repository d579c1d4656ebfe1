"""`serinus plan FILE`: every write the rollout would make, step by step, and nothing written.

The plan comes from `app/planning.py` (the real engine on in-memory adapters); this module reads
the rollout's current spec and status from the local store, or in the cluster mode (`-n`,
`--kubeconfig`, `--context`) from the Rollout in the cluster, whose object writes the API server
then checks with server-side dry-run (`app/plan_cluster.py`), and renders the plan as text or
JSON.
"""

from __future__ import annotations

import json
import tempfile
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer

from serinus.app.planning import ASSUMPTIONS, Plan, PlanEntry, PlannedAction, plan_rollout
from serinus.core.spec import Rollout
from serinus.core.status import RolloutStatus
from serinus.core.strategy.plan import plan_for
from serinus.entrypoints.cli.clock import duration
from serinus.entrypoints.cli.cluster import (
    CONTEXT,
    KUBECONFIG,
    NAMESPACE,
    ClusterTarget,
    cluster_target,
    require_kubernetes_extra,
)
from serinus.entrypoints.cli.local import run_async, settings
from serinus.entrypoints.cli.main import app
from serinus.entrypoints.cli.output import check_output, fail, print_json
from serinus.entrypoints.cli.rollouts import read_rollout
from serinus.entrypoints.describing import spoken

if TYPE_CHECKING:  # the objects module loads the Kubernetes client: only for such workloads
    from serinus.app.plan_cluster import CheckedObjects
    from serinus.app.plan_objects import ObjectChange

KUBERNETES_NOTE = {
    "deployment": "the Deployments and Services are derived from the recorded status, not read "
    "from the API server (no server-side dry-run yet); routing objects are not shown",
    "helm": "the Helm release's objects and their diffs are not shown (no server-side dry-run "
    "yet): the plan lists the engine's actions only",
}


@app.command()
def plan(
    file: Path = typer.Argument(..., help="Rollout YAML or JSON ('-' for stdin)."),
    output: str = typer.Option("table", "--output", "-o", help="Output format: table or json."),
    namespace: str | None = NAMESPACE,
    kubeconfig: Path | None = KUBECONFIG,
    context: str | None = CONTEXT,
) -> None:
    """Show every action a rollout would take from its current state."""
    check_output(output, ("table", "json"))
    show_plan(read_rollout(file), output, cluster_target(namespace, kubeconfig, context))


def show_plan(rollout: Rollout, output: str, cluster: ClusterTarget | None = None) -> None:
    """Plan `rollout` from the local store's state and print it (also `run --dry-run`); in the
    cluster mode from the Rollout in the cluster, its writes checked with server-side dry-run."""
    if cluster is not None:
        _show_cluster_plan(_in_namespace(rollout, cluster), output, cluster)
        return
    result = run_async(lambda: _plan(rollout))
    objects = None
    if rollout.spec.workload.deployment is not None:
        from serinus.app.plan_objects import object_changes

        objects = object_changes(rollout, result.start, result.actions())
    note = KUBERNETES_NOTE.get(rollout.spec.workload.kind)
    if output == "json":
        data = result.to_data()
        if objects is not None:
            data["objects"] = [change.to_data() for change in objects]
        if note is not None:
            data["note"] = note
        print_json(data)
    else:
        for line in [*render(result), *_object_lines(objects)]:
            typer.echo(line)
        if note is not None:
            typer.echo(f"Note: {note}.")
        typer.echo("Nothing was written.")
    if result.stopped is not None:
        raise typer.Exit(1)


def _in_namespace(rollout: Rollout, cluster: ClusterTarget) -> Rollout:
    """The rollout in `-n`'s namespace; a file naming another one is refused (as kubectl)."""
    wanted, named = cluster.namespace, rollout.metadata.namespace
    if wanted is None or wanted == named:
        return rollout
    if named != "default":
        fail(f"metadata.namespace: the file says {named!r}, --namespace says {wanted!r}", code=2)
    metadata = rollout.metadata.model_copy(update={"namespace": wanted})
    return rollout.model_copy(update={"metadata": metadata})


def _show_cluster_plan(rollout: Rollout, output: str, cluster: ClusterTarget) -> None:
    require_kubernetes_extra()
    from serinus.app.plan_cluster import NOTE, plan_data

    result, checked = run_async(lambda: _plan_on_cluster(rollout, cluster))
    if output == "json":
        print_json(plan_data(result, checked))
    else:
        for line in render(result, checked):
            typer.echo(line)
        typer.echo(f"Note: {NOTE}.")
        typer.echo("Nothing was written.")
    if result.stopped is not None or checked.stopped is not None:
        raise typer.Exit(1)


async def _plan_on_cluster(rollout: Rollout, cluster: ClusterTarget) -> tuple[Plan, CheckedObjects]:
    from serinus.adapters.kube.connection import auto
    from serinus.adapters.kube.dry_run import DryRunClient
    from serinus.app.plan_cluster import plan_on_cluster

    client = DryRunClient(auto(cluster.kubeconfig, cluster.context))
    try:
        with tempfile.TemporaryDirectory(prefix="serinus-plan-") as folder:
            return await plan_on_cluster(rollout, client, time.time(), state_dir=Path(folder))
    finally:
        await client.close()


async def _plan(rollout: Rollout) -> Plan:
    return await plan_rollout(rollout, await _current(rollout.name), time.time())


async def _current(name: str) -> tuple[Rollout, RolloutStatus | None] | None:
    """The recorded spec and status; the store is only opened when it exists (never created)."""
    if not settings().database.exists():
        return None
    from serinus.entrypoints.cli.local import opened_store

    async with opened_store() as store:
        recorded = await store.get_spec(name)
        if recorded is None:
            return None
        return recorded, await store.load(name)


def render(result: Plan, checked: CheckedObjects | None = None) -> list[str]:
    rollout = result.rollout
    start = result.start
    origin = "nothing recorded" if start is None else f"{start.phase}"
    if start is not None and start.stable is not None:
        origin += f", stable {start.stable.version}"
    lines = [
        f"Plan for {rollout.name} -> {rollout.spec.version} "
        f"({plan_for(rollout.spec).strategy}), from {origin}",
        "Assumed: " + "; ".join(ASSUMPTIONS) + ".",
    ]
    first = start is None or start.stable is None  # nothing runs yet: no steps, one deploy
    shown: str | None = None
    for index, entry in enumerate(result.entries):
        label = f"first deployment of {rollout.spec.version}" if first else _label(rollout, entry)
        if label != shown:
            lines.append(label)
            shown = label
        lines.extend(f"  {text}" for text in _entry_lines(entry))
        if checked is not None:
            lines.extend(f"    {text}" for text in _change_lines(checked.by_entry.get(index, [])))
    if checked is not None and checked.stopped is not None:
        lines.append(f"The API server's dry-run stops the plan: {checked.stopped}.")
    lines.append(_final(result))
    return lines


def _change_lines(changes: list[ObjectChange], *, sent: bool = True) -> list[str]:
    """Each write and its diff; `sent`: say what the API server's dry-run made of it."""
    lines = []
    for change in changes:
        outcome = "refused" if change.error else "checked" if change.checked else "not sent"
        suffix = f" ({outcome})" if sent else ""
        lines.append(f"{change.verb} {change.kind} {change.namespace}/{change.name}{suffix}")
        lines.extend(f"  {line}" for line in change.changes)
        if change.error:
            lines.append(f"  {change.error}")
    return lines


def _object_lines(objects: list[ObjectChange] | None) -> list[str]:
    """The local mode's derived objects (not checked by a server), after the steps."""
    if objects is None:
        return []
    changes = _change_lines(objects, sent=False)
    return ["Kubernetes objects, in order:", *(f"  {line}" for line in changes)]


def _label(rollout: Rollout, entry: PlanEntry) -> str:
    first, last = _step_name(rollout, entry.from_step), _step_name(rollout, entry.step_index)
    return first if first == last else f"{first} .. {last}"


def _step_name(rollout: Rollout, index: int) -> str:
    steps = plan_for(rollout.spec).steps
    if index < len(steps):
        return f"step {index + 1}/{len(steps)}: {spoken(steps[index])}"
    return "promotion" if steps else plan_for(rollout.spec).strategy


def _entry_lines(entry: PlanEntry) -> list[str]:
    lines = [describe_action(action) for action in entry.actions]
    if entry.assumed is not None:
        lines.append(f"{entry.assumed} ({entry.message})")
    if entry.waited is not None:
        lines.append(f"wait {duration(entry.waited)} ({entry.message})")
    return lines


def describe_action(action: PlannedAction) -> str:
    """One write in words."""
    f: dict[str, Any] = action.fields
    if action.kind == "EnsureVersion":
        return f"run {f['replicas']} replica(s) of {f['version']} as {f['color']}"
    if action.kind == "SetWeights":
        return "weights " + ", ".join(f"{c} {w}%" for c, w in sorted(f["weights"].items()))
    if action.kind == "TearDown":
        return f"tear down {f['color']}"
    if action.kind == "SetHeaderRoute":
        matches = ", ".join(_match(match) for match in f["matches"])
        return f"header route {f['name']} ({matches}) -> {f['color']}"
    if action.kind == "RemoveHeaderRoute":
        return f"remove header route {f['name']}"
    if action.kind == "SetPreview":
        return "remove the preview" if f["color"] is None else f"preview -> {f['color']}"
    if action.kind == "SetMirror":
        if f["color"] is None:
            return "stop mirroring"
        return f"mirror {f['percentage']}% of requests to {f['color']}"
    return f"{action.kind} {f}"


def _match(match: dict[str, Any]) -> str:
    """`X-Canary exact "yes"`: a header match of the spec, in words."""
    value = match.get("headerValue") or {}
    how = next(iter(value), "exact")
    return f"{match.get('headerName')} {how} {json.dumps(value.get(how))}"


def _final(result: Plan) -> str:
    if result.stopped is not None:
        return f"The plan stops: {result.stopped}."
    final = result.final
    if final is None:
        return "Final: nothing to do."
    weights = ", ".join(f"{c} {w}%" for c, w in sorted(final.weights.items()))
    replicas = ", ".join(f"{c} {n}" for c, n in sorted(final.replicas.items()) if n)
    stable = final.stable.version if final.stable is not None else "none"
    return f"Final: {final.phase}, stable {stable}; weights {weights}; replicas {replicas}."

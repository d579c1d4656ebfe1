"""A plan's Kubernetes writes, checked by the real API server with server-side dry-run.

The plan's actions (`app/planning.py`) are performed again, entry by entry, by the real router
and platform the operator would build (`app/registry.py`), over a `DryRunClient`: every write
they make is sent with `dryRun=All`, so the API server validates it (schema, immutable fields,
RBAC, admission) and persists nothing. Each write becomes an `ObjectChange` with its diff
against the object before it (the live one, or the plan's previous write of it), attached to
the plan entry whose action made it. A refused write ends the replay: the rollout would stop
there too, and the plan says why.

The plan assumes replicas are ready as soon as they are provisioned; the router is told so
before each action, since no pod exists for a dry-run Deployment.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from serinus.adapters.kube.dry_run import DryRunClient
from serinus.adapters.stores.kubernetes import KubernetesStateStore
from serinus.adapters.stores.memory import MemoryStateStore
from serinus.app.engine import Engine
from serinus.app.plan_objects import ObjectChange, from_write
from serinus.app.planning import Plan, plan_rollout
from serinus.app.registry import AdapterContext, build_platform, build_router
from serinus.core.actions import Action, EnsureVersion, TearDown
from serinus.core.errors import SerinusError
from serinus.core.spec import Rollout
from serinus.core.status import COLORS, Color, Endpoint, RolloutStatus


@dataclass
class CheckedObjects:
    """The object writes of each plan entry (by its index), and why the replay stopped."""

    by_entry: dict[int, list[ObjectChange]] = field(default_factory=dict)
    stopped: str | None = None

    def all(self) -> list[ObjectChange]:
        return [change for index in sorted(self.by_entry) for change in self.by_entry[index]]


NOTE = (
    "every object write was sent to the API server as a server-side dry-run (dryRun=All): "
    "checked by the server (schema, RBAC, admission), not persisted"
)


def plan_data(plan: Plan, checked: CheckedObjects) -> dict[str, Any]:
    """The plan as data (`serinus plan -n -o json`, the operator's dry-run ConfigMap): each
    entry with the object writes its actions made."""
    data = plan.to_data()
    for index, entry in enumerate(data["entries"]):
        entry["objects"] = [change.to_data() for change in checked.by_entry.get(index, [])]
    data["objectsStopped"] = checked.stopped
    data["note"] = NOTE
    return data


class _Performer(Engine):
    """The engine's own dispatch of an action to the router or platform, nothing else."""

    async def perform(self, action: Action) -> None:
        await self._perform(action)


async def plan_on_cluster(
    rollout: Rollout,
    client: DryRunClient,
    now: float,
    *,
    state_dir: Path,
    current: tuple[Rollout, RolloutStatus | None] | None = None,
) -> tuple[Plan, CheckedObjects]:
    """The plan of `rollout` from the Rollout recorded in its namespace (or `current`), with
    its object writes checked by the API server. Reads only; every write is a dry-run."""
    if current is None:
        store = KubernetesStateStore(client, rollout.metadata.namespace)
        recorded = await store.get_spec(rollout.name)
        if recorded is not None:
            current = recorded, await store.load(rollout.name)
    plan = await plan_rollout(rollout, current, now)
    return plan, await check_objects(plan, client, state_dir=state_dir)


def _endpoints(color: Color, replicas: int) -> list[Endpoint]:
    return [
        Endpoint(host=f"planned-{color}", port=0, ready=True, replica=i) for i in range(replicas)
    ]


async def check_objects(
    plan: Plan, client: DryRunClient, *, allow_commands: bool = False, state_dir: Path
) -> CheckedObjects:
    """Perform `plan`'s actions with the real adapters over `client` (nothing is written)."""
    rollout = plan.rollout
    context = AdapterContext(
        rollout=rollout, state_dir=state_dir, kube=client, allow_commands=allow_commands
    )
    checked = CheckedObjects()
    try:
        router = build_router(context)
        platform = build_platform(context)
        await router.prepare()
    except SerinusError as exc:
        checked.stopped = f"the routing or workload cannot be planned: {exc}"
        return checked
    performer = _Performer(MemoryStateStore(), router, platform)  # its store stays unused
    try:
        checked.stopped = await _replay(plan, client, performer, checked)
    finally:
        await router.close()
        await platform.close()
    return checked


async def _replay(
    plan: Plan, client: DryRunClient, performer: _Performer, checked: CheckedObjects
) -> str | None:
    """Perform each entry's actions; the writes go to `checked`. Why it stopped, or None."""
    replicas = _replicas(plan.start)
    for index, entry in enumerate(plan.entries):
        for planned in entry.actions:
            action = planned.action
            if action is None:  # built by hand, not by a plan: nothing to perform
                raise ValueError(f"plan entry {index}: {planned.kind} has no action")
            for color in COLORS:
                ready = _endpoints(color, replicas.get(color, 0))
                await performer.router.sync_endpoints(color, ready)
            written = len(client.writes)
            try:
                await performer.perform(action)
            except SerinusError as exc:
                return f"{planned.kind} is refused: {exc}"
            finally:
                changes = [from_write(write) for write in client.writes[written:]]
                checked.by_entry.setdefault(index, []).extend(changes)
            if isinstance(action, EnsureVersion):
                replicas[action.color] = action.replicas
            elif isinstance(action, TearDown):
                replicas[action.color] = 0
    return None


def _replicas(status: RolloutStatus | None) -> dict[Color, int]:
    if status is None:
        return {}
    return {color: status.replicas.get(color, 0) for color in COLORS}

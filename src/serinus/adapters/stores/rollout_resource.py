"""The Rollout custom resource as the Kubernetes store writes it: pure document functions.

Layout of `status` (written only through the `status` subresource, with resourceVersion):

- `phase`, `message`, `step`, `stepCount`, `weight` (the canary's share), `weights`,
  `stableVersion`, `canaryVersion`, `observedGeneration`: for `kubectl get` and people;
- `conditions`: Progressing, Paused, Healthy, Completed, Aborted, derived from the phase, with
  `lastTransitionTime` kept while a condition's status does not change;
- `serinus`: `RolloutStatus.to_storage()`, the only part serinus reads back;
- `intents`: pending operations and the audit of consumed ones (oldest first; the consumed ones
  are capped at `AUDIT_CAP`, pending ones are never dropped);
- `history`: the newest `HISTORY_CAP` events.

Why intents and history live in status, not in an annotation or a ConfigMap: `save` must write
status, events and consumed intents all or nothing, and only one object can be written
atomically. The CLI (`serinus promote` from a laptop) and the operator both change status with
read-modify-write on its resourceVersion, so a promote recorded between the operator's read and
write makes the operator's write fail with 409, re-read and keep it: nobody overwrites anybody.
Spec changes (`submit`, `kubectl apply`) go to the main endpoint, which never touches status.
The price is size: 200 events of ~300 bytes is ~60 kB, far below the ~1.5 MB object limit.
"""

from __future__ import annotations

import datetime
import json
import threading
from collections import OrderedDict
from collections.abc import Mapping, Sequence
from typing import Any

from serinus.adapters.kube.resources import Resource
from serinus.core.errors import Conflict, NotFound
from serinus.core.events import Event, Severity
from serinus.core.intents import Intent
from serinus.core.spec import Rollout, steps_of
from serinus.core.status import Phase, RolloutStatus

ROLLOUTS = Resource("serinus.io", "v1alpha1", "rollouts", "Rollout")
HISTORY_CAP = 200
AUDIT_CAP = 200

Object = dict[str, Any]


class UnknownIntent(NotFound):
    """A consumed intent the rollout does not hold (told apart from a missing rollout)."""


_PROGRESSING = {
    Phase.PENDING,
    Phase.PROVISIONING,
    Phase.PROGRESSING,
    Phase.AWAITING_JUDGEMENT,
    Phase.PAUSED,
    Phase.PROMOTING,
    Phase.SCALING_DOWN,
}


def rfc3339(at: float) -> str | None:
    """`2024-05-01T12:00:00Z` for an epoch time, None when it has no calendar date."""
    try:
        moment = datetime.datetime.fromtimestamp(at, tz=datetime.UTC)
    except (OverflowError, OSError, ValueError):
        return None
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


# --- spec ----------------------------------------------------------------------------------------


def spec_body(rollout: Rollout) -> Object:
    """The object's `spec`: what the user wrote, defaults left out (they stay serinus's)."""
    return rollout.spec.model_dump(mode="json", by_alias=True, exclude_defaults=True)


def new_object(rollout: Rollout, namespace: str) -> Object:
    return {
        "apiVersion": ROLLOUTS.api_version,
        "kind": ROLLOUTS.kind,
        "metadata": {
            "name": rollout.name,
            "namespace": namespace,
            "labels": dict(rollout.metadata.labels),
            "annotations": dict(rollout.metadata.annotations),
        },
        "spec": spec_body(rollout),
    }


def with_spec(current: Object, rollout: Rollout) -> Object:
    """The stored object with the rollout's spec, labels and annotations (status untouched)."""
    updated = dict(current)
    metadata = dict(current.get("metadata") or {})
    metadata["labels"] = dict(rollout.metadata.labels)
    metadata["annotations"] = dict(rollout.metadata.annotations)
    updated["metadata"] = metadata
    updated["spec"] = spec_body(rollout)
    return updated


def rollout_of(obj: Mapping[str, Any]) -> Rollout:
    """The Rollout a stored object describes (raises pydantic's ValidationError if it is bad)."""
    metadata = obj.get("metadata") or {}
    document = {
        "apiVersion": ROLLOUTS.api_version,
        "kind": ROLLOUTS.kind,
        "metadata": {
            "name": metadata.get("name"),
            "namespace": metadata.get("namespace") or "default",
            "labels": metadata.get("labels") or {},
            "annotations": metadata.get("annotations") or {},
        },
        "spec": obj.get("spec") or {},
    }
    return _PARSED.parse(str(metadata.get("uid") or ""), document)


class _ParsedRollouts:
    """The last model parsed for each Rollout (by uid), reused while its document is the same.

    A reconcile parsed the same spec three times (the driver, the store's read, the status
    write): 12 % of the operator's CPU at 200 Rollouts, profiled. Models are frozen. The key is
    the document itself, not the generation, so nothing depends on the server bumping it.
    """

    def __init__(self, cap: int) -> None:
        self.cap = cap
        self._models: OrderedDict[str, tuple[str, Rollout]] = OrderedDict()
        self._lock = threading.Lock()  # the API's threads parse too

    def parse(self, uid: str, document: Mapping[str, Any]) -> Rollout:
        try:
            signature = json.dumps(document)
        except (TypeError, ValueError):  # not JSON data: let validation say what is wrong
            return Rollout.model_validate(document)
        with self._lock:
            held = self._models.get(uid) if uid else None
        if held is not None and held[0] == signature:
            return held[1]
        model = Rollout.model_validate(document)
        if uid:
            with self._lock:
                self._models[uid] = (signature, model)
                self._models.move_to_end(uid)
                while len(self._models) > self.cap:
                    self._models.popitem(last=False)
        return model


_PARSED = _ParsedRollouts(cap=10_000)


# --- status --------------------------------------------------------------------------------------


def status_of(obj: Mapping[str, Any]) -> Object:
    return dict(obj.get("status") or {})


def serinus_status(status: Mapping[str, Any]) -> RolloutStatus | None:
    stored = status.get("serinus")
    return None if stored is None else RolloutStatus.from_storage(dict(stored))


def conditions(
    status: RolloutStatus, previous: Sequence[Mapping[str, Any]]
) -> list[dict[str, Any]]:
    """The standard conditions for a status; a condition keeps its lastTransitionTime while its
    status stays the same (the Kubernetes convention)."""
    phase = status.phase
    wanted = [
        ("Progressing", phase in _PROGRESSING, phase.value),
        (
            "Paused",
            phase in (Phase.PAUSED, Phase.AWAITING_JUDGEMENT) or status.paused_by_user,
            "AwaitingJudgement" if phase is Phase.AWAITING_JUDGEMENT else "Paused",
        ),
        ("Healthy", phase not in (Phase.FAILED, Phase.ABORTED), phase.value),
        ("Completed", phase is Phase.COMPLETED, phase.value),
        ("Aborted", phase is Phase.ABORTED, phase.value),
    ]
    before = {str(c.get("type")): c for c in previous}
    now = rfc3339(status.phase_since)
    result = []
    for kind, true, reason in wanted:
        value = "True" if true else "False"
        condition: dict[str, Any] = {
            "type": kind,
            "status": value,
            "reason": reason,
        }
        if status.message:  # omitempty, as Kubernetes' own types: an empty string is left out
            condition["message"] = status.message
        old = before.get(kind)
        since = old.get("lastTransitionTime") if old and old.get("status") == value else now
        if since:
            condition["lastTransitionTime"] = since
        result.append(condition)
    return result


def canary_weight(status: RolloutStatus) -> int:
    if status.canary is not None:
        return int(status.weights.get(status.canary.color, 0))
    return 0


def saved_status(
    current: Mapping[str, Any],
    spec: Rollout | None,
    status: RolloutStatus,
    events: Sequence[Event],
    consumed: Sequence[Intent],
    name: str,
) -> Object:
    """The new `status` of the stored object `current` after a save.

    Raises NotFound for a consumed intent the rollout does not hold, Conflict for one already
    consumed (or twice in `consumed`): then nothing is written.
    """
    previous = status_of(current)
    intents = consume(list(previous.get("intents") or []), consumed, name)
    history = [*(previous.get("history") or []), *(e.model_dump(mode="json") for e in events)]
    result: Object = {
        "phase": status.phase.value,
        "step": status.step_index,
        "weight": canary_weight(status),
        "weights": dict(status.weights),
        "observedGeneration": int((current.get("metadata") or {}).get("generation") or 0),
        "conditions": conditions(status, previous.get("conditions") or []),
        "serinus": status.to_storage(),
        "intents": intents,
        "history": history[-HISTORY_CAP:],
    }
    if status.message:  # omitempty (kube-apiserver 1.20 as built here refuses "" in CRD status)
        result["message"] = status.message
    if spec is not None:
        result["stepCount"] = len(steps_of(spec.spec.strategy))
    if status.stable is not None:
        result["stableVersion"] = status.stable.version
    if status.canary is not None:
        result["canaryVersion"] = status.canary.version
    return result


# --- intents -------------------------------------------------------------------------------------


def intent_record(intent: Intent, intent_id: int) -> Object:
    return {**intent.model_dump(mode="json"), "id": intent_id, "consumed": False}


def intent_of(record: Mapping[str, Any]) -> Intent:
    return Intent.model_validate({k: v for k, v in record.items() if k != "consumed"})


def consume(records: list[Object], consumed: Sequence[Intent], name: str) -> list[Object]:
    """`records` with `consumed` marked done (outcome kept), the audit capped; checks first."""
    by_id = {int(r["id"]): r for r in records}
    seen: set[int] = set()
    for intent in consumed:
        record = by_id.get(intent.id)
        if record is None:
            raise UnknownIntent(f"intent {intent.id} of rollout {name!r} not found")
        if record.get("consumed") or intent.id in seen:
            raise Conflict(f"intent {intent.id} of rollout {name!r} was already consumed")
        seen.add(intent.id)
    outcomes = {intent.id: intent.outcome for intent in consumed}
    updated = []
    for record in records:
        if int(record["id"]) in outcomes:
            record = {**record, "consumed": True, "outcome": outcomes[int(record["id"])]}
        updated.append(record)
    return capped_audit(updated)


def capped_audit(records: list[Object]) -> list[Object]:
    """Every pending intent and the newest AUDIT_CAP consumed ones, in id order."""
    done = [r for r in records if r.get("consumed")]
    dropped = {int(r["id"]) for r in done[: max(0, len(done) - AUDIT_CAP)]}
    return [r for r in records if int(r["id"]) not in dropped]


_WEIGHT = {Severity.INFO: 0, Severity.SUCCESS: 1, Severity.WARNING: 2, Severity.ERROR: 3}


def kube_event(
    rollout: Mapping[str, Any], events: Sequence[Event], namespace: str, component: str
) -> Object:
    """One core/v1 Event about the Rollout object for the events of one save, for `kubectl
    describe` and event exporters.

    One per save, not one per serinus event: a reconcile that starts a step, changes the weights
    and completes the step is one change of the Rollout, and every Event is a write to etcd (16
    per rollout of seven steps before, profiled). It is named after its most severe event (the
    last of equals); the message lists them all, oldest first. The status's `history` keeps
    each event on its own.
    """
    if not events:
        raise ValueError("a Kubernetes Event needs at least one serinus event")
    metadata = rollout.get("metadata") or {}
    main = max(reversed(events), key=lambda e: _WEIGHT[e.severity])
    warning = any(e.severity in (Severity.WARNING, Severity.ERROR) for e in events)
    message = "; ".join(e.message for e in events)
    body: Object = {
        "apiVersion": "v1",
        "kind": "Event",
        "metadata": {"generateName": f"{metadata.get('name', 'rollout')}.", "namespace": namespace},
        "involvedObject": {
            "apiVersion": ROLLOUTS.api_version,
            "kind": ROLLOUTS.kind,
            "name": metadata.get("name"),
            "namespace": namespace,
            "uid": metadata.get("uid"),
            "resourceVersion": metadata.get("resourceVersion"),
        },
        "reason": main.type.value,
        "message": message if len(message) <= 1024 else message[:1023] + "…",
        "type": "Warning" if warning else "Normal",
        "count": 1,
        "source": {"component": component},
        "reportingComponent": component,
    }
    first, last = rfc3339(events[0].at), rfc3339(events[-1].at)
    if first is not None and last is not None:
        body["firstTimestamp"], body["lastTimestamp"] = first, last
    return body

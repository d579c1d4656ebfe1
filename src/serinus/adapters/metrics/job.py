"""The job metric provider: a check runs as a Kubernetes Job in the rollout's namespace.

This is the cluster's way to run code for an analysis (as Argo Rollouts' job provider): the
operator creates the Job under the ServiceAccount the spec names, reads its outcome from the
Job's conditions and deletes it (propagationPolicy Background, so its pods go too); it never
executes anything itself.

A measurement takes several reconciles. Each call names the measurement (run, metric, index,
all persisted in the rollout's status), from which the Job's name is derived, so a restarted
operator finds the Job its predecessor created instead of starting another one:

- no Job yet: create it; the measurement is pending (None);
- running: pending; past `timeout` (from the Job's creation) it is deleted and is an Error;
- `Complete` -> `[1]`, `Failed` -> `[0]` (conditions read `result[0] == 1`); then deleted.
"""

from __future__ import annotations

import copy
import datetime
import hashlib
import logging
import re
import time
from collections.abc import Callable, Mapping
from typing import Any

from serinus.adapters.kube.client import KubeClient
from serinus.adapters.kube.errors import AlreadyExists
from serinus.adapters.kube.resources import JOBS, ObjectRef
from serinus.core.analysis.spec import JobSource
from serinus.core.errors import KubeError, MetricsError

log = logging.getLogger("serinus.metrics.job")

MANAGED_BY = {"app.kubernetes.io/managed-by": "serinus"}
ROLLOUT_LABEL = "serinus.io/rollout"
KEY_ANNOTATION = "serinus.io/measurement"
_NOT_NAME = re.compile(r"[^a-z0-9-]+")


def job_name(rollout: str, run: str, metric: str, index: int) -> str:
    """A DNS label of at most 56 characters (the Job controller adds a 63-character pod label),
    the same for the same measurement, different for different ones."""
    digest = hashlib.sha256(f"{rollout}\0{run}\0{metric}\0{index}".encode()).hexdigest()[:10]
    words = [_NOT_NAME.sub("-", rollout.lower())[:24], _NOT_NAME.sub("-", metric.lower())[:20]]
    return "-".join(word.strip("-") for word in [*words, digest] if word.strip("-"))


def job_outcome(job: Mapping[str, Any]) -> bool | None:
    """True when the Job completed, False when it failed, None while it runs."""
    for condition in (job.get("status") or {}).get("conditions") or []:
        if condition.get("status") != "True":
            continue
        if condition.get("type") == "Complete":
            return True
        if condition.get("type") == "Failed":
            return False
    return None


class JobProvider:
    """Measures `provider.job` sources of one rollout in its namespace."""

    def __init__(
        self,
        client: KubeClient,
        namespace: str,
        rollout: str,
        *,
        owner_uid: str | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.client = client
        self.namespace = namespace
        self.rollout = rollout
        self.owner_uid = owner_uid
        self.clock = clock

    async def measure_keyed(
        self, source: JobSource, run: str, metric: str, index: int
    ) -> list[float] | None:
        """The measurement `index` of `metric` in analysis run `run` (which names the run and
        when it started); None while its Job runs."""
        ref = ObjectRef(JOBS, self.namespace, job_name(self.rollout, run, metric, index))
        key = f"{run}/{metric}/{index}"
        try:
            job = await self.client.get_or_none(ref)
            if job is None:
                job = await self._create(ref, source, key)
            outcome = job_outcome(job)
            if outcome is None:
                if self._age(job) <= source.timeout:
                    return None
                await self._delete(ref)
                raise MetricsError(
                    f"job {ref.describe()} did not finish within {source.timeout:g}s; deleted"
                )
        except KubeError as exc:
            raise MetricsError(f"job {ref.name}: {exc}") from exc
        await self._delete(ref)
        return [1.0 if outcome else 0.0]

    def manifest(self, name: str, source: JobSource, key: str) -> dict[str, Any]:
        """The Job: the author's spec, its pods under the named ServiceAccount, labelled as ours."""
        spec = copy.deepcopy(source.spec)
        pod = spec["template"].setdefault("spec", {})
        pod["serviceAccountName"] = source.service_account_name
        pod.setdefault("restartPolicy", "Never")
        spec.setdefault("activeDeadlineSeconds", max(1, round(source.timeout)))
        labels = {**MANAGED_BY, ROLLOUT_LABEL: self.rollout}
        metadata: dict[str, Any] = {
            "name": name,
            "namespace": self.namespace,
            "labels": labels,
            "annotations": {KEY_ANNOTATION: key},
        }
        if self.owner_uid:
            metadata["ownerReferences"] = [
                {
                    "apiVersion": "serinus.io/v1alpha1",
                    "kind": "Rollout",
                    "name": self.rollout,
                    "uid": self.owner_uid,
                }
            ]
        return {
            "apiVersion": JOBS.api_version,
            "kind": JOBS.kind,
            "metadata": metadata,
            "spec": spec,
        }

    async def _create(self, ref: ObjectRef, source: JobSource, key: str) -> dict[str, Any]:
        try:
            created = await self.client.create(
                JOBS, self.namespace, self.manifest(ref.name, source, key)
            )
        except AlreadyExists:  # another replica (or a restart) got there first
            return await self.client.get(ref)
        log.info("created job %s for %s", ref.describe(), key)
        return created

    async def _delete(self, ref: ObjectRef) -> None:
        try:
            await self.client.delete(ref, missing_ok=True, propagation_policy="Background")
        except KubeError as exc:  # the outcome stands; the Job is left for a person to remove
            log.warning("cannot delete job %s: %s", ref.describe(), exc)

    def _age(self, job: Mapping[str, Any]) -> float:
        created = (job.get("metadata") or {}).get("creationTimestamp")
        if not isinstance(created, str):
            return 0.0
        try:
            at = datetime.datetime.fromisoformat(created.replace("Z", "+00:00"))
        except ValueError:
            return 0.0
        return self.clock() - at.timestamp()

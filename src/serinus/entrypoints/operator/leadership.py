"""Leader election with a coordination.k8s.io/v1 Lease, so two replicas never act at once.

Why a Lease and not kopf's peering: peering needs kopf's own KopfPeering CRDs installed and
granted, and it only pauses handlers (a paused replica still watches); a Lease is the cluster's
standard primitive (controller-runtime, client-go's leaderelection), the operator's chart grants
exactly one named Lease, and `kubectl get lease` shows who leads.

The rules follow client-go's leaderelection:
- a holder renews `renewTime` every `renew_every` seconds with a conditional write
  (resourceVersion), so two candidates can never both succeed;
- a candidate takes the Lease over only after it has seen the same record unchanged for
  `duration` seconds of its OWN monotonic clock (clocks of different nodes are never compared);
- a leader that could not renew for `renew_deadline` seconds (< duration) considers itself
  deposed and stops acting before anybody else may take over;
- on a clean shutdown the leader empties `holderIdentity`, so the standby takes over at once.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from serinus.adapters.kube.client import KubeClient
from serinus.adapters.kube.errors import AlreadyExists, StaleWrite
from serinus.adapters.kube.resources import LEASES, ObjectRef
from serinus.core.errors import KubeError, NotFound

log = logging.getLogger("serinus.operator.leadership")


class LeadershipLost(Exception):
    """The Lease could not be renewed in time or another replica holds it now."""


@dataclass(frozen=True)
class LeaseTiming:
    duration: float = 15.0
    renew_deadline: float = 10.0
    renew_every: float = 2.0
    retry_every: float = 2.0

    @classmethod
    def for_duration(cls, duration: float) -> LeaseTiming:
        """client-go's proportions (15 s / 10 s / 2 s) for another lease duration."""
        return cls(duration, duration * 2 / 3, duration * 2 / 15, duration * 2 / 15)

    def __post_init__(self) -> None:
        if not 0 < self.renew_every < self.renew_deadline < self.duration:
            raise ValueError("lease timing: need 0 < renew_every < renew_deadline < duration")


def micro_time(at: float) -> str:
    """A Kubernetes MicroTime (`2024-05-01T12:00:00.000000Z`)."""
    moment = datetime.datetime.fromtimestamp(at, tz=datetime.UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


class LeaseElector:
    def __init__(
        self,
        client: KubeClient,
        namespace: str,
        name: str,
        identity: str,
        timing: LeaseTiming | None = None,
        *,
        monotonic: Callable[[], float] = time.monotonic,
        wall: Callable[[], float] = time.time,
    ) -> None:
        self.client = client
        self.ref = ObjectRef(LEASES, namespace, name)
        self.identity = identity
        self.timing = timing or LeaseTiming()
        self._monotonic = monotonic
        self._wall = wall
        self._seen: tuple[Any, ...] | None = None  # the other holder's record, as last read
        self._seen_since = 0.0
        self._renewed_at: float | None = None

    @property
    def leading(self) -> bool:
        renewed = self._renewed_at
        return renewed is not None and self._monotonic() - renewed < self.timing.renew_deadline

    async def acquire(self, stop: asyncio.Event) -> bool:
        """Wait until this replica leads (True) or `stop` is set (False)."""
        announced = False
        while not stop.is_set():
            try:
                if await self.try_acquire():
                    log.info("leading: holding lease %s as %s", self.ref.describe(), self.identity)
                    return True
            except KubeError as exc:
                log.warning("cannot read or write lease %s: %s", self.ref.describe(), exc)
            if not announced:
                log.info("standing by: lease %s is held by another replica", self.ref.describe())
                announced = True
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=self.timing.retry_every)
        return False

    async def hold(self) -> None:
        """Renew the Lease until leadership is lost (then raise LeadershipLost)."""
        while True:
            await asyncio.sleep(self.timing.renew_every)
            try:
                if not await self.try_acquire():
                    raise LeadershipLost(f"lease {self.ref.describe()} is held by another replica")
            except KubeError as exc:
                log.warning("cannot renew lease %s: %s", self.ref.describe(), exc)
            if not self.leading:
                raise LeadershipLost(
                    f"lease {self.ref.describe()} not renewed for "
                    f"{self.timing.renew_deadline:g} s: stopping before another replica takes over"
                )

    async def try_acquire(self) -> bool:
        """One attempt: create, renew or take over the Lease. True when this replica holds it."""
        lease = await self.client.get_or_none(self.ref)
        now = self._wall()
        if lease is None:
            try:
                await self.client.create(LEASES, self.ref.namespace, self._new_lease(now))
            except AlreadyExists:
                return False
            self._renewed_at = self._monotonic()
            return True
        spec = dict(lease.get("spec") or {})
        holder = spec.get("holderIdentity") or ""
        if holder != self.identity and holder and not self._expired(spec):
            return False
        if holder != self.identity:
            spec["leaseTransitions"] = int(spec.get("leaseTransitions") or 0) + 1
            spec["acquireTime"] = micro_time(now)
        spec["holderIdentity"] = self.identity
        spec["leaseDurationSeconds"] = max(1, round(self.timing.duration))
        spec["renewTime"] = micro_time(now)
        try:
            await self.client.replace(self.ref, {**lease, "spec": spec})
        except (StaleWrite, NotFound):
            return False  # somebody else wrote (or removed) it first: read again next time
        self._renewed_at = self._monotonic()
        self._seen = None
        return True

    async def release(self) -> None:
        """Give the Lease up (clean shutdown), so a standby need not wait for it to expire."""
        if self._renewed_at is None:
            return
        self._renewed_at = None

        def empty(lease: dict[str, Any]) -> dict[str, Any] | None:
            spec = dict(lease.get("spec") or {})
            if spec.get("holderIdentity") != self.identity:
                return None
            spec["holderIdentity"] = ""
            return {**lease, "spec": spec}

        try:
            await self.client.read_modify_write(self.ref, empty)
            log.info("released lease %s", self.ref.describe())
        except KubeError as exc:
            log.warning("cannot release lease %s: %s", self.ref.describe(), exc)

    def _expired(self, spec: dict[str, Any]) -> bool:
        record = (spec.get("holderIdentity"), spec.get("renewTime"), spec.get("acquireTime"))
        now = self._monotonic()
        if record != self._seen:
            self._seen, self._seen_since = record, now
            return False
        duration = float(spec.get("leaseDurationSeconds") or self.timing.duration)
        return now - self._seen_since >= duration

    def _new_lease(self, now: float) -> dict[str, Any]:
        return {
            "apiVersion": LEASES.api_version,
            "kind": LEASES.kind,
            "metadata": {
                "name": self.ref.name,
                "labels": {"app.kubernetes.io/managed-by": "serinus"},
            },
            "spec": {
                "holderIdentity": self.identity,
                "leaseDurationSeconds": max(1, round(self.timing.duration)),
                "acquireTime": micro_time(now),
                "renewTime": micro_time(now),
                "leaseTransitions": 0,
            },
        }

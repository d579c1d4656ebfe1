"""Background delivery of rollout events to notification channels.

The engine calls `NotificationDispatcher.publish` after persisting a reconcile; it only queues
and returns, so a slow or dead receiver never delays or fails a rollout. Each (rollout, channel)
pair has its own lane: deliveries on a lane go out in event order, one at a time, while lanes run
side by side (a dead Slack does not hold up e-mail). A failed attempt is retried with exponential
backoff and jitter up to a bounded number of attempts; what finally fails is logged, kept in a
small ring for the dashboard and handed to `on_failure` (metrics).

Secrets are resolved when a delivery starts, through a `SecretResolver`; every resolved value is
redacted from error texts before they are logged or recorded, and from the `httpx` loggers (whose
request lines would otherwise print a Slack webhook URL).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import random
import ssl
import time
from collections import deque
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlsplit

import httpx
import jinja2

from serinus.adapters.egress import EgressGuard, guarded
from serinus.adapters.notifiers.factory import NotifierDeps, build_notifier
from serinus.adapters.notifiers.rendering import MessageRenderer
from serinus.core.errors import InvalidInput, NotFound, NotifierError, SerinusError
from serinus.core.events import Event, EventType
from serinus.core.notification_spec import Channel, Notifications, SecretRef, channels_for
from serinus.core.ports import Notifier, SecretResolver

logger = logging.getLogger("serinus.notifications")

REDACTED = "***"
# Shorter values would mangle unrelated text; a one- or two-character secret protects nothing.
MIN_REDACTED_LENGTH = 3
# Loggers of the HTTP stack that print request URLs.
HTTP_LOGGERS = ("httpx", "httpcore")
# Characters a URL keeps unencoded when printed (RFC 3986 reserved characters and '%').
URL_SAFE = ":/?#[]@!$&'()*+,;=%"


# --- secrets -----------------------------------------------------------------------------------


class EnvSecretResolver:
    """Resolves `{env: NAME}` from the process environment (the local mode's secret store)."""

    def __init__(self, environ: Mapping[str, str] | None = None) -> None:
        self._environ = os.environ if environ is None else environ

    async def resolve(self, ref: SecretRef, namespace: str) -> str:
        if ref.env is None:
            raise NotFound(
                f"{ref.describe()}: Kubernetes secrets are resolved by the operator; "
                "in the local mode reference an environment variable ({env: NAME})"
            )
        value = self._environ.get(ref.env)
        if not value:
            raise NotFound(f"{ref.describe()} is not set (or empty)")
        return value


def _printed_forms(value: str) -> set[str]:
    """The value as errors and logs may print it: raw, fully or URL-style percent-encoded."""
    return {value, quote(value, safe=""), quote(value, safe=URL_SAFE)}


def redact(text: str, secrets: Iterable[str]) -> str:
    """Replace every secret, and the encodings of it that errors tend to print, by `***`."""
    variants: set[str] = set()
    for secret in secrets:
        variants |= _printed_forms(secret)
        parts = urlsplit(secret)
        if parts.scheme and parts.netloc:
            # A URL's credential is its path or query (Slack: /services/T/B/token); messages
            # that print only the path, or the URL as httpx normalised it, must not show it.
            variants |= _printed_forms(parts.path) | _printed_forms(parts.query)
            with contextlib.suppress(httpx.InvalidURL):
                variants.add(str(httpx.URL(secret)))
    for variant in sorted(variants, key=len, reverse=True):
        if len(variant) >= MIN_REDACTED_LENGTH and variant != "/":
            text = text.replace(variant, REDACTED)
    return text


class _RedactingFilter(logging.Filter):
    """Scrubs known secret values from records of a third-party logger before any handler."""

    def __init__(self, secrets: set[str]) -> None:
        super().__init__()
        self._secrets = secrets

    def filter(self, record: logging.LogRecord) -> bool:
        if self._secrets:
            message = record.getMessage()
            cleaned = redact(message, self._secrets)
            if cleaned != message:
                record.msg, record.args = cleaned, None
        return True


# --- retry -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class RetryPolicy:
    """Bounded attempts; the delay doubles from `first_delay` up to `max_delay`, with jitter."""

    max_attempts: int = 5
    first_delay: float = 1.0
    max_delay: float = 60.0

    def __post_init__(self) -> None:
        problems = []
        if self.max_attempts < 1:
            problems.append("max_attempts: must be at least 1")
        if self.first_delay < 0:
            problems.append("first_delay: cannot be negative")
        if self.max_delay < self.first_delay:
            problems.append("max_delay: must be at least first_delay")
        if problems:
            raise InvalidInput(problems, "notification retry policy")

    def delay(self, failed_attempts: int, rand: float) -> float:
        """Seconds to wait after `failed_attempts` failures; `rand` in [0, 1) is the jitter.

        "Equal jitter": half the exponential delay is fixed and half random, so retries from many
        rollouts spread out but never hammer a struggling receiver with near-zero waits.
        """
        ceiling = min(self.max_delay, self.first_delay * 2.0 ** (failed_attempts - 1))
        return ceiling / 2 + rand * ceiling / 2


def is_retryable(error: BaseException) -> bool:
    """Channel errors say for themselves; configuration errors never heal; the rest may."""
    if isinstance(error, NotifierError):
        return error.retryable
    permanent = SerinusError | jinja2.TemplateError | LookupError | ValueError | TypeError
    return not isinstance(error, permanent)


# --- records -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class DeliveryFailure:
    """A delivery that was given up on; `error` is already free of secrets."""

    rollout: str
    namespace: str
    channel: str
    kind: str
    event_type: EventType
    event_at: float
    error: str
    attempts: int
    at: float

    def to_dict(self) -> dict[str, Any]:
        return {
            "rollout": self.rollout,
            "namespace": self.namespace,
            "channel": self.channel,
            "kind": self.kind,
            "eventType": self.event_type.value,
            "eventAt": self.event_at,
            "error": self.error,
            "attempts": self.attempts,
            "at": self.at,
        }


@dataclass(frozen=True)
class _Delivery:
    rollout: str
    namespace: str
    channel: Channel
    event: Event
    link: str | None


@dataclass
class _Lane:
    queue: deque[_Delivery] = field(default_factory=deque)
    current: _Delivery | None = None
    attempts: int = 0
    task: asyncio.Task[None] | None = None


LinkFor = Callable[[str, str], str | None]


# --- the dispatcher ----------------------------------------------------------------------------


class NotificationDispatcher:
    """Queues events for the subscribed channels and delivers them in background tasks."""

    def __init__(
        self,
        resolver: SecretResolver | None = None,
        *,
        link_for: LinkFor | None = None,
        retry: RetryPolicy | None = None,
        request_timeout: float = 10.0,
        attempt_timeout: float = 30.0,
        max_concurrent_sends: int = 8,
        max_queued_per_channel: int = 100,
        failures_kept: int = 200,
        on_failure: Callable[[DeliveryFailure], None] | None = None,
        http: httpx.AsyncClient | None = None,
        templates_dir: Path | None = None,
        smtp_tls_context: ssl.SSLContext | None = None,
        clock: Callable[[], float] = time.time,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        jitter: Callable[[], float] = random.random,
        egress: EgressGuard | None = None,
    ) -> None:
        """`link_for(namespace, rollout)` gives the dashboard page of a rollout, or None.
        `egress` (the operator's) refuses link-local and metadata addresses on every channel."""
        problems = []
        if request_timeout <= 0:
            problems.append("request_timeout: must be positive")
        if attempt_timeout <= 0:
            problems.append("attempt_timeout: must be positive")
        if max_concurrent_sends < 1:
            problems.append("max_concurrent_sends: must be at least 1")
        if max_queued_per_channel < 1:
            problems.append("max_queued_per_channel: must be at least 1")
        if failures_kept < 1:
            problems.append("failures_kept: must be at least 1")
        if problems:
            raise InvalidInput(problems, "notification dispatcher settings")
        self._resolver: SecretResolver = resolver or EnvSecretResolver()
        self._link_for = link_for
        self._retry = retry or RetryPolicy()
        self._attempt_timeout = attempt_timeout
        self._max_queued = max_queued_per_channel
        self._on_failure = on_failure
        self._owns_http = http is None
        self._http = http or httpx.AsyncClient(
            timeout=httpx.Timeout(request_timeout),
            follow_redirects=False,
            transport=guarded(egress, None, True),
        )
        self._deps = NotifierDeps(
            http=self._http,
            renderer=MessageRenderer(templates_dir),
            smtp_tls_context=smtp_tls_context,
            clock=clock,
            egress=egress,
        )
        self._clock = clock
        self._sleep = sleep
        self._jitter = jitter
        self._sending = asyncio.Semaphore(max_concurrent_sends)
        self._lanes: dict[tuple[str, str, str], _Lane] = {}
        self._failures: deque[DeliveryFailure] = deque(maxlen=failures_kept)
        self._delivered = 0
        self._closed = False
        # Every secret value resolved so far: what the log filters must scrub.
        self._known_secrets: set[str] = set()
        self._log_filter = _RedactingFilter(self._known_secrets)
        for name in HTTP_LOGGERS:
            logging.getLogger(name).addFilter(self._log_filter)

    # -- what the engine, the API and metrics call ---------------------------------------------

    def publish(
        self,
        rollout: str,
        events: Sequence[Event],
        notifications: Notifications | None,
        *,
        namespace: str = "default",
    ) -> None:
        """Queue the events for their subscribed channels; returns at once and never raises."""
        try:
            if self._closed:
                if events and notifications is not None:
                    logger.warning("notifications for %s dropped: dispatcher closed", rollout)
                return
            link = self._link_for(namespace, rollout) if self._link_for else None
            for event in events:
                for channel in channels_for(notifications, event):
                    self._enqueue(_Delivery(rollout, namespace, channel, event, link))
        except Exception:
            # A bug here must cost a notification, never the reconcile that called us.
            logger.exception("could not queue notifications for rollout %s", rollout)

    def failures(self, rollout: str | None = None) -> list[DeliveryFailure]:
        """Recent failed deliveries, oldest first (all rollouts, or one)."""
        return [f for f in self._failures if rollout is None or f.rollout == rollout]

    @property
    def delivered(self) -> int:
        """Deliveries that succeeded since start."""
        return self._delivered

    @property
    def pending(self) -> int:
        """Deliveries queued or in flight."""
        return sum(len(lane.queue) + (lane.current is not None) for lane in self._lanes.values())

    async def close(self, timeout: float = 5.0) -> None:
        """Stop accepting events, give queued deliveries `timeout` seconds, then give up on them."""
        self._closed = True
        tasks = [lane.task for lane in self._lanes.values() if lane.task is not None]
        if tasks:
            await asyncio.wait(tasks, timeout=timeout)
        for lane in list(self._lanes.values()):
            if lane.task is not None and not lane.task.done():
                lane.task.cancel()
        if tasks:
            await asyncio.gather(*tasks, return_exceptions=True)
        for lane in list(self._lanes.values()):
            undelivered = ([lane.current] if lane.current else []) + list(lane.queue)
            for delivery in undelivered:
                self._record(delivery, "not delivered before shutdown", lane.attempts)
                lane.attempts = 0
        self._lanes.clear()
        for name in HTTP_LOGGERS:
            logging.getLogger(name).removeFilter(self._log_filter)
        if self._owns_http:
            await self._http.aclose()

    # -- delivery -------------------------------------------------------------------------------

    def _enqueue(self, delivery: _Delivery) -> None:
        key = (delivery.namespace, delivery.rollout, delivery.channel.name)
        lane = self._lanes.setdefault(key, _Lane())
        if len(lane.queue) >= self._max_queued:
            self._record(delivery, f"dropped: {self._max_queued} deliveries already queued", 0)
            return
        lane.queue.append(delivery)
        if lane.task is None:
            lane.task = asyncio.get_running_loop().create_task(
                self._drain(key, lane), name=f"notify {key[1]} -> {key[2]}"
            )

    async def _drain(self, key: tuple[str, str, str], lane: _Lane) -> None:
        while lane.queue:
            lane.current = lane.queue.popleft()
            await self._deliver(lane.current, lane)
            lane.current, lane.attempts = None, 0
        # No await between the empty check and here: a publish cannot slip in unseen.
        del self._lanes[key]

    async def _deliver(self, delivery: _Delivery, lane: _Lane) -> None:
        secrets: dict[str, str] = {}
        # One notifier per delivery, kept across retries (Twilio remembers who already got it).
        notifier: Notifier | None = None
        while True:
            lane.attempts += 1
            try:
                if notifier is None:
                    await self._resolve(delivery, secrets)
                    notifier = build_notifier(delivery.channel, secrets, self._deps)
                async with self._sending:
                    await asyncio.wait_for(
                        notifier.send(delivery.rollout, delivery.event, delivery.link),
                        self._attempt_timeout,
                    )
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                error = redact(f"{type(exc).__name__}: {exc}", secrets.values())
                if not is_retryable(exc) or lane.attempts >= self._retry.max_attempts:
                    self._record(delivery, error, lane.attempts)
                    return
                wait = self._retry.delay(lane.attempts, self._jitter())
                logger.info(
                    "notification to %s for %s (%s) failed (attempt %d), retrying in %.2fs: %s",
                    delivery.channel.name,
                    delivery.rollout,
                    delivery.event.type.value,
                    lane.attempts,
                    wait,
                    error,
                )
                await self._sleep(wait)
            else:
                self._delivered += 1
                logger.debug(
                    "notified %s of %s (%s)",
                    delivery.channel.name,
                    delivery.rollout,
                    delivery.event.type.value,
                )
                return

    async def _resolve(self, delivery: _Delivery, secrets: dict[str, str]) -> None:
        """Fill `secrets` role by role, so a failure part-way still redacts what was resolved."""
        for role, ref in delivery.channel.secret_refs().items():
            if role not in secrets:
                value = await self._resolver.resolve(ref, delivery.namespace)
                secrets[role] = value
                if len(value) >= MIN_REDACTED_LENGTH:
                    self._known_secrets.add(value)

    def _record(self, delivery: _Delivery, error: str, attempts: int) -> None:
        failure = DeliveryFailure(
            rollout=delivery.rollout,
            namespace=delivery.namespace,
            channel=delivery.channel.name,
            kind=delivery.channel.kind,
            event_type=delivery.event.type,
            event_at=delivery.event.at,
            error=redact(error, self._known_secrets),
            attempts=attempts,
            at=self._clock(),
        )
        self._failures.append(failure)
        logger.warning(
            "notification to %s (%s) for rollout %s, event %s, failed after %d attempt(s): %s",
            failure.channel,
            failure.kind,
            failure.rollout,
            failure.event_type.value,
            failure.attempts,
            failure.error,
        )
        if self._on_failure is not None:
            try:
                self._on_failure(failure)
            except Exception:
                logger.exception("on_failure hook raised for a notification failure")

"""The dispatcher: publish never waits, delivery retries with backoff, failures are recorded
without secrets, channels do not hold each other up, shutdown drains briefly."""

from __future__ import annotations

import asyncio
import json
import logging
import socket
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import httpx
import pytest
from hypothesis import given
from hypothesis import strategies as st

from serinus.app.notifications import (
    DeliveryFailure,
    EnvSecretResolver,
    NotificationDispatcher,
    RetryPolicy,
    redact,
)
from serinus.core.errors import InvalidInput, NotFound
from serinus.core.events import Event, EventType
from serinus.core.notification_spec import Notifications, SecretRef

SLACK_TOKEN = "xoxTOKENnotForYourEyes42"
FAST = RetryPolicy(max_attempts=3, first_delay=0.001, max_delay=0.004)


def event(event_type: EventType, message: str = "m", at: float = 1.0) -> Event:
    return Event(type=event_type, message=message, at=at)


def slack_and_hook(slack_events: list[str], hook_events: list[str]) -> Notifications:
    return Notifications.model_validate(
        {
            "channels": [
                {"name": "ops", "slack": {"webhookUrlFrom": {"env": "SLACK_URL"}}},
                {
                    "name": "hook",
                    "webhook": {"urlFrom": {"env": "HOOK_URL"}, "secretFrom": {"env": "HOOK_KEY"}},
                },
            ],
            "subscriptions": [
                {"channel": name, "events": events}
                for name, events in (("ops", slack_events), ("hook", hook_events))
                if events
            ],
        }
    )


def environ(slack_url: str, hook_url: str = "http://hook.test/in") -> dict[str, str]:
    return {"SLACK_URL": slack_url, "HOOK_URL": hook_url, "HOOK_KEY": "hook-signing-key"}


async def until(condition: Callable[[], bool], what: str, limit: float = 10.0) -> None:
    """Wait for background work; the limit only keeps a broken test from hanging."""
    async with asyncio.timeout(limit):
        while not condition():
            await asyncio.sleep(0.005)
    assert condition(), what


Handler = Callable[[httpx.Request], Awaitable[httpx.Response]]


@pytest.fixture
async def make_dispatcher() -> AsyncIterator[Callable[..., NotificationDispatcher]]:
    made: list[NotificationDispatcher] = []

    def make(
        env: dict[str, str], handler: Handler | None = None, **options: Any
    ) -> NotificationDispatcher:
        http = None
        if handler is not None:
            http = httpx.AsyncClient(transport=httpx.MockTransport(handler))
        options.setdefault("retry", FAST)
        dispatcher = NotificationDispatcher(EnvSecretResolver(env), http=http, **options)
        made.append(dispatcher)
        return dispatcher

    try:
        yield make
    finally:
        for dispatcher in made:
            await dispatcher.close(timeout=0.1)


@pytest.fixture
async def stuck_server() -> AsyncIterator[tuple[int, asyncio.Event, list[bytes]]]:
    """A real TCP receiver that reads requests and answers only once `release` is set."""
    release = asyncio.Event()
    received: list[bytes] = []

    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            received.append(await reader.read(65536))
            await release.wait()
            writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok")
            await writer.drain()
        finally:
            writer.close()

    server = await asyncio.start_server(serve, "127.0.0.1", 0)
    try:
        yield server.sockets[0].getsockname()[1], release, received
    finally:
        release.set()
        server.close()
        await server.wait_closed()


def closed_port() -> int:
    """A port nothing listens on: bound to get a free number, then released."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port


# --- publish never waits --------------------------------------------------------------------------


async def test_publish_returns_while_the_receiver_has_not_answered(
    make_dispatcher: Callable[..., NotificationDispatcher],
    stuck_server: tuple[int, asyncio.Event, list[bytes]],
) -> None:
    port, release, received = stuck_server
    dispatcher = make_dispatcher(environ(f"http://127.0.0.1:{port}/services/T/B/{SLACK_TOKEN}"))
    dispatcher.publish("shop", [event(EventType.FAILED)], slack_and_hook(["*"], []))
    # publish() is back although the receiver has not answered (it cannot until released).
    assert dispatcher.pending == 1
    assert dispatcher.delivered == 0
    await until(lambda: len(received) == 1, "the receiver got the post")
    assert dispatcher.delivered == 0
    release.set()
    await until(lambda: dispatcher.delivered == 1, "delivered once released")
    assert dispatcher.failures() == []


async def test_a_slow_receiver_times_out_and_is_recorded_after_the_retries(
    make_dispatcher: Callable[..., NotificationDispatcher],
    stuck_server: tuple[int, asyncio.Event, list[bytes]],
) -> None:
    port, _, received = stuck_server
    dispatcher = make_dispatcher(
        environ(f"http://127.0.0.1:{port}/services/T/B/{SLACK_TOKEN}"),
        request_timeout=0.05,
        retry=RetryPolicy(max_attempts=2, first_delay=0.001, max_delay=0.001),
    )
    dispatcher.publish("shop", [event(EventType.ABORTED)], slack_and_hook(["*"], []))
    assert dispatcher.failures() == []
    await until(lambda: len(dispatcher.failures()) == 1, "the failure is recorded")
    failure = dispatcher.failures()[0]
    assert (failure.channel, failure.kind, failure.attempts) == ("ops", "slack", 2)
    assert failure.event_type is EventType.ABORTED
    assert "ReadTimeout" in failure.error
    assert len(received) == 2


async def test_a_down_receiver_fails_after_bounded_backoff_and_the_hook_counts_it(
    make_dispatcher: Callable[..., NotificationDispatcher],
) -> None:
    waits: list[float] = []
    counted: list[DeliveryFailure] = []

    async def record_sleep(seconds: float) -> None:
        waits.append(seconds)

    dispatcher = make_dispatcher(
        environ(f"http://127.0.0.1:{closed_port()}/services/T/B/{SLACK_TOKEN}"),
        retry=RetryPolicy(max_attempts=4, first_delay=1.0, max_delay=3.0),
        sleep=record_sleep,
        jitter=lambda: 0.5,
        on_failure=counted.append,
    )
    dispatcher.publish("shop", [event(EventType.FAILED)], slack_and_hook(["Failed"], []))
    await until(lambda: len(counted) == 1, "the hook saw the failure")
    # 1, 2, then capped at 3 seconds of ceiling; equal jitter at 0.5 waits 3/4 of each.
    assert waits == [0.75, 1.5, 2.25]
    assert counted[0].attempts == 4
    assert "ConnectError" in counted[0].error
    assert dispatcher.failures() == counted


async def test_permanent_failures_are_not_retried(
    make_dispatcher: Callable[..., NotificationDispatcher],
) -> None:
    calls: list[httpx.Request] = []

    async def gone(request: httpx.Request) -> httpx.Response:
        calls.append(request)
        return httpx.Response(404, text="no_service")

    dispatcher = make_dispatcher(environ("http://slack.test/services/T/B/x"), gone)
    dispatcher.publish("shop", [event(EventType.FAILED)], slack_and_hook(["*"], []))
    await until(lambda: bool(dispatcher.failures()), "recorded")
    assert dispatcher.failures()[0].attempts == 1
    assert "answered HTTP 404: no_service" in dispatcher.failures()[0].error
    assert len(calls) == 1


async def test_a_missing_secret_fails_once_naming_the_variable(
    make_dispatcher: Callable[..., NotificationDispatcher],
) -> None:
    dispatcher = make_dispatcher({}, None)
    dispatcher.publish("shop", [event(EventType.FAILED)], slack_and_hook(["*"], []))
    await until(lambda: bool(dispatcher.failures()), "recorded")
    failure = dispatcher.failures()[0]
    assert failure.attempts == 1
    assert failure.error == "NotFound: env SLACK_URL is not set (or empty)"


# --- secrets --------------------------------------------------------------------------------------


async def test_secrets_are_absent_from_logs_and_failure_records(
    make_dispatcher: Callable[..., NotificationDispatcher], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    slack_url = f"http://slack.test/services/T000/B000/{SLACK_TOKEN}"

    async def leaky(request: httpx.Request) -> httpx.Response:
        # A receiver that echoes the request path into its error, as some proxies do.
        if request.url.host == "slack.test":
            return httpx.Response(500, text=f"upstream failed for {request.url.path}")
        return httpx.Response(200)

    dispatcher = make_dispatcher(
        environ(slack_url), leaky, link_for=lambda namespace, name: f"https://dash/{name}"
    )
    dispatcher.publish(
        "shop", [event(EventType.FAILED)], slack_and_hook(["*"], ["*"]), namespace="team-a"
    )
    await until(lambda: bool(dispatcher.failures()) and dispatcher.delivered == 1, "settled")
    failure = dispatcher.failures()[0]
    assert failure.attempts == FAST.max_attempts
    assert "answered HTTP 500: the server failed" in failure.error  # the echo is never copied
    for text in (caplog.text, repr(dispatcher.failures()), json.dumps(failure.to_dict())):
        assert SLACK_TOKEN not in text
        assert "T000/B000" not in text
        assert "hook-signing-key" not in text
    # httpx's own request log lines were scrubbed too, not suppressed.
    assert 'HTTP Request: POST *** "HTTP/1.1 500' in caplog.text
    assert failure.namespace == "team-a"


def test_redact_hides_the_value_its_url_encodings_and_a_urls_path() -> None:
    url = "https://hooks.slack.com/services/T1/B2/abc def"
    text = f"POST {url} failed; path /services/T1/B2/abc%20def; quoted {url.replace(' ', '%20')}"
    cleaned = redact(text, [url, "pw"])
    assert "T1/B2" not in cleaned
    assert "abc" not in cleaned
    assert cleaned.startswith("POST *** failed")
    # Values too short to be secrets are left alone rather than mangling the text.
    assert redact("pw and pwd", ["pw"]) == "pw and pwd"


async def test_env_resolver_reads_variables_and_explains_what_it_cannot_resolve() -> None:
    resolver = EnvSecretResolver({"SLACK_URL": "https://x", "EMPTY": ""})
    assert await resolver.resolve(SecretRef(env="SLACK_URL"), "default") == "https://x"
    with pytest.raises(NotFound, match="env EMPTY is not set"):
        await resolver.resolve(SecretRef(env="EMPTY"), "default")
    kube = SecretRef.model_validate({"secretKeyRef": {"name": "slack", "key": "url"}})
    with pytest.raises(NotFound, match="secret slack/url: Kubernetes secrets are resolved by"):
        await resolver.resolve(kube, "default")


# --- lanes, order, subscriptions ------------------------------------------------------------------


async def test_events_reach_subscribed_channels_in_order_despite_a_retry(
    make_dispatcher: Callable[..., NotificationDispatcher],
) -> None:
    slack_seen: list[str] = []
    hook_seen: list[dict[str, Any]] = []
    failed_once: set[str] = set()

    async def receive(request: httpx.Request) -> httpx.Response:
        if request.url.host == "slack.test":
            text = json.loads(request.content)["text"]
            if text.startswith("shop: RolloutStarted") and text not in failed_once:
                failed_once.add(text)
                return httpx.Response(503)
            slack_seen.append(text.split(":")[1].strip())
            return httpx.Response(200, text="ok")
        hook_seen.append(json.loads(request.content))
        return httpx.Response(204)

    dispatcher = make_dispatcher(
        environ("http://slack.test/s"),
        receive,
        link_for=lambda namespace, name: f"https://dash/{namespace}/{name}",
    )
    events = [
        event(EventType.ROLLOUT_STARTED, at=1),
        event(EventType.STEP_COMPLETED, at=2),
        event(EventType.AWAITING_JUDGEMENT, at=3),
    ]
    dispatcher.publish("shop", events, slack_and_hook(["*"], ["AwaitingJudgement"]))
    await until(lambda: dispatcher.delivered == 4, "all delivered")
    assert slack_seen == ["RolloutStarted", "StepCompleted", "AwaitingJudgement"]
    assert [(h["event"]["type"], h["link"]) for h in hook_seen] == [
        ("AwaitingJudgement", "https://dash/default/shop")
    ]
    assert dispatcher.failures() == []
    assert dispatcher.pending == 0


async def test_a_stuck_channel_does_not_hold_up_another(
    make_dispatcher: Callable[..., NotificationDispatcher],
) -> None:
    release = asyncio.Event()

    async def receive(request: httpx.Request) -> httpx.Response:
        if request.url.host == "slack.test":
            await release.wait()
        return httpx.Response(200)

    dispatcher = make_dispatcher(environ("http://slack.test/s"), receive)
    dispatcher.publish("shop", [event(EventType.FAILED)], slack_and_hook(["*"], ["*"]))
    await until(lambda: dispatcher.delivered == 1, "the webhook went out")
    assert dispatcher.pending == 1
    release.set()
    await until(lambda: dispatcher.delivered == 2, "slack went out once released")


async def test_no_subscription_no_delivery(
    make_dispatcher: Callable[..., NotificationDispatcher],
) -> None:
    async def refuse(request: httpx.Request) -> httpx.Response:
        raise AssertionError("nothing should be sent")

    dispatcher = make_dispatcher(environ("http://slack.test/s"), refuse)
    dispatcher.publish("shop", [event(EventType.WEIGHTS_CHANGED)], slack_and_hook(["Failed"], []))
    dispatcher.publish("shop", [event(EventType.FAILED)], None)
    assert dispatcher.pending == 0


# --- limits and shutdown --------------------------------------------------------------------------


async def test_a_full_lane_drops_new_deliveries_and_records_them(
    make_dispatcher: Callable[..., NotificationDispatcher],
) -> None:
    release = asyncio.Event()

    async def slow(request: httpx.Request) -> httpx.Response:
        await release.wait()
        return httpx.Response(200)

    dispatcher = make_dispatcher(environ("http://slack.test/s"), slow, max_queued_per_channel=2)
    events = [event(EventType.STEP_COMPLETED, at=float(i)) for i in range(4)]
    dispatcher.publish("shop", events, slack_and_hook(["*"], []))
    dropped = dispatcher.failures()
    assert [(f.event_at, f.attempts) for f in dropped] == [(2.0, 0), (3.0, 0)]
    assert all(f.error == "dropped: 2 deliveries already queued" for f in dropped)
    release.set()
    await until(lambda: dispatcher.delivered == 2, "the queued two went out")


async def test_close_gives_up_on_what_is_left_and_ignores_later_events(
    make_dispatcher: Callable[..., NotificationDispatcher],
) -> None:
    async def never(request: httpx.Request) -> httpx.Response:
        await asyncio.Event().wait()
        raise AssertionError("unreachable")

    dispatcher = make_dispatcher(environ("http://slack.test/s"), never)
    notifications = slack_and_hook(["*"], [])
    dispatcher.publish("shop", [event(EventType.PAUSED), event(EventType.RESUMED)], notifications)
    await until(lambda: dispatcher.pending == 2, "queued")
    await dispatcher.close(timeout=0.05)
    left = dispatcher.failures()
    assert [(f.event_type, f.error) for f in left] == [
        (EventType.PAUSED, "not delivered before shutdown"),
        (EventType.RESUMED, "not delivered before shutdown"),
    ]
    assert left[0].attempts == 1
    dispatcher.publish("shop", [event(EventType.FAILED)], notifications)
    assert dispatcher.pending == 0
    assert len(dispatcher.failures()) == 2


async def test_a_raising_failure_hook_is_contained(
    make_dispatcher: Callable[..., NotificationDispatcher],
) -> None:
    def broken(failure: DeliveryFailure) -> None:
        raise RuntimeError("metrics down")

    dispatcher = make_dispatcher({}, None, on_failure=broken)
    dispatcher.publish(
        "shop", [event(EventType.FAILED), event(EventType.ABORTED)], slack_and_hook(["*"], [])
    )
    await until(lambda: len(dispatcher.failures()) == 2, "both recorded despite the hook")


async def test_the_failure_ring_keeps_the_newest_and_filters_by_rollout(
    make_dispatcher: Callable[..., NotificationDispatcher],
) -> None:
    dispatcher = make_dispatcher({}, None, failures_kept=3)
    notifications = slack_and_hook(["*"], [])
    for index in range(4):
        dispatcher.publish("shop", [event(EventType.FAILED, at=float(index))], notifications)
    dispatcher.publish("cart", [event(EventType.FAILED, at=9.0)], notifications)
    await until(lambda: dispatcher.pending == 0, "settled")
    assert [(f.rollout, f.event_at) for f in dispatcher.failures()] == [
        ("shop", 2.0),
        ("shop", 3.0),
        ("cart", 9.0),
    ]
    assert [f.rollout for f in dispatcher.failures("cart")] == ["cart"]


# --- settings -------------------------------------------------------------------------------------


@given(
    failed=st.integers(min_value=1, max_value=40),
    rand=st.floats(min_value=0.0, max_value=0.999999),
    first=st.floats(min_value=0.0, max_value=10.0),
    extra=st.floats(min_value=0.0, max_value=100.0),
)
def test_backoff_grows_within_half_and_whole_of_a_capped_exponential(
    failed: int, rand: float, first: float, extra: float
) -> None:
    policy = RetryPolicy(max_attempts=5, first_delay=first, max_delay=first + extra)
    ceiling = min(policy.max_delay, first * 2 ** (failed - 1))
    delay = policy.delay(failed, rand)
    assert ceiling / 2 <= delay <= ceiling
    assert delay <= policy.delay(failed + 1, rand) + 1e-9


def test_bad_settings_are_refused_naming_the_setting() -> None:
    with pytest.raises(InvalidInput, match="max_attempts: must be at least 1"):
        RetryPolicy(max_attempts=0)
    with pytest.raises(InvalidInput, match="max_delay: must be at least first_delay"):
        RetryPolicy(first_delay=5, max_delay=1)
    with pytest.raises(InvalidInput, match="request_timeout: must be positive"):
        NotificationDispatcher(request_timeout=0)

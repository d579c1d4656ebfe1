"""The HAProxy router against a real HAProxy and real (in-process) HTTP backends."""

from __future__ import annotations

import asyncio
import os
import socket
import stat
from collections import Counter
from collections.abc import AsyncIterator, Iterator, Sequence
from contextlib import asynccontextmanager
from pathlib import Path

import httpx
import pytest
from tests.integration.adapters.routers.haproxy.backends import (
    Backends,
    free_port,
    requires_haproxy,
    running_backends,
)

from serinus.adapters.routers.haproxy import HaproxyRouter
from serinus.core.errors import InvalidInput, RouterError
from serinus.core.spec import HaproxyRouting, SetHeaderRoute
from serinus.core.status import COLORS, Color

pytestmark = pytest.mark.integration

TESTERS = [{"headerName": "X-Canary", "headerValue": {"exact": 'it\'s a "test" #1 $HOME'}}]
ROUTES = [SetHeaderRoute.model_validate({"name": "testers", "match": TESTERS})]


@pytest.fixture(scope="module")
def backends() -> Iterator[Backends]:
    with running_backends(3) as started:
        yield started


def make_router(
    state_dir: Path,
    routing: HaproxyRouting | None = None,
    routes: Sequence[SetHeaderRoute] = ROUTES,
    commands: list[str] | None = None,
    watch: bool = True,
) -> HaproxyRouter:
    return HaproxyRouter(
        "web",
        routing or HaproxyRouting(port=free_port(), previewPort=free_port()),
        slots_per_color=4,
        state_dir=state_dir,
        header_routes=routes,
        health_check_path="/healthz",
        on_command=None if commands is None else commands.append,
        watch=watch,
    )


@pytest.fixture
async def router(tmp_path: Path, backends: Backends) -> AsyncIterator[HaproxyRouter]:
    """Prepared, 3 blue and 2 green ready replicas (uneven on purpose), all traffic on blue."""
    async with prepared_router(make_router(tmp_path / "state"), backends) as built:
        yield built


@asynccontextmanager
async def prepared_router(built: HaproxyRouter, backends: Backends) -> AsyncIterator[HaproxyRouter]:
    """`built` prepared as the `router` fixture's, and stopped at the end."""
    try:
        await built.prepare()
        await built.sync_endpoints("blue", backends.endpoints("blue"))
        await built.sync_endpoints("green", backends.endpoints("green")[:2])
        await built.set_weights({"blue": 100})
        yield built
    finally:
        await built.stop()


def url(router: HaproxyRouter) -> str:
    return f"http://{router.routing.bind_address}:{router.routing.port}/"


async def tally(
    router: HaproxyRouter, count: int, headers: dict[str, str] | None = None, clients: int = 4
) -> Counter[str]:
    """Colors that answered `count` requests, sent over `clients` keep-alive connections."""
    answers: Counter[str] = Counter()

    async def send(requests: int) -> None:
        async with httpx.AsyncClient(timeout=5.0) as client:
            for _ in range(requests):
                answer = await client.get(url(router), headers=headers)
                answers[answer.text.split("-")[0] if answer.status_code == 200 else "failed"] += 1

    shares = [count // clients + (i < count % clients) for i in range(clients)]
    await asyncio.gather(*(send(share) for share in shares))
    return answers


@requires_haproxy
@pytest.mark.parametrize("weights", [{"blue": 10, "green": 90}, {"blue": 50, "green": 50}])
async def test_observed_split_is_within_one_point_of_the_weights(
    router: HaproxyRouter, weights: dict[Color, int]
) -> None:
    await router.set_weights(weights)
    assert await router.read_weights() == weights
    answers = await tally(router, 2000)
    assert answers["failed"] == 0
    for color in COLORS:
        assert abs(answers[color] / 20 - weights[color]) < 1, answers


@requires_haproxy
async def test_a_header_route_sends_matching_requests_to_the_canary_only(
    router: HaproxyRouter,
) -> None:
    await router.set_weights({"blue": 50, "green": 50})
    await router.set_header_route("testers", TESTERS, "green")
    assert await tally(router, 100, {"X-Canary": TESTERS[0]["headerValue"]["exact"]}) == {
        "green": 100
    }
    assert (await tally(router, 100, {"X-Canary": "it's a"}))["blue"] == 50


@requires_haproxy
async def test_a_replica_that_is_not_ready_gets_no_traffic(
    router: HaproxyRouter, backends: Backends
) -> None:
    await router.set_weights({"blue": 0, "green": 100})
    green = backends.endpoints("green")
    await router.sync_endpoints("green", [green[0], green[1].model_copy(update={"ready": False})])
    async with httpx.AsyncClient() as client:
        answers = Counter([(await client.get(url(router))).text for _ in range(40)])
    assert answers == {"green-0": 40}
    assert await router.read_weights() == {"blue": 0, "green": 100}


@requires_haproxy
async def test_a_color_without_ready_replicas_cannot_get_traffic(
    router: HaproxyRouter, backends: Backends
) -> None:
    await router.sync_endpoints("green", backends.endpoints("green", ready=False))
    with pytest.raises(RouterError, match="no ready green endpoint"):
        await router.set_weights({"blue": 90, "green": 10})
    assert await router.read_weights() == {"blue": 100, "green": 0}


@requires_haproxy
async def test_no_request_fails_while_weights_and_replicas_change(
    router: HaproxyRouter, backends: Backends
) -> None:
    results: Counter[str] = Counter()
    stop = asyncio.Event()

    async def load() -> None:
        async with httpx.AsyncClient(timeout=5.0) as client:
            while not stop.is_set():
                answer = await client.get(url(router))
                results["ok" if answer.status_code == 200 else f"{answer.status_code}"] += 1

    workers = [asyncio.create_task(load()) for _ in range(4)]
    green = backends.endpoints("green")
    blue = backends.endpoints("blue")
    try:
        for step in (
            router.set_weights({"blue": 90, "green": 10}),
            router.set_weights({"blue": 50, "green": 50}),
            router.sync_endpoints("green", green[1:]),  # one replica goes, another comes
            router.sync_endpoints("blue", blue[:1]),
            router.set_weights({"blue": 0, "green": 100}),
            router.set_weights({"blue": 100, "green": 0}),
        ):
            await step
            await asyncio.sleep(0.1)
    finally:
        stop.set()
        await asyncio.gather(*workers)
    assert results["ok"] > 100
    assert set(results) == {"ok"}, results


@requires_haproxy
async def test_prepare_twice_and_a_restarted_serinus_adopt_the_running_haproxy(
    router: HaproxyRouter,
) -> None:
    pid = router.process.running_pid()
    worker = await worker_pid(router)
    await router.set_weights({"blue": 30, "green": 70})
    await router.set_header_route("testers", TESTERS, "green")
    await router.prepare()
    # A new serinus process (the old one was killed -9) builds a new router on the same files.
    successor = make_router(router.state_dir, router.routing)
    await successor.prepare()
    assert successor.process.running_pid() == router.process.running_pid() == pid
    assert await worker_pid(successor) == worker, "adopting must not reload HAProxy"
    assert await successor.read_weights() == {"blue": 30, "green": 70}
    await successor.remove_header_route("testers")
    assert (await tally(router, 20, {"X-Canary": TESTERS[0]["headerValue"]["exact"]}))["blue"] > 0
    await successor.close()  # its driver ends: it must not start HAProxy again after the stop


async def worker_pid(router: HaproxyRouter) -> str:
    info = await router.runtime.execute("show info")
    return next(line for line in info.splitlines() if line.startswith("Pid: "))


@requires_haproxy
async def test_a_new_haproxy_resumes_from_the_stored_state(router: HaproxyRouter) -> None:
    await router.set_weights({"blue": 10, "green": 90})
    await router.set_header_route("testers", TESTERS, "blue")
    await router.set_preview("green")
    old_pid = router.process.running_pid()
    await router.stop()
    await router.prepare()
    assert router.process.running_pid() not in (None, old_pid)
    await assert_resumed(router, {"blue": 10, "green": 90}, testers="blue", preview="green")


async def assert_resumed(
    router: HaproxyRouter, weights: dict[Color, int], testers: Color, preview: Color
) -> None:
    """HAProxy serves the weights, the testers header route and the preview set before."""
    assert await router.read_weights() == weights
    header = {"X-Canary": TESTERS[0]["headerValue"]["exact"]}
    assert await tally(router, 10, header) == {testers: 10}
    async with httpx.AsyncClient() as client:
        answer = await client.get(f"http://127.0.0.1:{router.routing.preview_port}/")
    assert answer.text.startswith(f"{preview}-")


@requires_haproxy
async def test_a_newly_declared_header_route_reloads_haproxy_in_place(
    tmp_path: Path, backends: Backends
) -> None:
    first = make_router(tmp_path / "state", routes=())
    try:
        await first.prepare()
        await first.sync_endpoints("blue", backends.endpoints("blue"))
        await first.sync_endpoints("green", backends.endpoints("green"))
        with pytest.raises(RouterError, match="not in this HAProxy's configuration"):
            await first.set_header_route("testers", TESTERS, "green")
        await first.remove_header_route("testers")  # nothing declared: nothing to remove
        worker = await worker_pid(first)
        second = make_router(first.state_dir, first.routing)
        await second.prepare()
        assert second.process.running_pid() == first.process.running_pid()
        assert await worker_pid(second) != worker
        await second.set_header_route("testers", TESTERS, "green")
        assert await tally(second, 10, {"X-Canary": TESTERS[0]["headerValue"]["exact"]}) == {
            "green": 10
        }
        assert await second.read_weights() == {"blue": 100, "green": 0}
    finally:
        await first.stop()


@requires_haproxy
async def test_only_declared_matches_can_be_switched_on(router: HaproxyRouter) -> None:
    other = [{"headerName": "X-Canary", "headerValue": {"exact": "other"}}]
    with pytest.raises(RouterError, match="declared with other matches"):
        await router.set_header_route("testers", other, "green")
    with pytest.raises(InvalidInput):
        await router.set_header_route("testers", [{"headerName": "X-Canary"}], "green")


@requires_haproxy
async def test_the_stats_port_exports_per_server_counters(
    tmp_path: Path, backends: Backends
) -> None:
    routing = HaproxyRouting(port=free_port(), statsPort=free_port())
    built = make_router(tmp_path / "state", routing)
    try:
        await built.prepare()
        await built.sync_endpoints("green", backends.endpoints("green")[:1])
        await built.set_weights({"green": 100})
        await tally(built, 5)
        async with httpx.AsyncClient() as client:
            metrics = (await client.get(f"http://127.0.0.1:{routing.stats_port}/metrics")).text
        assert (
            'haproxy_server_http_responses_total{proxy="be_main",server="green-0",code="2xx"} 5'
            in metrics
        )
    finally:
        await built.stop()


@requires_haproxy
async def test_attach_uses_a_running_haproxy_without_owning_it(router: HaproxyRouter) -> None:
    routing = router.routing.model_copy(
        update={"attach": True, "admin_socket": str(router.inputs.admin_socket)}
    )
    attached = make_router(router.state_dir, routing)
    await attached.prepare()
    await attached.set_weights({"blue": 40, "green": 60})
    assert await router.read_weights() == {"blue": 40, "green": 60}
    with pytest.raises(RouterError, match="does not own"):
        await attached.stop()


async def test_attach_without_an_haproxy_names_the_socket(tmp_path: Path) -> None:
    socket_path = tmp_path / "nothing.sock"
    routing = HaproxyRouting(attach=True, adminSocket=str(socket_path))
    with pytest.raises(RouterError, match=str(socket_path)):
        await make_router(tmp_path / "state", routing).prepare()


@requires_haproxy
async def test_a_port_in_use_is_a_clear_error_naming_the_port(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        built = make_router(tmp_path / "state", HaproxyRouting(port=port))
        with pytest.raises(RouterError, match=f"port {port} on 127.0.0.1 is already in use"):
            await built.prepare()
    assert built.process.running_pid() is None


async def test_a_missing_haproxy_names_the_debian_package(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(RouterError, match=r"install the Debian package 'haproxy' \(apt-get"):
        await make_router(tmp_path / "state").prepare()


async def test_a_missing_configured_binary_is_named(tmp_path: Path) -> None:
    routing = HaproxyRouting(binary="/opt/none/haproxy-2.9")
    with pytest.raises(RouterError, match=r"'/opt/none/haproxy-2\.9'"):
        await make_router(tmp_path / "state", routing).prepare()


@requires_haproxy
async def test_a_long_state_directory_moves_the_socket_to_a_short_path(
    tmp_path: Path, backends: Backends
) -> None:
    deep = tmp_path / ("d" * 60) / ("e" * 60)
    built = make_router(deep)
    try:
        await built.prepare()
        assert len(str(built.inputs.admin_socket)) < 100
        assert built.inputs.admin_socket.stat().st_mode & 0o077 == 0
        await built.sync_endpoints("blue", backends.endpoints("blue")[:1])
        assert await built.read_weights() == {"blue": 100, "green": 0}
    finally:
        await built.stop()


async def test_the_state_folder_is_0700_and_its_files_0600(
    tmp_path: Path, backends: Backends
) -> None:
    folder = tmp_path / "state"
    previous = os.umask(0)  # the widest: modes are what serinus asks for, not the umask's
    try:
        built = make_router(folder)
        await built.prepare()
        try:
            await built.sync_endpoints("blue", backends.endpoints("blue"))
            await built.set_weights({"blue": 100})
            files = {p.name: stat.S_IMODE(p.stat().st_mode) for p in folder.iterdir()}
        finally:
            await built.stop()
    finally:
        os.umask(previous)
    expected = {"haproxy.cfg", "haproxy.pid", "state.json", "routes.map", "haproxy.log"}
    assert expected <= files.keys()
    assert files == dict.fromkeys(files, 0o600)  # admin.sock too (`mode 600` in the config)
    assert stat.S_IMODE(folder.stat().st_mode) == 0o700

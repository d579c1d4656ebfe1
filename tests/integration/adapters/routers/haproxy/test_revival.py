"""A dead HAProxy the router runs comes back from its configuration at the next call (issue 8).

Regression: after kill -9 of HAProxy every request failed and the driver only repeated "cannot
talk to HAProxy". Now the next port call (the engine's `sync_endpoints` at the start of every
reconcile) starts it again from the configuration rendered from the router state, so weights,
endpoints, header routes and preview are all back at once.
"""

from __future__ import annotations

import asyncio
import time

import httpx
import psutil
import pytest
from tests.integration.adapters.routers.haproxy.backends import Backends, requires_haproxy
from tests.integration.adapters.routers.haproxy.test_router import (  # noqa: F401
    TESTERS,
    assert_resumed,
    backends,
    make_router,
    router,
    tally,
    url,
)

from serinus.adapters.routers.haproxy import HaproxyRouter
from serinus.core.spec import HaproxyRouting

pytestmark = pytest.mark.integration


async def kill_haproxy(router: HaproxyRouter) -> None:  # noqa: F811
    """SIGKILL the master and its workers, then wait until none is left."""
    pid = router.process.running_pid()
    assert pid is not None
    master = psutil.Process(pid)
    family = [master, *master.children(recursive=True)]
    for process in family:
        process.kill()
    _, alive = psutil.wait_procs(family, timeout=5)
    assert not alive, f"HAProxy processes survived SIGKILL: {alive}"
    while router.process.running_pid() is not None:  # the pid file's process is a zombie
        await asyncio.sleep(0.01)


@requires_haproxy
async def test_a_killed_haproxy_is_started_again_with_everything_it_served(
    router: HaproxyRouter,  # noqa: F811
    backends: Backends,  # noqa: F811
) -> None:
    await router.set_weights({"blue": 30, "green": 70})
    await router.set_header_route("testers", TESTERS, "blue")
    await router.set_preview("green")
    await kill_haproxy(router)
    with pytest.raises(httpx.TransportError):
        httpx.get(url(router), timeout=1.0)

    started = time.monotonic()
    await router.sync_endpoints("blue", backends.endpoints("blue"))  # the engine's next call
    first = httpx.get(url(router), timeout=5.0)
    print(f"\nfirst answer {time.monotonic() - started:.3f} s after the next sync_endpoints")
    assert first.status_code == 200
    answers = await tally(router, 1000)
    assert router.restarts == 1
    assert answers["failed"] == 0
    assert abs(answers["green"] / 10 - 70) < 5, answers
    await assert_resumed(router, {"blue": 30, "green": 70}, testers="blue", preview="green")


@requires_haproxy
async def test_every_port_call_brings_a_dead_haproxy_back(
    router: HaproxyRouter,  # noqa: F811
) -> None:
    calls = [
        router.read_weights(),
        router.set_weights({"blue": 60, "green": 40}),
        router.set_header_route("testers", TESTERS, "green"),
        router.remove_header_route("testers"),
        router.set_preview("blue"),
    ]
    for call in calls:
        await kill_haproxy(router)
        await call
        assert router.process.running_pid() is not None
    assert router.restarts == len(calls)
    assert await router.read_weights() == {"blue": 60, "green": 40}


@requires_haproxy
async def test_an_attached_haproxy_is_never_started_by_serinus(
    router: HaproxyRouter,  # noqa: F811
) -> None:
    attached = make_router(
        router.state_dir,
        HaproxyRouting(
            port=router.routing.port,
            previewPort=router.routing.preview_port,
            attach=True,
            adminSocket=str(router.inputs.admin_socket),
        ),
    )
    await attached.prepare()
    await kill_haproxy(router)
    with pytest.raises(Exception, match="cannot talk to HAProxy"):
        await attached.read_weights()
    assert attached.restarts == 0 and router.process.running_pid() is None


@requires_haproxy
async def test_with_the_state_folder_removed_haproxy_is_found_adopted_and_stopped(
    router: HaproxyRouter,  # noqa: F811
    backends: Backends,  # noqa: F811
) -> None:
    """Regression: a new run failed with "port already in use" and delete left HAProxy running."""
    pid = router.process.running_pid()
    for leftover in router.state_dir.iterdir():  # the admin socket too: the old one is deaf
        leftover.unlink()
    again = make_router(router.state_dir, router.routing)
    await again.prepare()  # found, replaced; before: "port already in use"
    assert again.process.running_pid() not in (None, pid)
    assert not _alive(pid)
    await again.sync_endpoints("blue", backends.endpoints("blue"))
    await again.set_weights({"blue": 100})
    assert (await tally(again, 20))["blue"] == 20
    for leftover in router.state_dir.iterdir():
        leftover.unlink()
    await make_router(router.state_dir, router.routing).stop()  # `serinus delete`
    assert [p for p in psutil.process_iter() if str(again.config_path) in _cmdline(p)] == []


def _alive(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


def _cmdline(process: psutil.Process) -> list[str]:
    try:
        return [str(part) for part in process.cmdline()]
    except psutil.Error:
        return []

"""The process platform beyond the contract: adoption, self-healing, warm-up, logs, no orphans."""

from __future__ import annotations

import json
import os
import signal
import stat
import subprocess
import sys
import textwrap
from pathlib import Path

import httpx
import psutil
import pytest
from prometheus_client.parser import text_string_to_metric_families
from tests.contract.platforms.contract import eventually, ready
from tests.contract.platforms.test_process import demo_workload

from serinus.adapters.platforms.process import ProcessPlatform
from serinus.core.errors import PlatformError
from serinus.core.spec import ProcessWorkload
from serinus.core.status import COLORS, ColorState

pytestmark = pytest.mark.integration

SETTLE = 20.0


def pids(platform: ProcessPlatform, color: str = "blue") -> list[int | None]:
    return [record.pid for record in platform.records(color)]  # type: ignore[arg-type]


def alive(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


def answered_requests(port: int) -> float:
    """The demo app's count of application requests (all versions and codes)."""
    text = httpx.get(f"http://127.0.0.1:{port}/metrics", trust_env=False).text
    return sum(
        sample.value
        for family in text_string_to_metric_families(text)
        if family.name == "demo_requests"
        for sample in family.samples
        if sample.name == "demo_requests_total"
    )


async def test_a_new_platform_adopts_the_running_processes(state_dir: Path) -> None:
    first = ProcessPlatform("shop", demo_workload(), state_dir)
    await first.ensure("blue", "v1", 2)
    await eventually(first, ready("blue", "v1", 2), SETTLE, "blue ready")
    started = pids(first)
    await first.close()

    second = ProcessPlatform("shop", demo_workload(), state_dir)
    await second.ensure("blue", "v1", 2)
    await eventually(second, ready("blue", "v1", 2), SETTLE, "blue adopted")
    assert pids(second) == started
    assert second.restarts("blue") == 0
    await second.close()


async def test_replicas_survive_a_killed_serinus_and_are_adopted(state_dir: Path) -> None:
    script = textwrap.dedent(
        f"""
        import asyncio, sys
        from pathlib import Path
        from serinus.adapters.platforms.process import ProcessPlatform
        from serinus.core.spec import ProcessWorkload

        async def main():
            workload = ProcessWorkload.model_validate_json(sys.argv[1])
            platform = ProcessPlatform("shop", workload, Path({str(state_dir)!r}))
            await platform.ensure("blue", "v1", 2)
            while (await platform.observe())["blue"].ready < 2:
                await asyncio.sleep(0.05)
            print("ready", flush=True)
            await asyncio.sleep(600)

        asyncio.run(main())
        """
    )
    workload = demo_workload()
    driver = subprocess.Popen(
        [sys.executable, "-c", script, workload.model_dump_json(by_alias=True)],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert driver.stdout is not None
        assert driver.stdout.readline().strip() == "ready"
    finally:
        driver.kill()  # like `kill -9` of serinus run
        driver.wait()

    recorded = json.loads((state_dir / "blue.json").read_text())
    started = [member["pid"] for member in recorded["members"]]
    assert all(alive(pid) for pid in started)

    platform = ProcessPlatform("shop", workload, state_dir)
    await platform.ensure("blue", "v1", 2)
    state = await eventually(platform, ready("blue", "v1", 2), SETTLE, "blue adopted")
    assert pids(platform) == started
    for endpoint in state["blue"].endpoints:
        answer = httpx.get(f"http://{endpoint.host}:{endpoint.port}/", trust_env=False)
        assert answer.json()["version"] == "v1"
    await platform.close()


async def test_a_killed_replica_is_started_again(state_dir: Path) -> None:
    platform = ProcessPlatform("shop", demo_workload(), state_dir)
    await platform.ensure("blue", "v1", 2)
    before = await eventually(platform, ready("blue", "v1", 2), SETTLE, "blue ready")
    victim = pids(platform)[1]
    assert victim is not None
    os.kill(victim, signal.SIGKILL)

    await eventually(
        platform,
        lambda s: pids(platform)[1] not in (None, victim) and ready("blue", "v1", 2)(s),
        SETTLE,
        "blue healed",
    )
    after = (await platform.observe())["blue"]
    assert platform.restarts("blue") == 1
    assert after.failure is None  # it had been ready: a crash, not a version that cannot run
    assert after.endpoints[0] == before["blue"].endpoints[0]
    assert "killed by SIGKILL" in (platform.records("blue")[1].last_exit or "")
    await platform.close()


async def test_warm_up_requests_reach_a_replica_before_it_is_ready(state_dir: Path) -> None:
    workload = demo_workload(warmup={"path": "/", "requests": 7})
    platform = ProcessPlatform("shop", workload, state_dir)
    await platform.ensure("green", "v2", 2)
    state = await eventually(platform, ready("green", "v2", 2), SETTLE, "green ready")
    ports = [endpoint.port for endpoint in state["green"].endpoints]
    assert [answered_requests(port) for port in ports] == [7, 7]
    await platform.close()

    adopting = ProcessPlatform("shop", workload, state_dir)
    await eventually(adopting, ready("green", "v2", 2), SETTLE, "green adopted")
    await adopting.observe()
    assert [answered_requests(port) for port in ports] == [7, 7]  # not warmed again
    await adopting.close()


async def test_tear_down_all_leaves_no_process_behind(state_dir: Path) -> None:
    # A shell that starts a child of its own: the whole process group must go.
    command = [
        "sh",
        "-c",
        'sleep 300 & exec "$0" -m serinus.demo.app --port {port} --version {version}',
        sys.executable,
    ]
    workload = ProcessWorkload.model_validate(
        {"command": command, "readiness": {"periodSeconds": 0.05}}
    )
    platform = ProcessPlatform("shop", workload, state_dir)
    await platform.ensure("blue", "v1", 2)
    await platform.ensure("green", "v2", 1)
    await both_ready(platform)
    leaders = [pid for color in COLORS for pid in pids(platform, color) if pid is not None]
    group = [p.pid for p in psutil.process_iter() if _process_group(p.pid) in leaders]
    assert len(group) == 6  # three replicas, each with its `sleep`

    await platform.tear_down_all()
    assert not [pid for pid in group if alive(pid)]
    assert not (state_dir / "blue.json").exists()
    assert not (state_dir / "green.json").exists()
    assert await platform.observe() == {}
    await platform.close()


async def both_ready(platform: ProcessPlatform) -> None:
    await eventually(
        platform,
        lambda s: ready("blue", "v1", 2)(s) and ready("green", "v2", 1)(s),
        SETTLE,
        "both colors ready",
    )


def _process_group(pid: int) -> int | None:
    try:
        return os.getpgid(pid)
    except ProcessLookupError:
        return None


async def test_replicas_log_to_their_own_files_with_rendered_env(state_dir: Path) -> None:
    command = [
        "sh",
        "-c",
        'echo "greeting=$GREETING"; '
        'exec "$0" -m serinus.demo.app --port {port} --version {version}',
        sys.executable,
    ]
    workload = ProcessWorkload.model_validate(
        {"command": command, "env": {"GREETING": "hello {version} on {port}"}}
    )
    platform = ProcessPlatform("shop", workload, state_dir)
    await platform.ensure("green", "v2.1", 2)
    state = await eventually(platform, ready("green", "v2.1", 2), SETTLE, "green ready")
    for endpoint in state["green"].endpoints:
        log = platform.log_path("green", "v2.1", endpoint.replica)
        assert log == state_dir / "logs" / f"green-v2.1-{endpoint.replica}.log"
        assert f"greeting=hello v2.1 on {endpoint.port}" in log.read_text()
    await platform.close()


async def test_a_command_that_exits_reports_its_code_and_log(state_dir: Path) -> None:
    command = [sys.executable, "-c", "import sys; print('loading'); print('boom'); sys.exit(3)"]
    workload = ProcessWorkload.model_validate({"command": command})
    platform = ProcessPlatform("shop", workload, state_dir)
    await platform.ensure("green", "v9", 2)
    state = await eventually(platform, lambda s: bool(s["green"].failure), SETTLE, "failing")
    assert state["green"].failure == "command exited with code 3: loading\nboom"
    assert state["green"].ready == 0
    assert max(r.failures_in_a_row for r in platform.records("green")) == 3
    await platform.close()


async def test_a_command_that_cannot_start_fails_at_once(state_dir: Path) -> None:
    workload = ProcessWorkload.model_validate({"command": ["/nonexistent/serve", "{port}"]})
    platform = ProcessPlatform("shop", workload, state_dir)
    await platform.ensure("green", "v9", 1)
    failure = (await platform.observe())["green"].failure
    assert failure is not None
    assert "cannot start command '/nonexistent/serve'" in failure
    assert "No such file or directory" in failure
    await platform.close()


async def test_a_missing_working_directory_is_named(state_dir: Path, tmp_path: Path) -> None:
    workload = demo_workload(workingDir=str(tmp_path / "missing"))
    platform = ProcessPlatform("shop", workload, state_dir)
    await platform.ensure("blue", "v1", 1)
    failure = (await platform.observe())["blue"].failure or ""
    assert f"working directory {tmp_path / 'missing'} does not exist" in failure
    await platform.close()


async def test_a_state_directory_of_another_rollout_is_refused(state_dir: Path) -> None:
    platform = ProcessPlatform("shop", demo_workload(), state_dir)
    await platform.ensure("blue", "v1", 0)
    with pytest.raises(PlatformError, match="belongs to rollout 'shop', not 'other'"):
        ProcessPlatform("other", demo_workload(), state_dir)
    await platform.close()


async def test_observe_reports_only_colors_it_runs(state_dir: Path) -> None:
    platform = ProcessPlatform("shop", demo_workload(), state_dir)
    assert await platform.observe() == {}
    await platform.ensure("green", "v2", 1)
    assert set(await platform.observe()) == {"green"}
    assert isinstance((await platform.observe())["green"], ColorState)
    await platform.close()


async def test_the_state_folder_is_0700_and_records_and_logs_0600(state_dir: Path) -> None:
    previous = os.umask(0)  # the widest: modes are what serinus asks for, not the umask's
    try:
        platform = ProcessPlatform("shop", demo_workload(), state_dir)
        await platform.ensure("blue", "v1", 1)
        await eventually(platform, ready("blue", "v1", 1), SETTLE, "blue ready")
    finally:
        os.umask(previous)
    await platform.close()
    folders = [state_dir, state_dir / "logs"]
    files = [p for p in state_dir.rglob("*") if p.is_file()]
    assert {p.suffix for p in files} >= {".json", ".log"}
    assert {str(p): stat.S_IMODE(p.stat().st_mode) for p in folders + files} == {
        **{str(p): 0o700 for p in folders},
        **{str(p): 0o600 for p in files},
    }

"""`serinus shift --virtual-service` against the API stand-in: the seed's shifter, in the cluster.

The shift is the offline one (core.virtualservice); what is proven here is the I/O around it:
the write carries the resourceVersion read, a concurrent writer's change to another route makes
it conflict and be recomputed (both changes survive), and 404 / unknown route / RBAC forbidden /
unreachable server are clear errors that leave the object as it was. The written object
validates against Istio's real CRD schema.
"""

from __future__ import annotations

import socket
from pathlib import Path
from typing import Any

import pytest
import yaml
from kube_stand_in.kube_fixtures import shared_schemas
from kube_stand_in.kubeapi import ApiRequest, KubeApiStandIn
from typer.testing import CliRunner, Result

from serinus.adapters.kube.client import KubeClient
from serinus.adapters.kube.resources import VIRTUAL_SERVICES
from serinus.app.shifting import shift_in_cluster, virtual_service_ref
from serinus.core.errors import Forbidden, NotFound
from serinus.core.virtualservice import ShiftTarget, TrafficShift, UnknownRoute
from serinus.entrypoints.cli import main

pytestmark = pytest.mark.integration

main._register()

NAMESPACE = "game"


def game_virtual_service() -> dict[str, Any]:
    """The seed's VirtualService: a `primary` route on blue and an `admin` route of another team."""
    return {
        "apiVersion": "networking.istio.io/v1",
        "kind": "VirtualService",
        "metadata": {"name": "game", "namespace": NAMESPACE},
        "spec": {
            "hosts": ["game.example.com"],
            "gateways": ["game-gateway"],
            "http": [
                {
                    "name": "primary",
                    "timeout": "5s",
                    "route": [{"destination": {"host": "old-server"}, "weight": 100}],
                },
                {
                    "name": "admin",
                    "match": [{"uri": {"prefix": "/admin"}}],
                    "route": [{"destination": {"host": "optool"}}],
                },
            ],
        },
    }


def weights(vs: dict[str, Any], route: str) -> dict[str, int]:
    rule = next(r for r in vs["spec"]["http"] if r.get("name") == route)
    return {e["destination"]["host"]: e.get("weight", 100) for e in rule["route"]}


def stored(api: KubeApiStandIn) -> dict[str, Any]:
    obj = api.stored(VIRTUAL_SERVICES, NAMESPACE, "game")
    assert obj is not None
    return obj


def to_new_server(percentage: int, route: str | None = "primary") -> TrafficShift:
    return TrafficShift(ShiftTarget("new-server"), percentage, route)


async def test_the_shift_is_written_and_validates_against_istio_schema(
    kube_api: KubeApiStandIn, kube_client: KubeClient
) -> None:
    kube_api.put(VIRTUAL_SERVICES, game_virtual_service())
    ref = virtual_service_ref(NAMESPACE, "game")

    outcome = await shift_in_cluster(kube_client, ref, to_new_server(10))

    assert outcome.written
    written = stored(kube_api)
    assert weights(written, "primary") == {"old-server": 90, "new-server": 10}
    assert weights(written, "admin") == {"optool": 100}  # untouched
    assert written["spec"]["http"][0]["timeout"] == "5s"
    schemas = shared_schemas()
    assert schemas is not None, "the Istio CRDs in third_party/schemas are needed"
    assert schemas.problems(written) == []
    # The write was a conditional PUT, not a blind patch.
    writes = [r for r in kube_api.requests if r.verb in ("update", "patch")]
    assert [(w.verb, w.body["metadata"]["resourceVersion"]) for w in writes] == [
        ("update", outcome.before["metadata"]["resourceVersion"])
    ]


async def test_shifting_again_to_the_same_share_writes_nothing(
    kube_api: KubeApiStandIn, kube_client: KubeClient
) -> None:
    kube_api.put(VIRTUAL_SERVICES, game_virtual_service())
    ref = virtual_service_ref(NAMESPACE, "game")
    await shift_in_cluster(kube_client, ref, to_new_server(10))
    version = kube_api.resource_version

    again = await shift_in_cluster(kube_client, ref, to_new_server(10))

    assert not again.written
    assert kube_api.resource_version == version


async def test_a_dry_run_computes_the_shift_and_writes_nothing(
    kube_api: KubeApiStandIn, kube_client: KubeClient
) -> None:
    kube_api.put(VIRTUAL_SERVICES, game_virtual_service())
    before = stored(kube_api)

    outcome = await shift_in_cluster(
        kube_client, virtual_service_ref(NAMESPACE, "game"), to_new_server(30), dry_run=True
    )

    assert weights(outcome.after, "primary") == {"old-server": 70, "new-server": 30}
    assert not outcome.written
    assert stored(kube_api) == before


async def test_a_concurrent_writer_on_another_route_is_retried_and_both_changes_survive(
    kube_api: KubeApiStandIn, kube_client: KubeClient
) -> None:
    kube_api.put(VIRTUAL_SERVICES, game_virtual_service())
    interfered: list[int] = []

    def other_team(request: ApiRequest) -> None:
        # Between serinus's read and its first write, the admin team moves its route.
        if request.verb == "update" and request.plural == "virtualservices" and not interfered:
            interfered.append(kube_api.resource_version)

            def move_admin(vs: dict[str, Any]) -> None:
                vs["spec"]["http"][1]["route"] = [{"destination": {"host": "optool-v2"}}]

            kube_api.edit(VIRTUAL_SERVICES, NAMESPACE, "game", move_admin)

    remove = kube_api.add_hook(other_team)
    try:
        outcome = await shift_in_cluster(
            kube_client, virtual_service_ref(NAMESPACE, "game"), to_new_server(10)
        )
    finally:
        remove()

    assert interfered, "the concurrent writer never ran"
    updates = [r for r in kube_api.requests if r.verb == "update"]
    assert len(updates) == 2  # the first conflicted (409), the second carried the new version
    written = stored(kube_api)
    assert weights(written, "primary") == {"old-server": 90, "new-server": 10}
    assert weights(written, "admin") == {"optool-v2": 100}
    assert outcome.written


async def test_a_missing_virtual_service_names_namespace_and_name(
    kube_api: KubeApiStandIn, kube_client: KubeClient
) -> None:
    with pytest.raises(NotFound, match=r"VirtualService game/nope not found"):
        await shift_in_cluster(
            kube_client, virtual_service_ref(NAMESPACE, "nope"), to_new_server(10)
        )


async def test_an_unknown_route_lists_the_routes_and_changes_nothing(
    kube_api: KubeApiStandIn, kube_client: KubeClient
) -> None:
    kube_api.put(VIRTUAL_SERVICES, game_virtual_service())
    before = stored(kube_api)

    with pytest.raises(UnknownRoute, match=r"'primary', 'admin'"):
        await shift_in_cluster(
            kube_client, virtual_service_ref(NAMESPACE, "game"), to_new_server(10, "canary")
        )
    assert stored(kube_api) == before


async def test_rbac_forbidding_the_update_names_verb_resource_and_namespace(
    kube_api: KubeApiStandIn, kube_client: KubeClient
) -> None:
    kube_api.put(VIRTUAL_SERVICES, game_virtual_service())
    before = stored(kube_api)
    kube_api.forbid(verb="update", plural="virtualservices")

    with pytest.raises(Forbidden) as raised:
        await shift_in_cluster(
            kube_client, virtual_service_ref(NAMESPACE, "game"), to_new_server(10)
        )
    message = str(raised.value)
    assert "update" in message
    assert "virtualservices.networking.istio.io" in message
    assert f'namespace "{NAMESPACE}"' in message
    assert stored(kube_api) == before


# --- the command, end to end (the stand-in serves from its own thread: the CLI blocks) ---------


def run_cli(api: KubeApiStandIn, *args: str) -> Result:
    assert api.kubeconfig_path is not None
    return CliRunner().invoke(main.app, ["shift", "--kubeconfig", str(api.kubeconfig_path), *args])


def test_the_command_shifts_in_the_context_namespace_and_prints_the_weights(
    kube_api_thread: KubeApiStandIn, tmp_path: Path
) -> None:
    kube_api_thread.put(VIRTUAL_SERVICES, game_virtual_service())
    kubeconfig = kube_api_thread.write_kubeconfig(tmp_path / "game-config", namespace=NAMESPACE)

    result = CliRunner().invoke(
        main.app,
        [
            "shift",
            "--kubeconfig",
            str(kubeconfig),
            "--virtual-service",
            "game",
            "--target-service",
            "new-server",
            "--percentage",
            "100",
            "--route",
            "primary",
        ],
    )

    assert result.exit_code == 0, result.output
    assert "virtualservice game/game: shifted" in result.output
    assert "primary: old-server=0, new-server=100" in result.output
    assert weights(stored(kube_api_thread), "primary") == {"old-server": 0, "new-server": 100}


def test_the_command_prints_the_object_with_output_yaml_and_dry_run_writes_nothing(
    kube_api_thread: KubeApiStandIn,
) -> None:
    kube_api_thread.put(VIRTUAL_SERVICES, game_virtual_service())
    before = stored(kube_api_thread)

    result = run_cli(
        kube_api_thread,
        *("--virtual-service", "game", "-n", NAMESPACE, "--target-service", "new-server"),
        *("--percentage", "10", "--dry-run", "-o", "yaml"),
    )

    assert result.exit_code == 0, result.output
    shown = yaml.safe_load(result.output)
    assert weights(shown, "primary") == {"old-server": 90, "new-server": 10}
    assert stored(kube_api_thread) == before


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (("--virtual-service", "nope"), "--virtual-service: VirtualService game/nope not found"),
        (("--virtual-service", "game", "--route", "canary"), "available: 'primary', 'admin'"),
    ],
)
def test_the_command_names_what_is_missing(
    kube_api_thread: KubeApiStandIn, args: tuple[str, ...], expected: str
) -> None:
    kube_api_thread.put(VIRTUAL_SERVICES, game_virtual_service())

    result = run_cli(
        kube_api_thread,
        *args,
        *("-n", NAMESPACE, "--target-service", "new-server", "--percentage", "10"),
    )

    assert result.exit_code == 1
    assert expected in " ".join(result.output.split())


def test_the_command_reports_rbac_forbidden(kube_api_thread: KubeApiStandIn) -> None:
    kube_api_thread.put(VIRTUAL_SERVICES, game_virtual_service())
    kube_api_thread.forbid(verb="get", plural="virtualservices", namespace=NAMESPACE)

    result = run_cli(
        kube_api_thread,
        *("--virtual-service", "game", "-n", NAMESPACE),
        *("--target-service", "new-server", "--percentage", "10"),
    )

    assert result.exit_code == 1
    text = " ".join(result.output.split())
    assert (
        'forbidden: serinus may not get virtualservices.networking.istio.io in namespace "game"'
        in text
    )


def test_an_unreachable_api_server_is_named(tmp_path: Path) -> None:
    with socket.socket() as probe:  # a loopback port nothing listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    api = KubeApiStandIn()
    api.port = port
    kubeconfig = api.write_kubeconfig(tmp_path / "kubeconfig")

    result = CliRunner().invoke(
        main.app,
        [
            "shift",
            *("--kubeconfig", str(kubeconfig), "--virtual-service", "game"),
            *("--target-service", "new-server", "--percentage", "10"),
        ],
    )

    assert result.exit_code == 1
    text = " ".join(result.output.split())
    assert f"cannot reach the Kubernetes API server http://127.0.0.1:{port}" in text

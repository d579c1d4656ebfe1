"""The operator's API re-reads its tokens file: a token revoked with `serinus token revoke` while
the operator runs is refused (401) from the next request on, without a restart; another user's
token still works. The operator runs as in production (a child process, `--tokens-file`), on the
stand-in."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest
from kube_stand_in.kubeapi import KubeApiStandIn
from tests.integration.operator.world import operator, serve_rollouts, until
from typer.testing import CliRunner

from serinus.entrypoints.cli.main import _register, app

pytestmark = pytest.mark.integration

_register()
runner = CliRunner()


def token_command(*args: str, given: str | None = None) -> str:
    """`serinus token ...`; returns its last line (the token `add` prints once)."""
    result = runner.invoke(app, ["token", *args], input=given)
    assert result.exit_code == 0, result.output
    return result.output.strip().splitlines()[-1]


async def test_a_token_revoked_in_the_file_is_refused_without_a_restart(
    kube_api: KubeApiStandIn, tmp_path: Path
) -> None:
    serve_rollouts(kube_api)
    assert kube_api.kubeconfig_path is not None
    file = tmp_path / "tokens.yaml"
    tokens = {name: token_command("add", name, "-r", "viewer", "-f", str(file)) for name in "ab"}
    async with operator(
        kube_api.kubeconfig_path,
        tmp_path / "op",
        "--no-leader-election",
        "--tokens-file",
        str(file),
        api=True,
    ) as running:
        url = await until(running.api_url, "the API's URL in the log", 60, running.log)
        assert running.process is not None
        async with httpx.AsyncClient(base_url=url, timeout=10) as client:

            async def whoami(user: str) -> httpx.Response:
                bearer = {"Authorization": f"Bearer {tokens[user]}"}
                return await client.get("/api/v1/whoami", headers=bearer)

            seen = await whoami("a")
            assert seen.status_code == 200 and seen.json()["name"] == "a", seen.text

            token_command("revoke", "-f", str(file), given=tokens["a"] + "\n")
            refused = await whoami("a")
            assert refused.status_code == 401, refused.text
            assert "revoked" in refused.json()["detail"]
            kept = await whoami("b")
            assert kept.status_code == 200 and kept.json()["name"] == "b", kept.text
        assert running.process.returncode is None, "the same operator process answered"

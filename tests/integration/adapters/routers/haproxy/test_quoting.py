"""Real HAProxy reads the quoted words the renderer writes exactly as the fuzz test assumes."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from serinus.adapters.routers.haproxy.config import ConfigInputs, render_config
from serinus.adapters.routers.haproxy.headers import DeclaredRoute, HeaderRule
from serinus.adapters.routers.haproxy.process import HaproxyProcess
from serinus.adapters.routers.haproxy.state import RouterState, Slot
from serinus.core.spec import HaproxyRouting

pytestmark = pytest.mark.integration


async def test_values_with_quotes_comment_and_dollar_signs_pass_haproxy_check(
    tmp_path: Path,
) -> None:
    binary = shutil.which("haproxy")
    if binary is None:
        pytest.skip("HAProxy is not installed")
    rules = (
        HeaderRule("X-#$|~", "exact", 'it\'s #1 $HOME "x" \\'),
        HeaderRule("X-Beta", "regex", "a'b$"),
    )
    inputs = ConfigInputs(
        name="web'\n#",
        routing=HaproxyRouting(port=18_931, previewPort=18_932),
        admin_socket=tmp_path / "admin.sock",
        routes_map=tmp_path / "routes.map",
        preview_map=tmp_path / "preview.map",
        health_check_path="/health?x='$HOME'#frag",
        header_routes=(DeclaredRoute("testers", (rules,)),),
    )
    state = RouterState.empty(1).with_slots("blue", (Slot("::1", 9000, True),))
    config = tmp_path / "haproxy.cfg"
    config.write_text(render_config(inputs, state))
    (tmp_path / "routes.map").write_text("")
    (tmp_path / "preview.map").write_text("")
    process = HaproxyProcess(binary, config, tmp_path / "pid", tmp_path / "haproxy.log")
    await process.check_config()  # raises with HAProxy's own words when it rejects the file

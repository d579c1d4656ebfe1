"""The Dockerfile, read structurally (no Docker daemon here, so it is never built in tests).

Checks what a review would: pinned base images (python 3.11 slim, no `latest`), the package
installed with its kubernetes and api extras, a non-root numeric USER before the entrypoint,
and `serinus` as the entrypoint.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

DOCKERFILE = Path(__file__).resolve().parents[3] / "Dockerfile"


def instructions() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) with line continuations joined and comments dropped."""
    text = re.sub(r"\\\n", " ", DOCKERFILE.read_text())
    parsed = []
    for line in text.splitlines():
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            continue
        keyword, _, rest = stripped.partition(" ")
        parsed.append((keyword.upper(), rest.strip()))
    return parsed


def test_every_base_image_is_a_pinned_python_3_11_slim() -> None:
    bases = [args.split()[0] for keyword, args in instructions() if keyword == "FROM"]

    assert bases
    for image in bases:
        name, _, tag = image.partition(":")
        assert name == "python"
        assert tag.startswith("3.11") and "slim" in tag
        assert "latest" not in tag


def test_the_package_is_installed_with_the_kubernetes_and_api_extras() -> None:
    runs = " ".join(args for keyword, args in instructions() if keyword == "RUN")

    assert re.search(r"pip install \S*\[kubernetes,api\]", runs)


def test_the_final_stage_runs_serinus_as_a_non_root_user() -> None:
    steps = instructions()
    final = steps[max(i for i, (keyword, _) in enumerate(steps) if keyword == "FROM") :]
    users = [args for keyword, args in final if keyword == "USER"]
    entrypoints = [args for keyword, args in final if keyword == "ENTRYPOINT"]

    assert users, "no USER in the final stage: the image would run as root"
    user = users[-1].split(":")[0]
    assert user.isdigit() and int(user) != 0  # numeric: runAsNonRoot can verify it
    assert [json.loads(e) for e in entrypoints] == [["serinus"]]
    keywords = [keyword for keyword, _ in final]
    assert keywords.index("USER") < keywords.index("ENTRYPOINT")

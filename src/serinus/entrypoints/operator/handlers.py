"""The kopf side: how kopf logs in, what it watches and what it does with what it sees.

Only a low-level `on.event` handler is registered: it hands every Rollout it sees (the initial
listing included, so a restarted operator resumes every rollout) to the drivers. Why not
`on.create/update/resume` with a `timer` or `daemon`: those make kopf add a finalizer to every
Rollout (a Rollout could not be deleted while the operator is down) and store its handler
progress in annotations and status, which the Kubernetes store rewrites as a whole; serinus
keeps all its progress in the status it owns, so kopf only needs to watch.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import kopf

from serinus.adapters.stores.rollout_resource import ROLLOUTS
from serinus.entrypoints.operator.drivers import Drivers

log = logging.getLogger("serinus.operator")


def login(kubeconfig: Path | None, context: str | None) -> kopf.ConnectionInfo:
    """kopf's credentials from the same sources as serinus's client (in-cluster or kubeconfig)."""
    import os

    from kubernetes import config as kube_config
    from kubernetes.client import Configuration

    configuration = Configuration()
    if kubeconfig is None and context is None and os.environ.get("KUBERNETES_SERVICE_HOST"):
        kube_config.load_incluster_config(client_configuration=configuration)  # type: ignore[no-untyped-call]
    else:
        file = str(kubeconfig or os.environ.get("KUBECONFIG") or "~/.kube/config")
        kube_config.load_kube_config(  # type: ignore[no-untyped-call]
            config_file=str(Path(file.split(os.pathsep)[0]).expanduser()),
            context=context,
            client_configuration=configuration,
        )
    header = configuration.get_api_key_with_prefix(
        "BearerToken"
    ) or configuration.get_api_key_with_prefix("authorization")
    parts = header.split(" ", 1) if header else []
    scheme, token = (parts[0], parts[1]) if len(parts) == 2 else (None, parts[0] if parts else None)
    return kopf.ConnectionInfo(
        server=configuration.host,
        ca_path=configuration.ssl_ca_cert,
        insecure=not configuration.verify_ssl,
        username=configuration.username or None,
        password=configuration.password or None,
        scheme=scheme,
        token=token,
        certificate_path=configuration.cert_file,
        private_key_path=configuration.key_file,
    )


def registry_for(
    drivers: Drivers, kubeconfig: Path | None, context: str | None
) -> kopf.OperatorRegistry:
    """A registry of our own (not kopf's global one), so the operator can run twice in a test."""
    registry = kopf.OperatorRegistry()

    @kopf.on.login(registry=registry)
    def _login(**_: Any) -> kopf.ConnectionInfo:
        return login(kubeconfig, context)

    @kopf.on.startup(registry=registry)
    def _configure(settings: kopf.OperatorSettings, **_: Any) -> None:
        settings.posting.enabled = False  # serinus writes its own Events (the store does)
        settings.watching.server_timeout = 300
        settings.watching.client_timeout = 330
        settings.networking.request_timeout = 30

    # async: kopf runs sync handlers in threads, and drivers are asyncio tasks of this loop.
    @kopf.on.event(ROLLOUTS.group, ROLLOUTS.version, ROLLOUTS.plural, registry=registry)
    async def _seen(event: kopf.RawEvent, **_: Any) -> None:
        drivers.on_event(event.get("type"), event.get("object") or {})

    return registry

"""The cluster mode of the CLI: `-n/--namespace`, `--kubeconfig` or `--context` on get, list,
history and the operations select the Rollouts of a Kubernetes cluster (the Kubernetes store)
instead of the local state directory, as Argo Rollouts' kubectl plugin does: operations are
recorded in the Rollout's status and the operator acts on them.

The connection is the kubeconfig's (`--kubeconfig`, else $KUBECONFIG, else ~/.kube/config), or
the pod's service account when run in a cluster without those options.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import typer

NAMESPACE = typer.Option(
    None,
    "--namespace",
    "-n",
    help="Cluster mode: the Rollout's namespace (default: the kubeconfig context's).",
)
KUBECONFIG = typer.Option(
    None, "--kubeconfig", help="Cluster mode: kubeconfig file (default $KUBECONFIG)."
)
CONTEXT = typer.Option(None, "--context", help="Cluster mode: kubeconfig context.")


@dataclass(frozen=True)
class ClusterTarget:
    namespace: str | None = None  # None: the kubeconfig context's namespace
    kubeconfig: Path | None = None
    context: str | None = None


def cluster_target(
    namespace: str | None, kubeconfig: Path | None, context: str | None
) -> ClusterTarget | None:
    """The cluster the options name, or None for the local mode (none of them given)."""
    if namespace is None and kubeconfig is None and context is None:
        return None
    return ClusterTarget(namespace, kubeconfig, context)

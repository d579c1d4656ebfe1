"""The cluster mode of the CLI: `-n/--namespace`, `--kubeconfig` or `--context` on get, list,
history and the operations select the Rollouts of a Kubernetes cluster (the Kubernetes store)
instead of the local state directory, as Argo Rollouts' kubectl plugin does: operations are
recorded in the Rollout's status and the operator acts on them.

`kubectl serinus` (bin/kubectl-serinus) sets SERINUS_MODE=cluster, so like every kubectl plugin
it acts on the current kubeconfig context when none of those options is given.

The connection is the kubeconfig's (`--kubeconfig`, else $KUBECONFIG, else ~/.kube/config), or
the pod's service account when run in a cluster without those options.
"""

from __future__ import annotations

import importlib.util
import os
from dataclasses import dataclass
from pathlib import Path

import typer

from serinus.entrypoints.cli.output import fail

MODE_ENV = "SERINUS_MODE"  # "cluster": no options means the current context, not local state

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
    """The cluster the options name, or None for the local mode.

    Without options: the current context when run as `kubectl serinus`, else the local mode.
    """
    if namespace is None and kubeconfig is None and context is None:
        mode = os.environ.get(MODE_ENV, "local")
        if mode not in ("local", "cluster"):
            fail(f"{MODE_ENV}: expected 'local' or 'cluster', got {mode!r}", code=2)
        return ClusterTarget() if mode == "cluster" else None
    return ClusterTarget(namespace, kubeconfig, context)


def require_kubernetes_extra() -> None:
    """One clear line instead of an ImportError when the cluster client is not installed."""
    if importlib.util.find_spec("kubernetes") is None:
        fail(
            "the cluster mode (-n, --context, --kubeconfig, kubectl serinus) needs the "
            "kubernetes extra: pip install 'serinus[kubernetes]'"
        )

"""The Kubernetes API client: the only code in serinus that talks to the API server.

- `KubeClient` (client.py): get/list/watch/create/replace/patch/delete for any resource, and
  `read_modify_write` for optimistic-concurrency updates of shared objects.
- `Resource`, `ObjectRef` (resources.py): what to address; well-known resources.
- `Connection` loaders (connection.py): kubeconfig or in-cluster, via the official client.
- `SchemaRegistry` (schemas.py): validates objects against the real CRDs' openAPIV3Schema.
- errors.py: Forbidden / NotFound / StaleWrite / AlreadyExists / Rejected.
"""

from serinus.adapters.kube.client import KubeClient, ObjectList, RetryPolicy, WatchEvent
from serinus.adapters.kube.connection import Connection
from serinus.adapters.kube.errors import AlreadyExists, Rejected, StaleWrite
from serinus.adapters.kube.resources import ObjectRef, Resource

__all__ = [
    "AlreadyExists",
    "Connection",
    "KubeClient",
    "ObjectList",
    "ObjectRef",
    "Rejected",
    "Resource",
    "RetryPolicy",
    "StaleWrite",
    "WatchEvent",
]

"""Names of Kubernetes resources and objects, and the URL paths they live at.

A `Resource` is a kind of object served by the API (group, version, plural); an `ObjectRef`
points at one object. Paths follow the API conventions: the core group lives under `/api/v1`,
every other group under `/apis/<group>/<version>`.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import quote


@dataclass(frozen=True)
class Resource:
    group: str  # "" for the core group (Services, Events, ...)
    version: str
    plural: str
    kind: str = ""
    namespaced: bool = True

    @property
    def api_version(self) -> str:
        return f"{self.group}/{self.version}" if self.group else self.version

    @property
    def qualified(self) -> str:
        """`plural.group` as RBAC and kubectl name it (`virtualservices.networking.istio.io`)."""
        return f"{self.plural}.{self.group}" if self.group else self.plural

    def at(self, version: str) -> Resource:
        """The same resource served at another version of its group."""
        return Resource(self.group, version, self.plural, self.kind, self.namespaced)

    def path(
        self, namespace: str | None = None, name: str | None = None, subresource: str | None = None
    ) -> str:
        base = f"/apis/{self.group}/{self.version}" if self.group else f"/api/{self.version}"
        parts = [base]
        if self.namespaced and namespace:
            parts.append(f"namespaces/{quote(namespace, safe='')}")
        parts.append(self.plural)
        if name is not None:
            parts.append(quote(name, safe=""))
            if subresource:
                parts.append(subresource)
        return "/".join(parts)


@dataclass(frozen=True)
class ObjectRef:
    resource: Resource
    namespace: str | None
    name: str

    @property
    def path(self) -> str:
        return self.resource.path(self.namespace, self.name)

    def describe(self) -> str:
        """`virtualservices.networking.istio.io "reviews" in namespace "shop"`."""
        where = f' in namespace "{self.namespace}"' if self.resource.namespaced else ""
        return f'{self.resource.qualified} "{self.name}"{where}'


# Built-in resources the adapters use; custom resources are declared next to their adapter.
NAMESPACES = Resource("", "v1", "namespaces", "Namespace", namespaced=False)
SERVICES = Resource("", "v1", "services", "Service")
CONFIGMAPS = Resource("", "v1", "configmaps", "ConfigMap")
SECRETS = Resource("", "v1", "secrets", "Secret")
EVENTS = Resource("", "v1", "events", "Event")
PODS = Resource("", "v1", "pods", "Pod")
SERVICE_ACCOUNTS = Resource("", "v1", "serviceaccounts", "ServiceAccount")
DEPLOYMENTS = Resource("apps", "v1", "deployments", "Deployment")
REPLICASETS = Resource("apps", "v1", "replicasets", "ReplicaSet")
JOBS = Resource("batch", "v1", "jobs", "Job")
INGRESSES = Resource("networking.k8s.io", "v1", "ingresses", "Ingress")
LEASES = Resource("coordination.k8s.io", "v1", "leases", "Lease")
CUSTOM_RESOURCE_DEFINITIONS = Resource(
    "apiextensions.k8s.io",
    "v1",
    "customresourcedefinitions",
    "CustomResourceDefinition",
    namespaced=False,
)
VIRTUAL_SERVICES = Resource("networking.istio.io", "v1", "virtualservices", "VirtualService")
DESTINATION_RULES = Resource("networking.istio.io", "v1", "destinationrules", "DestinationRule")
HTTP_ROUTES = Resource("gateway.networking.k8s.io", "v1", "httproutes", "HTTPRoute")

BUILTIN_RESOURCES: tuple[Resource, ...] = (
    NAMESPACES,
    SERVICES,
    CONFIGMAPS,
    SECRETS,
    EVENTS,
    PODS,
    SERVICE_ACCOUNTS,
    DEPLOYMENTS,
    REPLICASETS,
    JOBS,
    INGRESSES,
    LEASES,
    CUSTOM_RESOURCE_DEFINITIONS,
)

"""Asking the API server who a bearer token belongs to (TokenReview) and what that user may do
(SubjectAccessReview), so the operator's API takes identity and rights from Kubernetes.

Both are `create` calls on cluster-scoped review resources; the operator's ServiceAccount needs
`create` on `tokenreviews.authentication.k8s.io` and `subjectaccessreviews.authorization.k8s.io`
(the built-in ClusterRole `system:auth-delegator` grants exactly these). A failed review is a
KubeError (the API answers 503), never a silent "allowed".
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from serinus.adapters.kube.client import KubeClient, Object
from serinus.adapters.kube.resources import Resource
from serinus.core.errors import KubeError

TOKEN_REVIEWS = Resource("authentication.k8s.io", "v1", "tokenreviews", "TokenReview", False)
ACCESS_REVIEWS = Resource(
    "authorization.k8s.io", "v1", "subjectaccessreviews", "SubjectAccessReview", False
)


@dataclass(frozen=True)
class KubeUser:
    """A user the API server authenticated."""

    name: str
    uid: str
    groups: tuple[str, ...]


@dataclass(frozen=True)
class Target:
    """What a SubjectAccessReview asks about: a verb on one object of a resource."""

    verb: str
    namespace: str
    name: str | None = None  # None: any object of the resource in the namespace
    group: str = "serinus.io"
    resource: str = "rollouts"


class Reviews:
    """TokenReview and SubjectAccessReview through one KubeClient (the operator's)."""

    def __init__(self, client: KubeClient, audiences: Sequence[str] = ()) -> None:
        self.client = client
        self.audiences = tuple(audiences)

    async def authenticate(self, token: str) -> KubeUser | None:
        """The user `token` belongs to, or None when the API server does not accept it."""
        spec: Object = {"token": token}
        if self.audiences:
            spec["audiences"] = list(self.audiences)
        answer = await self.client.create(
            TOKEN_REVIEWS,
            None,
            {"apiVersion": "authentication.k8s.io/v1", "kind": "TokenReview", "spec": spec},
        )
        status = _mapping(answer.get("status"), "TokenReview status")
        if status.get("authenticated") is not True:
            return None
        user = _mapping(status.get("user"), "TokenReview status.user")
        name = user.get("username")
        if not isinstance(name, str) or not name:
            raise KubeError("TokenReview: the API server authenticated a user without a name")
        groups = user.get("groups") or []
        uid = user.get("uid") or ""
        if not isinstance(groups, list) or not all(isinstance(g, str) for g in groups):
            raise KubeError("TokenReview: status.user.groups is not a list of names")
        return KubeUser(name=name, uid=str(uid), groups=tuple(groups))

    async def allowed(self, user: KubeUser, target: Target) -> bool:
        """Whether RBAC (or whichever authorizer the cluster runs) lets `user` do `target`."""
        attributes: Object = {
            "namespace": target.namespace,
            "verb": target.verb,
            "group": target.group,
            "resource": target.resource,
        }
        if target.name is not None:
            attributes["name"] = target.name
        spec: Object = {
            "user": user.name,
            "groups": list(user.groups),
            "resourceAttributes": attributes,
        }
        if user.uid:
            spec["uid"] = user.uid
        answer = await self.client.create(
            ACCESS_REVIEWS,
            None,
            {"apiVersion": "authorization.k8s.io/v1", "kind": "SubjectAccessReview", "spec": spec},
        )
        status = _mapping(answer.get("status"), "SubjectAccessReview status")
        return status.get("allowed") is True and status.get("denied") is not True


def _mapping(value: object, what: str) -> Object:
    if not isinstance(value, dict):
        raise KubeError(f"{what}: the API server's answer has no such object")
    return value

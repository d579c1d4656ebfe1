"""The real server fixture gives what other tests rely on: identities, RBAC, tokens, CRDs."""

from __future__ import annotations

import pytest
from real_kube import RealKube

from serinus.adapters.kube.resources import PODS
from serinus.core.errors import Forbidden

pytestmark = pytest.mark.integration


def _review(real_kube: RealKube, token: str) -> dict[str, object]:
    review = {
        "apiVersion": "authentication.k8s.io/v1",
        "kind": "TokenReview",
        "spec": {"token": token},
    }
    response = real_kube.request("POST", "/apis/authentication.k8s.io/v1/tokenreviews", review)
    assert response.status_code == 201, response.text
    return dict(response.json()["status"])


def test_static_users_authenticate_with_their_groups(real_kube: RealKube) -> None:
    status = _review(real_kube, real_kube.users["alice"].token)
    assert status["authenticated"] is True
    assert status["user"]["username"] == "alice"
    assert {"serinus-approvers", "developers"} <= set(status["user"]["groups"])
    assert _review(real_kube, "not-a-token").get("authenticated") is not True


def test_rbac_is_enforced_and_grants_take_effect(real_kube: RealKube) -> None:
    ns = real_kube.new_namespace("rbac")
    path = f"/api/v1/namespaces/{ns}/configmaps"
    bob = real_kube.users["bob"].token
    assert real_kube.request("GET", path, token=bob).status_code == 403
    assert real_kube.request("GET", path, token="wrong").status_code == 401
    real_kube.apply(
        {
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "Role",
            "metadata": {"name": "read-cm", "namespace": ns},
            "rules": [{"apiGroups": [""], "resources": ["configmaps"], "verbs": ["list"]}],
        }
    )
    real_kube.apply(
        {
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "RoleBinding",
            "metadata": {"name": "developers-read-cm", "namespace": ns},
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": "read-cm"},
            "subjects": [{"kind": "Group", "name": "developers"}],
        }
    )
    real_kube.wait_for("bob may list", lambda: real_kube.request("GET", path, token=bob).is_success)
    carol = real_kube.users["carol"].token
    assert real_kube.request("GET", path, token=carol).status_code == 403


async def test_service_account_token_acts_as_the_account(real_kube: RealKube) -> None:
    ns = real_kube.new_namespace("sa")
    token = real_kube.service_account_token(ns, "operator")
    status = _review(real_kube, token)
    assert status["user"]["username"] == f"system:serviceaccount:{ns}:operator"
    async with real_kube.client(token, namespace=ns) as client:
        with pytest.raises(Forbidden):
            await client.list(PODS, ns)


def test_serinus_crd_is_served_with_its_status_subresource(real_kube: RealKube) -> None:
    resources = real_kube.get("/apis/serinus.io/v1alpha1")["resources"]
    names = {item["name"] for item in resources}
    assert {"rollouts", "rollouts/status"} <= names


def test_the_audit_log_names_each_request_and_the_pod_a_token_is_bound_to(
    real_kube: RealKube,
) -> None:
    ns = real_kube.new_namespace("audit")
    token = real_kube.service_account_token(ns, "operator", pod="operator-0")
    path = f"/api/v1/namespaces/{ns}/configmaps/missing"
    assert real_kube.request("GET", path, token=token).status_code == 403
    user = f"system:serviceaccount:{ns}:operator"
    [event] = real_kube.audit_events(user)
    assert (event.verb, event.resource, event.namespace, event.name, event.code) == (
        "get",
        "configmaps",
        ns,
        "missing",
        403,
    )
    assert event.extra["authentication.kubernetes.io/pod-name"] == ("operator-0",)

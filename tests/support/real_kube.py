"""A real kube-apiserver (v1.20.2) and etcd on loopback, for the tests that need real Kubernetes.

`scripts/kube-apiserver.sh` builds the server (see docs/testing.md); this module starts it the way
controller-runtime's envtest does: etcd on free ports, kube-apiserver with a self-made CA and
serving certificate, a static token file, RBAC on, service-account keys (TokenRequest works) and
`--disable-admission-plugins=ServiceAccount`. There is no controller-manager and no kubelet:
tests play the Deployment controller (create Pods, write status through `/status`), namespaces
are never finalized (use a fresh namespace per test: `new_namespace()`).

The fixtures are in real_kube_fixtures.py. In a test:

    def test_x(real_kube: RealKube) -> None:
        ns = real_kube.new_namespace("x")                  # a fresh namespace
        real_kube.apply({...})                             # create or replace, as the admin
        real_kube.admin_kubeconfig                         # a kubeconfig file (system:masters)
        async with real_kube.client() as client: ...       # serinus's KubeClient, as the admin
        async with real_kube.client(real_kube.users["alice"].token) as client: ...
        token = real_kube.service_account_token(ns, "op")  # creates the ServiceAccount if needed
        real_kube.write_kubeconfig(tmp_path / "kc", token, namespace=ns)

Identities:
- `admin` (group system:masters): `real_kube.admin_token`; everything is allowed.
- static users with fixed tokens (the token file is read once at start), in these groups:
  `alice` (serinus-approvers, developers), `bob` (developers), `carol` (no group but
  system:authenticated). Grant them rights with `real_kube.apply(Role/RoleBinding ...)`;
  `real_kube.users[name].token` authenticates as them (TokenReview knows them too).
- ServiceAccounts: `service_account_token(namespace, name)` returns a real bound token
  (TokenRequest, audience https://kubernetes.default.svc), user
  `system:serviceaccount:<namespace>:<name>` in groups system:serviceaccounts(:<namespace>).

The server's view: every request is in its audit log (level Metadata): `audit_events(user=...)`
gives each request once (user, user agent, verb, resource, subresource, namespace, name, code),
to derive what code calls (RBAC) or who wrote what (leader election).

CRDs: `install_crds(path, ...)` creates every CRD of the YAML files and waits until each is
Established (once per server; `SERINUS_CRDS`, `ISTIO_CRDS`, `GATEWAY_API_CRDS` name the files).
The server silently drops CEL rules (`x-kubernetes-validations`): validate written objects against
the vendored schemas for those. Empty-string defaults (Gateway API's) are removed on install:
1.20 refuses them.
"""

from __future__ import annotations

import contextlib
import datetime
import ipaddress
import itertools
import json
import os
import shutil
import signal
import socket
import ssl
import subprocess
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import yaml
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID

from serinus.adapters.kube.client import KubeClient

REPO = Path(__file__).resolve().parents[2]
SERINUS_CRDS = REPO / "deploy" / "crds" / "rollouts.serinus.io.yaml"
ISTIO_CRDS = REPO / "third_party" / "schemas" / "istio-crd-all.gen.yaml"
GATEWAY_API_CRDS = REPO / "third_party" / "schemas" / "gateway-api-httproute.crd.yaml"
AUDIENCE = "https://kubernetes.default.svc"
START_TIMEOUT = 90.0  # seconds; a cold start takes 4-5 s, a busy 2-core machine more


@dataclass(frozen=True)
class AuditEvent:
    """One request as the API server saw it (its audit log, level Metadata)."""

    user: str
    extra: Mapping[str, tuple[str, ...]]  # e.g. authentication.kubernetes.io/pod-name
    user_agent: str
    verb: str  # get list watch create update patch delete deletecollection
    api_group: str  # "" for the core group
    resource: str  # "" for non-resource URLs
    subresource: str
    namespace: str
    name: str
    code: int
    uri: str
    received: str  # requestReceivedTimestamp (RFC 3339, microseconds)
    completed: str = ""  # stageTimestamp of the stage logged (ResponseComplete but for watches)

    @property
    def seconds(self) -> float | None:
        """How long the server took to answer (from received to the stage logged)."""
        try:
            start = datetime.datetime.fromisoformat(self.received.replace("Z", "+00:00"))
            end = datetime.datetime.fromisoformat(self.completed.replace("Z", "+00:00"))
        except ValueError:
            return None
        return (end - start).total_seconds()

    @classmethod
    def from_json(cls, event: Mapping[str, Any]) -> AuditEvent:
        ref = event.get("objectRef") or {}
        user = event.get("user") or {}
        return cls(
            user=str(user.get("username", "")),
            extra={k: tuple(v) for k, v in (user.get("extra") or {}).items()},
            user_agent=str(event.get("userAgent", "")),
            verb=str(event.get("verb", "")),
            api_group=str(ref.get("apiGroup", "")),
            resource=str(ref.get("resource", "")),
            subresource=str(ref.get("subresource", "")),
            namespace=str(ref.get("namespace", "")),
            name=str(ref.get("name", "")),
            code=int((event.get("responseStatus") or {}).get("code", 0)),
            uri=str(event.get("requestURI", "")),
            received=str(event.get("requestReceivedTimestamp", "")),
            completed=str(event.get("stageTimestamp", "")),
        )


@dataclass(frozen=True)
class StaticUser:
    name: str
    token: str
    groups: tuple[str, ...]


STATIC_USERS: tuple[StaticUser, ...] = (
    StaticUser("admin", "serinus-test-admin-token", ("system:masters",)),
    StaticUser("alice", "serinus-test-alice-token", ("serinus-approvers", "developers")),
    StaticUser("bob", "serinus-test-bob-token", ("developers",)),
    StaticUser("carol", "serinus-test-carol-token", ()),
)


class RealKubeUnavailable(RuntimeError):
    """The binaries are missing (say how to build them) or the server did not start."""


def find_binaries() -> tuple[Path, Path]:
    """kube-apiserver and etcd, or RealKubeUnavailable saying how to get them."""
    named = os.environ.get("SERINUS_KUBE_APISERVER")
    server = Path(named) if named else REPO / ".tools" / "kube-apiserver" / "kube-apiserver"
    if not (server.is_file() and os.access(server, os.X_OK)):
        raise RealKubeUnavailable(
            f"no kube-apiserver at {server}: run scripts/kube-apiserver.sh "
            "(or set SERINUS_KUBE_APISERVER)"
        )
    etcd = shutil.which("etcd") or ""
    if not etcd:
        raise RealKubeUnavailable("no etcd on PATH: run scripts/kube-apiserver.sh (etcd-server)")
    return server, Path(etcd)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class RealKube:
    """A running etcd + kube-apiserver pair; start with `RealKube.running(workdir)`."""

    def __init__(self, workdir: Path, url: str, ca_path: Path) -> None:
        self.workdir = workdir
        self.url = url
        self.ca_path = ca_path
        self.users = {user.name: user for user in STATIC_USERS}
        self.admin_token = self.users["admin"].token
        self.pids: dict[str, int] = {}  # kube-apiserver, etcd: e.g. for their CPU time
        self.admin_kubeconfig = self.write_kubeconfig(
            workdir / "admin.kubeconfig", self.admin_token
        )
        self._http = httpx.Client(
            base_url=url, verify=ssl.create_default_context(cafile=ca_path), timeout=30.0
        )
        self._crds: set[str] = set()
        self._discovery: dict[str, dict[str, tuple[str, bool]]] = {}
        self._names = itertools.count(1)
        self._audit: list[AuditEvent] = []
        self._audit_seen: set[str] = set()
        self._audit_offset = 0

    @classmethod
    @contextlib.contextmanager
    def running(cls, workdir: Path) -> Iterator[RealKube]:
        server_binary, etcd_binary = find_binaries()
        workdir.mkdir(parents=True, exist_ok=True)
        pki = _write_pki(workdir / "pki")
        tokens = workdir / "tokens.csv"
        tokens.write_text(
            "".join(
                f'{u.token},{u.name},uid-{u.name},"{",".join(u.groups)}"\n' for u in STATIC_USERS
            )
        )
        policy = workdir / "audit-policy.yaml"
        policy.write_text(
            "apiVersion: audit.k8s.io/v1\nkind: Policy\n"
            "omitStages: [RequestReceived]\nrules:\n- level: Metadata\n"
        )
        etcd_port, peer_port, secure_port = free_port(), free_port(), free_port()
        with contextlib.ExitStack() as stack:
            etcd_log = stack.enter_context((workdir / "etcd.log").open("wb"))
            etcd = _spawn(
                [
                    str(etcd_binary),
                    "--name=test",
                    f"--data-dir={_data_dir(workdir)}",
                    f"--listen-client-urls=http://127.0.0.1:{etcd_port}",
                    f"--advertise-client-urls=http://127.0.0.1:{etcd_port}",
                    f"--listen-peer-urls=http://127.0.0.1:{peer_port}",
                    f"--initial-advertise-peer-urls=http://127.0.0.1:{peer_port}",
                    f"--initial-cluster=test=http://127.0.0.1:{peer_port}",
                    "--log-level=warn",
                ],
                etcd_log,
            )
            stack.callback(_stop, etcd)
            server_log = stack.enter_context((workdir / "kube-apiserver.log").open("wb"))
            server = _spawn(
                [
                    str(server_binary),
                    f"--etcd-servers=http://127.0.0.1:{etcd_port}",
                    "--bind-address=127.0.0.1",
                    "--advertise-address=127.0.0.1",
                    f"--secure-port={secure_port}",
                    "--insecure-port=0",
                    f"--cert-dir={workdir / 'certs'}",
                    f"--tls-cert-file={pki['serving.crt']}",
                    f"--tls-private-key-file={pki['serving.key']}",
                    f"--client-ca-file={pki['ca.crt']}",
                    f"--token-auth-file={tokens}",
                    "--authorization-mode=RBAC",
                    f"--service-account-issuer={AUDIENCE}",
                    f"--service-account-key-file={pki['sa.key']}",
                    f"--service-account-signing-key-file={pki['sa.key']}",
                    f"--api-audiences={AUDIENCE}",
                    "--service-cluster-ip-range=10.0.0.0/16",  # 2 Services x 10,000 Rollouts fit
                    "--disable-admission-plugins=ServiceAccount",
                    f"--audit-policy-file={policy}",
                    f"--audit-log-path={workdir / 'audit.log'}",
                    "--audit-log-mode=blocking",
                    "--enable-priority-and-fairness=false",
                    "--profiling=false",
                    "--v=0",
                ],
                server_log,
            )
            stack.callback(_stop, server)
            kube = cls(workdir, f"https://127.0.0.1:{secure_port}", pki["ca.crt"])
            kube.pids = {"kube-apiserver": server.pid, "etcd": etcd.pid}
            stack.callback(kube._http.close)
            kube._wait_ready(server, etcd)
            yield kube

    # --- requests as the admin (set-up and assertions; code under test uses its own client) ---

    def request(
        self, method: str, path: str, body: Any = None, *, token: str | None = None, **kw: Any
    ) -> httpx.Response:
        """One request, as the admin unless `token` is given; the response is returned as is."""
        headers = {"Authorization": f"Bearer {token or self.admin_token}"}
        headers.update(kw.pop("headers", {}))
        return self._http.request(method, path, json=body, headers=headers, **kw)

    def get(self, path: str, **kw: Any) -> dict[str, Any]:
        """GET as the admin; raises on any error status."""
        response = self.request("GET", path, **kw)
        response.raise_for_status()
        return dict(response.json())

    def apply(self, obj: Mapping[str, Any]) -> dict[str, Any]:
        """Create the object, or replace it (keeping its resourceVersion) if it exists."""
        path = self.path_of(obj)
        response = self.request("POST", path.rsplit("/", 1)[0], dict(obj))
        if response.status_code == 409:
            current = self.get(path)
            replacement = {**obj, "metadata": {**obj["metadata"]}}
            replacement["metadata"]["resourceVersion"] = current["metadata"]["resourceVersion"]
            response = self.request("PUT", path, replacement)
        if response.is_error:
            raise AssertionError(f"{response.status_code} on {path}: {response.text}")
        return dict(response.json())

    def path_of(self, obj: Mapping[str, Any]) -> str:
        """The URL path of an object, from its apiVersion, kind and metadata (via discovery)."""
        api_version, kind = obj["apiVersion"], obj["kind"]
        plural, namespaced = self._resource_of(api_version, kind)
        base = f"/api/{api_version}" if "/" not in api_version else f"/apis/{api_version}"
        meta = obj["metadata"]
        scope = f"/namespaces/{meta.get('namespace') or 'default'}" if namespaced else ""
        return f"{base}{scope}/{plural}/{meta['name']}"

    def new_namespace(self, prefix: str = "t") -> str:
        """A fresh namespace (they are never finalized here, so never reuse one)."""
        name = f"{prefix}-{os.getpid()}-{next(self._names)}"
        self.apply({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}})
        return name

    def install_crds(self, *files: Path) -> None:
        """Create every CRD in the files (once per server) and wait until each is Established."""
        for file in files:
            for crd in yaml.safe_load_all(file.read_text()):
                if not crd or crd.get("kind") != "CustomResourceDefinition":
                    continue
                name = crd["metadata"]["name"]
                if name in self._crds:
                    continue
                self.apply(_without_empty_defaults(crd))
                self._wait_for(
                    f"CRD {name} Established",
                    lambda n=name: _condition(
                        self.get(f"/apis/apiextensions.k8s.io/v1/customresourcedefinitions/{n}"),
                        "Established",
                    ),
                )
                self._crds.add(name)
        self._discovery.clear()

    def service_account_token(
        self,
        namespace: str,
        name: str,
        *,
        pod: str | None = None,
        audiences: tuple[str, ...] = (AUDIENCE,),
    ) -> str:
        """A bound token of the ServiceAccount (created if missing), from TokenRequest.

        With `pod`, the token is bound to a Pod of that name (created, never run, if missing),
        as a replica's token is: the server then tells replicas apart (the audit's user extra
        `authentication.kubernetes.io/pod-name`) although they share the ServiceAccount.
        """
        account = {
            "apiVersion": "v1",
            "kind": "ServiceAccount",
            "metadata": {"name": name, "namespace": namespace},
        }
        if self.request("GET", self.path_of(account)).status_code == 404:
            self.apply(account)
        spec: dict[str, Any] = {"audiences": list(audiences), "expirationSeconds": 86400}
        if pod is not None:
            spec["boundObjectRef"] = self._placeholder_pod(namespace, pod, name)
        request = {"apiVersion": "authentication.k8s.io/v1", "kind": "TokenRequest", "spec": spec}
        response = self.request(
            "POST", f"/api/v1/namespaces/{namespace}/serviceaccounts/{name}/token", request
        )
        if response.is_error:
            raise AssertionError(f"TokenRequest {namespace}/{name}: {response.text}")
        return str(response.json()["status"]["token"])

    def write_kubeconfig(self, path: Path, token: str, namespace: str = "default") -> Path:
        """A kubeconfig for this server with a bearer token (the CA by file)."""
        config = {
            "apiVersion": "v1",
            "kind": "Config",
            "clusters": [
                {
                    "name": "real",
                    "cluster": {"server": self.url, "certificate-authority": str(self.ca_path)},
                }
            ],
            "users": [{"name": "user", "user": {"token": token}}],
            "contexts": [
                {
                    "name": "real",
                    "context": {"cluster": "real", "user": "user", "namespace": namespace},
                }
            ],
            "current-context": "real",
        }
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(yaml.safe_dump(config))
        return path

    def client(self, token: str | None = None, namespace: str = "default") -> KubeClient:
        """serinus's async KubeClient as the admin (or the token's owner); use `async with`."""
        path = self.workdir / "kubeconfigs" / f"{abs(hash((token, namespace)))}.kubeconfig"
        return KubeClient.from_kubeconfig(
            self.write_kubeconfig(path, token or self.admin_token, namespace)
        )

    def wait_for(self, what: str, check: Any, timeout: float = 30.0) -> Any:
        """Poll `check()` until it returns something truthy; AssertionError naming `what`."""
        return self._wait_for(what, check, timeout)

    def audit_events(self, user: str | None = None) -> list[AuditEvent]:
        """Every request logged so far (each once, in order), optionally of one user only.

        The log is written before the response is sent (blocking mode), so a request whose
        response the caller has seen is already here. A watch is logged when it starts.
        """
        with (self.workdir / "audit.log").open("rb") as log:
            log.seek(self._audit_offset)
            chunk = log.read()
        complete = chunk[: chunk.rfind(b"\n") + 1]
        self._audit_offset += len(complete)
        for line in complete.splitlines():
            event = json.loads(line)
            if event.get("auditID") in self._audit_seen:
                continue  # a watch: ResponseStarted, later ResponseComplete
            self._audit_seen.add(event.get("auditID"))
            self._audit.append(AuditEvent.from_json(event))
        return [e for e in self._audit if user is None or e.user == user]

    # --- internals ---

    def _placeholder_pod(self, namespace: str, name: str, account: str) -> dict[str, str]:
        pod = {
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": {"name": name, "namespace": namespace},
            "spec": {
                "serviceAccountName": account,
                "containers": [{"name": "operator", "image": "serinus:test"}],
            },
        }
        existing = self.request("GET", self.path_of(pod))
        created = existing.json() if existing.is_success else self.apply(pod)
        return {"kind": "Pod", "apiVersion": "v1", "name": name, "uid": created["metadata"]["uid"]}

    def _resource_of(self, api_version: str, kind: str) -> tuple[str, bool]:
        cache = self._discovery
        if api_version not in cache:
            base = f"/api/{api_version}" if "/" not in api_version else f"/apis/{api_version}"
            cache[api_version] = {
                item["kind"]: (item["name"], bool(item["namespaced"]))
                for item in self.get(base)["resources"]
                if "/" not in item["name"]
            }
        try:
            return cache[api_version][kind]
        except KeyError:
            raise AssertionError(f"the server does not serve {kind} in {api_version}") from None

    def _wait_ready(self, server: subprocess.Popen[bytes], etcd: subprocess.Popen[bytes]) -> None:
        def ready() -> bool:
            for process, name in ((etcd, "etcd"), (server, "kube-apiserver")):
                if process.poll() is not None:
                    log = (self.workdir / f"{name}.log").read_text(errors="replace")[-3000:]
                    raise RealKubeUnavailable(f"{name} exited with {process.returncode}:\n{log}")
            try:
                return self.request("GET", "/readyz").status_code == 200
            except httpx.TransportError:
                return False

        self._wait_for("kube-apiserver /readyz", ready, START_TIMEOUT)
        # The bootstrap RBAC roles and the default namespace come with readiness.
        self._wait_for(
            "namespace default",
            lambda: self.request("GET", "/api/v1/namespaces/default").status_code == 200,
        )

    def _wait_for(self, what: str, check: Any, timeout: float = 30.0) -> Any:
        deadline = time.monotonic() + timeout
        while True:
            result = check()
            if result:
                return result
            if time.monotonic() > deadline:
                raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")
            time.sleep(0.05)


def _without_empty_defaults(value: Any) -> Any:
    """The CRD without `default: ""` in its schemas, which 1.20 wrongly refuses as null.

    Gateway API's CRDs default `group` to "" (the core group); 1.20 (a server older than Gateway
    API supports) reads that default as null and refuses the CRD. Only defaulting changes:
    objects that state the field are stored as written.
    """
    if isinstance(value, dict):
        return {
            key: _without_empty_defaults(item)
            for key, item in value.items()
            if not (key == "default" and item == "")
        }
    if isinstance(value, list):
        return [_without_empty_defaults(item) for item in value]
    return value


def _condition(obj: Mapping[str, Any], kind: str) -> bool:
    conditions = obj.get("status", {}).get("conditions") or []
    return any(c.get("type") == kind and c.get("status") == "True" for c in conditions)


def _data_dir(workdir: Path) -> Path:
    # etcd fsyncs every write: a tmpfs keeps it off the disk (and off other tests' timing).
    shm = Path("/dev/shm")
    if shm.is_dir() and os.access(shm, os.W_OK):
        return shm / f"serinus-etcd-{os.getpid()}-{workdir.name}"
    return workdir / "etcd"


def _spawn(argv: list[str], log: Any) -> subprocess.Popen[bytes]:
    return subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)


def _stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
    for argument in process.args if isinstance(process.args, list) else []:
        if str(argument).startswith("--data-dir=/dev/shm/"):
            shutil.rmtree(str(argument).split("=", 1)[1], ignore_errors=True)


def _write_pki(folder: Path) -> dict[str, Path]:
    """A CA, a serving certificate for 127.0.0.1/localhost and a service-account signing key."""
    folder.mkdir(parents=True, exist_ok=True)
    now = datetime.datetime.now(datetime.UTC)
    ca_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "serinus-test-ca")])
    ca = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(hours=1))
        .not_valid_after(now + datetime.timedelta(days=7))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(True, False, False, False, False, True, True, False, False), critical=True
        )
        .sign(ca_key, hashes.SHA256())
    )
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    serving = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "kube-apiserver")]))
        .issuer_name(ca_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(hours=1))
        .not_valid_after(now + datetime.timedelta(days=7))
        .add_extension(
            x509.SubjectAlternativeName(
                [
                    x509.IPAddress(ipaddress.ip_address("127.0.0.1")),
                    x509.DNSName("localhost"),
                ]
            ),
            critical=False,
        )
        .add_extension(
            x509.ExtendedKeyUsage([x509.oid.ExtendedKeyUsageOID.SERVER_AUTH]), critical=False
        )
        .sign(ca_key, hashes.SHA256())
    )
    sa_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    files = {
        "ca.crt": ca.public_bytes(serialization.Encoding.PEM),
        "serving.crt": serving.public_bytes(serialization.Encoding.PEM),
        "serving.key": _pem(key),
        "sa.key": _pem(sa_key),
    }
    paths = {}
    for name, data in files.items():
        paths[name] = folder / name
        paths[name].write_bytes(data)
    return paths


def _pem(key: rsa.RSAPrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.TraditionalOpenSSL,
        serialization.NoEncryption(),
    )

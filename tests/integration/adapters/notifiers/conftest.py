"""Real local receivers for the notifier integration tests: an HTTP server and an SMTP server.

The HTTP receiver stands in for Slack, Twilio, Teams and webhook endpoints (their base URLs are
configurable); the SMTP receiver is aiosmtpd, optionally with STARTTLS (a self-signed certificate
made for the test) and AUTH.
"""

from __future__ import annotations

import asyncio
import datetime
import ipaddress
import ssl
import threading
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.smtp import SMTP, AuthResult, Envelope, LoginPassword, Session
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

# --- HTTP -----------------------------------------------------------------------------------------


@dataclass
class Received:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes


@dataclass
class HttpReceiver:
    port: int
    requests: list[Received] = field(default_factory=list)
    # path -> list of (status, body) answers, used in order; the last one repeats.
    answers: dict[str, list[tuple[int, str]]] = field(default_factory=dict)

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def answer(self, path: str) -> tuple[int, str]:
        queue = self.answers.get(path, [(200, "ok")])
        return queue.pop(0) if len(queue) > 1 else queue[0]


@pytest.fixture
def http_receiver() -> Iterator[HttpReceiver]:
    receiver = HttpReceiver(port=0)
    lock = threading.Lock()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            with lock:
                receiver.requests.append(
                    Received(
                        "POST", self.path, {k.lower(): v for k, v in self.headers.items()}, body
                    )
                )
                status, text = receiver.answer(self.path)
            payload = text.encode()
            self.send_response(status)
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        def log_message(self, format: str, *args: Any) -> None:
            """Quiet: the test inspects `requests` instead."""

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    receiver.port = server.server_address[1]
    # A short poll interval makes shutdown() return quickly at teardown.
    thread = threading.Thread(target=server.serve_forever, args=(0.02,), daemon=True)
    thread.start()
    try:
        yield receiver
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


# --- SMTP -----------------------------------------------------------------------------------------


@dataclass
class Mail:
    sender: str
    recipients: list[str]
    content: bytes
    tls: bool
    login: bytes | None


@dataclass
class SmtpReceiver:
    port: int
    mails: list[Mail] = field(default_factory=list)


class _Collector:
    def __init__(self, receiver: SmtpReceiver) -> None:
        self._receiver = receiver

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        login = session.auth_data.login if isinstance(session.auth_data, LoginPassword) else None
        self._receiver.mails.append(
            Mail(
                sender=str(envelope.mail_from),
                recipients=list(envelope.rcpt_tos),
                content=bytes(envelope.original_content or b""),
                tls=session.ssl is not None,
                login=login,
            )
        )
        return "250 OK"


@dataclass(frozen=True)
class TestCertificate:
    __test__ = False  # a fixture value, not a test class

    cert: Path
    key: Path

    def client_context(self) -> ssl.SSLContext:
        return ssl.create_default_context(cafile=str(self.cert))

    def server_context(self) -> ssl.SSLContext:
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(str(self.cert), str(self.key))
        return context


@pytest.fixture
def certificate(tmp_path: Path) -> TestCertificate:
    """A self-signed certificate for 127.0.0.1 and localhost, made for this test only."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "serinus test smtp")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(hours=1))
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
            ),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    paths = TestCertificate(tmp_path / "smtp.crt", tmp_path / "smtp.key")
    paths.cert.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    paths.key.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return paths


@pytest.fixture
async def smtp_server() -> AsyncIterator[Callable[..., Any]]:
    """Start aiosmtpd servers in the test's loop on free ports; all are closed afterwards."""
    servers: list[asyncio.Server] = []

    async def start(
        tls: ssl.SSLContext | None = None, credentials: tuple[str, str] | None = None
    ) -> SmtpReceiver:
        receiver = SmtpReceiver(port=0)

        def authenticate(
            server: SMTP, session: Session, envelope: Envelope, mechanism: str, data: Any
        ) -> AuthResult:
            ok = (
                credentials is not None
                and isinstance(data, LoginPassword)
                and (data.login.decode(), data.password.decode()) == credentials
            )
            return AuthResult(success=ok, handled=False, auth_data=data)

        def protocol() -> SMTP:
            return SMTP(
                _Collector(receiver),
                hostname="localhost",
                tls_context=tls,
                require_starttls=tls is not None,
                authenticator=authenticate if credentials else None,
                auth_require_tls=True,
                auth_required=credentials is not None,
            )

        server = await asyncio.get_running_loop().create_server(protocol, "127.0.0.1", 0)
        servers.append(server)
        receiver.port = server.sockets[0].getsockname()[1]
        return receiver

    try:
        yield start
    finally:
        for server in servers:
            server.close()
            await server.wait_closed()

"""E-mail over SMTP (aiosmtplib): plain text with an HTML alternative, STARTTLS, optional auth.

With `starttls` the upgrade is required, so credentials are never sent over a clear connection;
the server certificate is verified against the system trust store unless a TLS context is given.
"""

from __future__ import annotations

import ssl
from email.message import EmailMessage
from email.utils import formatdate, make_msgid

import aiosmtplib

from serinus.adapters.egress import EgressGuard, EgressRefused
from serinus.adapters.notifiers.rendering import MessageContext, MessageRenderer
from serinus.core.errors import NotifierError
from serinus.core.events import Event

SUBJECT_LIMIT = 200


def _smtp_error(exc: aiosmtplib.SMTPException, where: str) -> NotifierError:
    """5xx replies, refused addresses, bad credentials and missing features are permanent."""
    if isinstance(exc, aiosmtplib.SMTPRecipientsRefused):
        codes = [refused.code for refused in exc.recipients]
        return NotifierError(
            f"{where}: recipients refused: {exc}",
            retryable=all(400 <= code < 500 for code in codes),
        )
    if isinstance(exc, aiosmtplib.SMTPNotSupported) or type(exc) is aiosmtplib.SMTPException:
        # The bare class is what aiosmtplib raises when the server lacks something the settings
        # require (STARTTLS, a usable AUTH mechanism): a configuration problem, not a blip.
        return NotifierError(f"{where}: {exc}", retryable=False)
    if isinstance(exc, aiosmtplib.SMTPResponseException):
        return NotifierError(f"{where}: {exc.code} {exc.message}", retryable=exc.code < 500)
    return NotifierError(f"{where}: {type(exc).__name__}: {exc}", retryable=True)


class SmtpNotifier:
    def __init__(
        self,
        *,
        host: str,
        port: int,
        sender: str,
        recipients: list[str],
        renderer: MessageRenderer,
        starttls: bool = True,
        username: str | None = None,
        password: str | None = None,
        timeout: float = 10.0,
        tls_context: ssl.SSLContext | None = None,
        egress: EgressGuard | None = None,
    ) -> None:
        self._egress = egress
        self._host = host
        self._port = port
        self._sender = sender
        self._recipients = recipients
        self._renderer = renderer
        self._starttls = starttls
        self._username = username
        self._password = password
        self._timeout = timeout
        self._tls_context = tls_context

    def message(self, rollout: str, event: Event, link: str | None = None) -> EmailMessage:
        context = MessageContext(rollout, event, link)
        # Headers cannot carry line breaks (and must not: header injection), so fold to one line.
        subject = " ".join(self._renderer.render("email_subject.txt.j2", context).split())
        message = EmailMessage()
        message["Subject"] = subject[:SUBJECT_LIMIT]
        message["From"] = self._sender
        message["To"] = ", ".join(self._recipients)
        message["Date"] = formatdate(event.at, usegmt=True)
        message["Message-ID"] = make_msgid(domain=self._sender.rpartition("@")[2])
        message.set_content(self._renderer.render("email_body.txt.j2", context) + "\n")
        message.add_alternative(
            self._renderer.render("email_body.html.j2", context) + "\n", subtype="html"
        )
        return message

    async def send(self, rollout: str, event: Event, link: str | None = None) -> None:
        where = f"smtp {self._host}:{self._port}"
        if self._egress is not None:
            # Checked, then connected by name (TLS verifies the name): unlike the HTTP channels a
            # name that re-resolves between the two is not caught here.
            try:
                await self._egress.checked_address(self._host, self._port)
            except EgressRefused as exc:
                raise NotifierError(f"{where}: {exc}", retryable=False) from None
        try:
            refused, _ = await aiosmtplib.send(
                self.message(rollout, event, link),
                sender=self._sender,
                recipients=self._recipients,
                hostname=self._host,
                port=self._port,
                start_tls=self._starttls,
                username=self._username,
                password=self._password,
                timeout=self._timeout,
                tls_context=self._tls_context,
            )
        except aiosmtplib.SMTPException as exc:
            raise _smtp_error(exc, where) from exc
        except OSError as exc:
            raise NotifierError(f"{where}: {type(exc).__name__}: {exc}") from exc
        if refused:
            # Some recipients got it; retrying would send them a duplicate.
            addresses = ", ".join(sorted(refused))
            raise NotifierError(f"{where}: recipients refused: {addresses}", retryable=False)

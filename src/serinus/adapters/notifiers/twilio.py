"""SMS through Twilio's Messages API (one POST per recipient, HTTP basic auth).

`POST {baseUrl}/2010-04-01/Accounts/{AccountSid}/Messages.json` with form fields `To`, `Body`
and `From` (a phone number) or `MessagingServiceSid`. Twilio answers 201 when it accepts the
message. Recipients already accepted are remembered per event, so a retry after a partial
failure does not text the same person twice.
"""

from __future__ import annotations

from urllib.parse import quote

import httpx

from serinus.adapters.notifiers.posting import post
from serinus.adapters.notifiers.rendering import MessageContext, MessageRenderer
from serinus.core.errors import NotifierError
from serinus.core.events import Event

# Two concatenated SMS segments: enough for the title, the message and a link.
BODY_LIMIT = 320


class TwilioSmsNotifier:
    def __init__(
        self,
        *,
        base_url: str,
        account_sid: str,
        auth_token: str,
        sender: str,
        recipients: list[str],
        http: httpx.AsyncClient,
        renderer: MessageRenderer,
    ) -> None:
        account = quote(account_sid, safe="")
        self._endpoint = f"{base_url.rstrip('/')}/2010-04-01/Accounts/{account}/Messages.json"
        self._auth = httpx.BasicAuth(account_sid, auth_token)
        self._sender_field = "MessagingServiceSid" if sender.startswith("MG") else "From"
        self._sender = sender
        self._recipients = recipients
        self._http = http
        self._renderer = renderer
        self._accepted: set[tuple[str, str, float, str]] = set()

    def body(self, rollout: str, event: Event, link: str | None = None) -> str:
        text = " ".join(
            self._renderer.render("sms.txt.j2", MessageContext(rollout, event, link)).split()
        )
        return text if len(text) <= BODY_LIMIT else text[: BODY_LIMIT - 1] + "…"

    async def send(self, rollout: str, event: Event, link: str | None = None) -> None:
        body = self.body(rollout, event, link)
        failures: list[NotifierError] = []
        key_of_event = (rollout, event.type.value, event.at)
        for recipient in self._recipients:
            key = (*key_of_event, recipient)
            if key in self._accepted:
                continue
            form = {"To": recipient, self._sender_field: self._sender, "Body": body}
            try:
                await post(
                    self._http,
                    self._endpoint,
                    f"twilio (to {recipient})",
                    data=form,
                    auth=self._auth,
                )
            except NotifierError as exc:
                failures.append(exc)
            else:
                self._accepted.add(key)
        if not failures:
            self._accepted -= {key for key in self._accepted if key[:3] == key_of_event}
            return
        raise NotifierError(
            "; ".join(str(failure) for failure in failures),
            retryable=any(failure.retryable for failure in failures),
        )

"""The channels a message can go by, behind one interface: SMTP e-mail, an HTTP webhook
(WeChat Work / DingTalk style bots), an SMS gateway reached with the pseudonymous id only,
and the in-app inbox.

Each send carries the delivery id as its idempotency key (the ``Idempotency-Key`` header,
the e-mail's Message-ID), so a message sent again after a crash between sending and
recording can be recognised by the receiver.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from email.message import EmailMessage
from typing import Protocol

import aiosmtplib

from cordon_notification.adapters.http_client import Answer, HttpClient, HttpFailure


@dataclass(frozen=True)
class Message:
    delivery_id: uuid.UUID
    source_id: str
    recipient_id: str
    address: str | None
    subject: str
    body: str
    template: str
    language: str


class ChannelError(Exception):
    """The channel did not take the message. ``permanent``: trying again will not help."""

    def __init__(self, reason: str, *, permanent: bool = False) -> None:
        super().__init__(reason)
        self.reason = reason
        self.permanent = permanent


class Channel(Protocol):
    async def send(self, message: Message) -> None:
        """Hand the message over, or raise ChannelError."""
        ...


class InAppChannel:
    """The ``inbox`` channel: the message row itself is the in-app inbox's entry, so there
    is nothing to hand over."""

    async def send(self, message: Message) -> None:
        return None


class EmailChannel:
    def __init__(
        self,
        *,
        host: str,
        port: int,
        sender: str,
        timeout: float,
        username: str | None = None,
        password: str | None = None,
        starttls: bool = False,
    ) -> None:
        self.host, self.port, self.sender, self.timeout = host, port, sender, timeout
        self.username, self.password, self.starttls = username, password, starttls
        self.domain = sender.rpartition("@")[2] or "cordon.local"

    async def send(self, message: Message) -> None:
        if not message.address:
            raise ChannelError("no e-mail address", permanent=True)
        mail = EmailMessage()
        mail["From"] = self.sender
        mail["To"] = message.address
        mail["Subject"] = message.subject
        mail["Message-ID"] = f"<{message.delivery_id}@{self.domain}>"
        mail["Content-Language"] = message.language
        mail.set_content(message.body)
        try:
            await aiosmtplib.send(
                mail,
                hostname=self.host,
                port=self.port,
                username=self.username,
                password=self.password,
                start_tls=self.starttls,
                timeout=self.timeout,
            )
        except aiosmtplib.SMTPResponseException as error:
            # 5xx is a refusal (unknown mailbox, policy); 4xx is temporary. The server's
            # text may quote the address, so only the code is kept.
            raise ChannelError(f"smtp {error.code}", permanent=error.code >= 500) from error
        except (aiosmtplib.SMTPException, OSError) as error:
            raise ChannelError(f"smtp {type(error).__name__}") from error


class WebhookChannel:
    """POSTs the bot message format WeChat Work and DingTalk share
    (``{"msgtype": "text", "text": {"content": ...}}``)."""

    def __init__(self, client: HttpClient) -> None:
        self.client = client

    async def send(self, message: Message) -> None:
        if not message.address:
            raise ChannelError("no webhook url", permanent=True)
        body = {"msgtype": "text", "text": {"content": f"{message.subject}\n{message.body}"}}
        await _post(self.client, message, message.address, body)


class SmsGatewayChannel:
    """Residents' SMS: the gateway gets the person id and the template, never a text with
    personal data nor a phone number; it looks the number up on its side."""

    def __init__(self, client: HttpClient) -> None:
        self.client = client

    async def send(self, message: Message) -> None:
        if not message.address:
            raise ChannelError("no sms gateway configured", permanent=True)
        body = {
            "delivery_id": str(message.delivery_id),
            "person_id": message.recipient_id,
            "template": message.template,
            "language": message.language,
        }
        await _post(self.client, message, message.address, body)


async def _post(client: HttpClient, message: Message, url: str, body: Mapping[str, object]) -> None:
    headers = {
        "Idempotency-Key": str(message.delivery_id),
        "X-Cordon-Delivery-Id": str(message.delivery_id),
        "X-Cordon-Source-Id": message.source_id,
    }
    content = json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode()
    try:
        answer = await client.post_json(url, content, headers)
    except HttpFailure as error:
        raise ChannelError(f"webhook {error.reason}") from error
    if answer.status >= 400:
        permanent = answer.status < 500 and answer.status not in (408, 429)
        raise ChannelError(f"webhook HTTP {answer.status}", permanent=permanent)
    if answer.status >= 300:
        raise ChannelError(f"webhook HTTP {answer.status}", permanent=True)
    _check_bot_answer(answer)


def _check_bot_answer(answer: Answer) -> None:
    """Bots answer 200 with ``{"errcode": N}``; anything but 0 is a refusal."""
    if "json" not in answer.content_type:
        return
    try:
        reply = json.loads(answer.body)
    except ValueError:
        return
    if isinstance(reply, dict) and reply.get("errcode", 0) not in (0, "0"):
        raise ChannelError(f"webhook errcode {reply['errcode']}")

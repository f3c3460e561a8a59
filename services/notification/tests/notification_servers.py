"""Real servers the notification service talks to in the tests: an HTTP webhook receiver
(a Starlette app under uvicorn, in the test's event loop) and an SMTP server (aiosmtpd)."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections import Counter
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from email.message import Message
from typing import Any

import pytest
import uvicorn
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from cordon_testing import wait_until
from cordon_testing.processes import free_port


@dataclass
class Received:
    path: str
    key: str
    source: str
    body: dict[str, Any]
    at: float


@dataclass
class WebhookServer:
    """Records every request; ``/ok`` accepts, ``/flaky/N`` fails a key's first N attempts
    with 500, ``/down`` always answers 500, ``/slow`` holds requests until ``release``."""

    port: int = 0
    requests: list[Received] = field(default_factory=list)
    accepted: Counter[str] = field(default_factory=Counter)
    """Accepted requests per idempotency key, counted once per key as a receiver would."""
    held: asyncio.Event = field(default_factory=asyncio.Event)

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def on(self, path: str) -> list[Received]:
        return [r for r in self.requests if r.path == path]

    async def handle(self, request: Request) -> JSONResponse:
        body = await request.json()
        key = request.headers.get("idempotency-key", "")
        got = Received(
            request.url.path, key, request.headers.get("x-cordon-source-id", ""), body,
            time.time(),
        )  # fmt: skip
        self.requests.append(got)
        path = request.url.path
        if path.startswith("/flaky/"):
            tries = sum(1 for r in self.requests if r.key == key)
            if tries <= int(path.rsplit("/", 1)[1]):
                return JSONResponse({"errcode": 500}, status_code=500)
        elif path.startswith("/down"):
            return JSONResponse({"errcode": 500}, status_code=500)
        elif path.startswith("/slow"):
            await self.held.wait()
        if key not in self.accepted:
            self.accepted[key] += 1
        return JSONResponse({"errcode": 0, "errmsg": "ok"})


@pytest.fixture(scope="module")
async def webhook() -> AsyncIterator[WebhookServer]:
    server_state = WebhookServer(port=free_port())
    app = Starlette(routes=[Route("/{path:path}", server_state.handle, methods=["POST"])])
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=server_state.port, log_level="warning")
    )
    task = asyncio.create_task(server.serve())

    async def started() -> bool:
        return bool(server.started)

    await wait_until(started, what="the webhook receiver to listen")
    yield server_state
    server_state.held.set()
    server.should_exit = True
    with contextlib.suppress(Exception):
        await asyncio.wait_for(task, 10)


class Mailbox:
    def __init__(self) -> None:
        self.messages: list[Message] = []

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        assert isinstance(envelope.content, bytes)
        self.messages.append(message_from_bytes(envelope.content, policy=policy.default))
        return "250 OK"

    def to(self, address: str) -> list[Message]:
        return [m for m in self.messages if m["To"] == address]


@dataclass
class SmtpServer:
    port: int
    mailbox: Mailbox


@pytest.fixture(scope="module")
def smtp() -> Iterator[SmtpServer]:
    mailbox = Mailbox()
    controller = Controller(mailbox, hostname="127.0.0.1", port=free_port())
    controller.start()
    yield SmtpServer(controller.port, mailbox)
    controller.stop()

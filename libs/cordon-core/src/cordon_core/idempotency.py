"""Idempotent commands: a write sent again with the same ``Idempotency-Key`` gets the first
answer back (same status, same body) and records nothing new, even after a crash.

``install_idempotency(app, storage)`` covers every write (POST, PUT, PATCH, DELETE) of a
service. A request carrying the header runs in ONE transaction opened here: the key is
locked, looked up, and, if new, the route runs with that transaction as its *request
transaction*; its 2xx answer is stored in ``idempotency_keys`` before the commit. The
events and the answer therefore commit together or not at all. A failed command (4xx,
5xx) stores nothing, so it can be sent again.

Use cases join the request transaction through the unit of work
(``cordon_core.unit_of_work``): inside an idempotent request they run in a savepoint of it,
and a conflict reruns the whole request, as the unit of work's ``CONFLICT_RETRY`` says.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass, field
from typing import Any, Protocol

import asyncpg
import structlog
from fastapi import FastAPI
from fastapi.routing import APIRoute
from starlette.middleware import Middleware
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from cordon_core.observability import IDEMPOTENT_REPLAYS
from cordon_core.outage import OUTAGE_ERRORS, unavailable
from cordon_core.store import RETRY_CONFLICTS
from cordon_core.unit_of_work import (
    RequestConflict,
    TooMuchContention,
    command_transaction,
    connection,
    contended,
    executor,
    request_transaction,
    retry_conflicts,
    run_command,
    serving_request,
)

log = structlog.get_logger(__name__)

IDEMPOTENCY_HEADER = "Idempotency-Key"
REPLAYED_HEADER = "Idempotent-Replayed"
WRITE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
MAX_KEY_LENGTH = 255
KEY_PATTERN = re.compile(r"^[!-~]{1,255}$")
"""Printable ASCII without spaces, as the OpenAPI documents state it."""
SHOWN_ONCE = "x-cordon-shown-once"
"""Mark of an operation whose answer holds a secret shown once (a token): the answer is
not kept, and a replay is told so (409) instead of seeing the secret again. Declare it with
``openapi_extra=SHOWN_ONCE_OPERATION``."""
SHOWN_ONCE_OPERATION: dict[str, Any] = {SHOWN_ONCE: True}

# The unit of work's hooks, where routes written before it found them.
__all__ = [
    "IDEMPOTENCY_HEADER",
    "REPLAYED_HEADER",
    "SHOWN_ONCE",
    "SHOWN_ONCE_OPERATION",
    "WRITE_METHODS",
    "IdempotencyMiddleware",
    "command_transaction",
    "connection",
    "executor",
    "install_idempotency",
    "request_transaction",
    "run_command",
]


class Storage(Protocol):
    """Where a service keeps its events: the service runtime, or anything with its pool."""

    schema: str

    @property
    def pool(self) -> asyncpg.Pool: ...


def install_idempotency(app: FastAPI, storage: Storage) -> None:
    """Make every write operation of ``app`` (POST, PUT, PATCH, DELETE) honour
    ``Idempotency-Key``, and document the header on each of them in the OpenAPI.

    A middleware, not a wrapper of each route: routers included lazily (FastAPI's
    ``include_router``) are covered too. It is placed innermost, inside the correlation
    middleware, so a replayed answer carries its correlation id and logs like any other.
    """
    if app.middleware_stack is not None:
        raise RuntimeError("install_idempotency must run before the app starts")
    app.user_middleware.append(Middleware(IdempotencyMiddleware, storage=storage))
    original = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema:
            return app.openapi_schema
        schema = original()
        for operations in schema.get("paths", {}).values():
            for method, operation in operations.items():
                if method.upper() in WRITE_METHODS:
                    operation.setdefault("parameters", []).append(_HEADER_PARAMETER)
                    operation.setdefault("responses", {}).setdefault("409", _REUSED_KEY)
        return schema

    app.openapi = openapi  # type: ignore[method-assign]


RERUN_REQUEST: tuple[type[Exception], ...] = (*RETRY_CONFLICTS, RequestConflict)
"""What makes the middleware run a whole request again in a fresh transaction."""

_REUSED_KEY: dict[str, Any] = {
    "description": "Conflict: among others, the Idempotency-Key was used for another request.",
    "content": {
        "application/json": {
            "schema": {"type": "object", "properties": {"detail": {}}, "required": ["detail"]}
        }
    },
}
_HEADER_PARAMETER = {
    "name": IDEMPOTENCY_HEADER,
    "in": "header",
    "required": False,
    "schema": {"type": "string", "pattern": KEY_PATTERN.pattern},
    "description": (
        "A key of the client's choosing, new for each command (a UUID): 1 to 255 printable"
        " ASCII characters, no spaces. The same request sent again with it gets the first"
        " answer back and changes nothing; another request with it is refused with 409."
        f" A replayed answer carries `{REPLAYED_HEADER}`. Ignored on a request without"
        " credentials, which the operation refuses anyway."
    ),
}


@dataclass
class Answer:
    """An HTTP response held back until the transaction has committed."""

    status: int
    headers: list[tuple[bytes, bytes]] = field(default_factory=list)
    body: bytes = b""

    @property
    def content_type(self) -> str | None:
        found = next((v for k, v in self.headers if k.lower() == b"content-type"), None)
        return found.decode("latin-1") if found is not None else None

    async def send(self, send: Send) -> None:
        await send({"type": "http.response.start", "status": self.status, "headers": self.headers})
        await send({"type": "http.response.body", "body": self.body})


class _Refused(Exception):
    """The command answered with an error: roll back whatever it wrote."""

    def __init__(self, answer: Answer) -> None:
        self.answer = answer


class IdempotencyMiddleware:
    """Runs each write at most once per idempotency key (see the module's doc)."""

    def __init__(self, app: ASGIApp, storage: Storage) -> None:
        self.app = app
        self.storage = storage

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        key = _header(scope, IDEMPOTENCY_HEADER.lower().encode())
        if (
            scope["type"] != "http"
            or scope["method"] not in WRITE_METHODS
            or key is None
            # Every write operation needs credentials: without any it is refused (401)
            # whatever its key, and a key must not make it answer anything else first.
            or _header(scope, b"authorization") is None
        ):
            await self.app(scope, receive, send)
            return
        if not KEY_PATTERN.match(key):
            await _error(422, "must be 1 to 255 printable ASCII characters, no spaces").send(send)
            return
        # Keys are the caller's own: scoped by its credentials, so another caller's key (or
        # a wrong token) never finds an answer, and its request meets the route's 401.
        caller = hashlib.sha256((_header(scope, b"authorization") or "").encode()).hexdigest()
        key = f"{caller[:32]}:{key}"
        body = await _read_body(receive)
        request_hash = _fingerprint(scope, body)

        async def once() -> Answer:
            scope.pop("route", None)  # left by a conflicted attempt's router
            return await self._run_once(scope, receive, key, request_hash, body)

        try:
            answer = await retry_conflicts(once, RERUN_REQUEST)
        except _Refused as refused:
            answer = refused.answer
        except TooMuchContention:
            # Too many writers contend: nothing was recorded, the client may retry.
            log.warning("idempotent_request_contended", idempotency_key=key)
            await contended()(scope, receive, send)
            return
        except OUTAGE_ERRORS as error:
            # Raised here, outside the app's exception handlers (the transaction is
            # this middleware's own): the same 503 an endpoint gives.
            retry_after = getattr(scope["app"].state, "outage_retry_after_s", 2)
            await unavailable(scope["path"], error, retry_after)(scope, receive, send)
            return
        await answer.send(send)

    async def _run_once(
        self, scope: Scope, receive: Receive, key: str, request_hash: str, body: bytes
    ) -> Answer:
        schema = self.storage.schema
        async with self.storage.pool.acquire() as conn, conn.transaction():
            # The lock (no transaction id taken) makes a concurrent duplicate wait here
            # until the first one has committed or rolled back; then it finds the answer.
            await conn.execute(
                "SELECT pg_advisory_xact_lock(hashtextextended($1, 0))", f"{schema}:{key}"
            )
            stored = await conn.fetchrow(
                f"SELECT request_hash, status, content_type, body"
                f" FROM {schema}.idempotency_keys WHERE idempotency_key = $1",
                key,
            )
            if stored is not None:
                return self._replay(stored, request_hash, key, scope["method"])
            async with serving_request(conn):
                answer = await _capture(self.app, scope, receive, body)
            if not 200 <= answer.status < 300:
                raise _Refused(answer)
            kept = answer
            if _shown_once(scope):
                kept = _error(409, "was used already; its answer held a secret shown only once")
            await conn.execute(
                f"""INSERT INTO {schema}.idempotency_keys
                    (idempotency_key, request_hash, method, path, status, content_type, body)
                    VALUES ($1, $2, $3, $4, $5, $6, $7)""",
                key,
                request_hash,
                scope["method"],
                scope["path"],
                kept.status,
                kept.content_type,
                kept.body,
            )
            return answer

    def _replay(self, stored: asyncpg.Record, request_hash: str, key: str, method: str) -> Answer:
        if stored["request_hash"] != request_hash:
            log.info("idempotency_key_reused", idempotency_key=key)
            return _error(409, "was used for a different request: send a new key")
        IDEMPOTENT_REPLAYS.labels(self.storage.schema, method).inc()
        log.info("idempotent_replay", idempotency_key=key)
        body: bytes = stored["body"]
        headers = [
            (b"content-length", str(len(body)).encode()),
            (REPLAYED_HEADER.lower().encode(), b"true"),
        ]
        if stored["content_type"]:
            headers.append((b"content-type", stored["content_type"].encode("latin-1")))
        return Answer(stored["status"], headers, body)


def _shown_once(scope: Scope) -> bool:
    """Whether the operation that answered is marked ``SHOWN_ONCE`` (the router leaves the
    matched route in the scope)."""
    route = scope.get("route")
    return isinstance(route, APIRoute) and bool((route.openapi_extra or {}).get(SHOWN_ONCE))


def _error(status: int, message: str) -> Answer:
    detail = {"loc": ["header", IDEMPOTENCY_HEADER], "msg": message, "type": "idempotency_key"}
    body = json.dumps({"detail": [detail]}).encode()
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    return Answer(status, headers, body)


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope.get("headers", []):
        if key == name:
            return str(value.decode("latin-1")).strip()
    return None


def _fingerprint(scope: Scope, body: bytes) -> str:
    """What makes two requests the same: method, path, query, caller and body.

    A multipart body is compared without its boundary, which a client draws anew for
    each attempt of the same upload."""
    content_type = _header(scope, b"content-type") or ""
    _, _, boundary = content_type.partition("boundary=")
    if content_type.startswith("multipart/") and boundary:
        body = body.replace(boundary.strip('"').encode("latin-1"), b"")
    digest = hashlib.sha256()
    for part in (
        scope["method"].encode(),
        scope.get("raw_path") or scope["path"].encode(),
        scope.get("query_string", b""),
        (_header(scope, b"authorization") or "").encode(),
        body,
    ):
        digest.update(len(part).to_bytes(8, "big"))
        digest.update(part)
    return digest.hexdigest()


async def _read_body(receive: Receive) -> bytes:
    chunks: list[bytes] = []
    while True:
        message = await receive()
        if message["type"] != "http.request":
            break
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            break
    return b"".join(chunks)


async def _capture(app: ASGIApp, scope: Scope, receive: Receive, body: bytes) -> Answer:
    """Run ``app`` on the buffered body and keep its response instead of sending it."""
    delivered = False
    answer = Answer(500)
    chunks: list[bytes] = []

    async def replay_body() -> Message:
        nonlocal delivered
        if delivered:
            return await receive()  # waits for the client to disconnect
        delivered = True
        return {"type": "http.request", "body": body, "more_body": False}

    async def keep(message: Message) -> None:
        if message["type"] == "http.response.start":
            answer.status = message["status"]
            answer.headers = list(message.get("headers", []))
        elif message["type"] == "http.response.body":
            chunks.append(message.get("body", b""))

    await app(scope, replay_body, keep)
    answer.body = b"".join(chunks)
    return answer

"""What every service's HTTP API does with input before and after its own validation: a
body-size limit per endpoint (413), a safety net for values no service can store or compute
with (422), and validation errors that never repeat a large input back.

One call where an app is built: ``install_input_guard(app, max_body_bytes, body_limits)``.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Iterator, Mapping, Sequence
from typing import Any
from urllib.parse import parse_qsl, unquote_to_bytes

from fastapi import FastAPI, Request
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from cordon_core.inputs import storable_text

ECHO_CHARS = 100
"""How much of a refused input a 422 repeats."""
MAX_ERRORS = 20
"""How many errors a 422 lists; a body with 5,000 bad rows is told of the first ones."""
SUSPECT = re.compile(rb"NaN|Infinity|\\u0000|\\u[dD][89a-fA-F]|[0-9][eE]\+?[0-9]{3}")
"""Cheap test for a JSON body that may hold a value to refuse; only then is it walked."""


def install_input_guard(
    app: FastAPI, max_body_bytes: int, body_limits: Mapping[str, int] | None = None
) -> None:
    """Guard ``app``: bodies up to ``max_body_bytes``, or ``body_limits[route path]`` for
    the routes named there (e.g. ``{"/v1/scans/batch": 4 << 20}``)."""
    app.add_middleware(InputGuard, default=max_body_bytes, limits=dict(body_limits or {}))
    app.add_exception_handler(RequestValidationError, capped_validation_errors)


async def capped_validation_errors(_: Request, error: Exception) -> JSONResponse:
    assert isinstance(error, RequestValidationError)
    return JSONResponse({"detail": capped(error.errors())}, status_code=422)


def capped(errors: Sequence[Any]) -> list[dict[str, Any]]:
    """At most MAX_ERRORS errors, each repeating at most ECHO_CHARS of its input."""
    shown = [_capped_one(dict(e)) for e in errors[:MAX_ERRORS]]
    if len(errors) > MAX_ERRORS:
        more = len(errors) - MAX_ERRORS
        shown.append({"loc": [], "msg": f"{more} more errors not shown", "type": "too_many_errors"})
    return shown


def _capped_one(error: dict[str, Any]) -> dict[str, Any]:
    error.pop("url", None)
    if "input" in error:
        error["input"] = _short(error["input"])
    if "ctx" in error:
        error["ctx"] = {str(k): _short(v) for k, v in dict(error["ctx"]).items()}
    error["loc"] = [_plain(part) for part in error.get("loc", ())]
    error["msg"] = _short(str(error.get("msg", "")), 300)
    return error


def _short(value: Any, limit: int = ECHO_CHARS) -> Any:
    """``value`` as JSON can carry it, or its first ``limit`` characters when longer."""
    try:
        plain = _plain(jsonable_encoder(value, custom_encoder={Exception: str}))
    except (TypeError, ValueError):
        plain = _plain(str(value))
    text = plain if isinstance(plain, str) else json.dumps(plain, ensure_ascii=False)
    return plain if len(text) <= limit else text[:limit] + "…"


def _plain(value: Any) -> Any:
    """Only what a JSON response can encode: no NaN, no lone surrogate."""
    if isinstance(value, str):
        return value.encode("utf-8", "replace").decode("utf-8")
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {_plain(str(k)): _plain(v) for k, v in value.items()}
    if value is None or isinstance(value, bool | int | float):
        return value
    return _plain(str(value))


class InputGuard:
    """A plain ASGI middleware (no task group, no streamed body per request)."""

    def __init__(self, app: ASGIApp, default: int, limits: dict[str, int]) -> None:
        self.app = app
        self.default = default
        self.limits = [(_template(path), n) for path, n in limits.items()]

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        if (where := _nul_outside_body(scope)) is not None:
            await _refuse(send, 422, {"detail": [_error(where, "storable_text", NUL_MSG)]})
            return
        limit = self.default
        declared = _content_length(scope)
        if declared is not None and declared > limit:
            limit = self._route_limit(scope)
            if declared > limit:
                await _refuse(send, 413, {"detail": _too_large(limit)})
                return
        chunks: list[bytes] = []
        size = 0
        more = True
        while more:
            message = await receive()
            if message["type"] != "http.request":
                await self.app(scope, _replay([message], receive), send)
                return
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > limit and limit == self.default:
                limit = self._route_limit(scope)
            if size > limit:
                await _refuse(send, 413, {"detail": _too_large(limit)})
                return
            chunks.append(chunk)
            more = message.get("more_body", False)
        body = b"".join(chunks)
        if _is_json(scope) and SUSPECT.search(body):
            problems = list(_unstorable(body))
            if problems:
                await _refuse(send, 422, {"detail": capped(problems)})
                return
        replayed: Message = {"type": "http.request", "body": body, "more_body": False}
        await self.app(scope, _replay([replayed], receive), send)

    def _route_limit(self, scope: Scope) -> int:
        path = scope.get("path", "")
        return next((n for route, n in self.limits if route.fullmatch(path)), self.default)


def _template(path: str) -> re.Pattern[str]:
    """A route's path template (``/v1/communities/{community_id}/imports``) as a pattern."""
    return re.compile(re.sub(r"\\\{[^}]+\\\}", "[^/]+", re.escape(path)))


NUL_MSG = "must not contain the NUL character (\\u0000)"


def _error(loc: Sequence[str | int], kind: str, msg: str) -> dict[str, Any]:
    return {"loc": list(loc), "msg": msg, "type": kind}


def _too_large(limit: int) -> str:
    return f"the request body is larger than this endpoint's limit of {limit} bytes"


def _nul_outside_body(scope: Scope) -> list[str | int] | None:
    if "\x00" in scope.get("path", "") or b"%00" in scope.get("raw_path", b"").lower():
        return ["path"]
    query = scope.get("query_string", b"")
    if b"\x00" in unquote_to_bytes(query):
        pairs = parse_qsl(query.decode("latin-1"), keep_blank_values=True, errors="replace")
        named = next((name for name, value in pairs if "\x00" in name + value), None)
        return ["query"] if named is None else ["query", _printable(named)]
    for name, value in scope.get("headers", []):
        if b"\x00" in value:
            return ["header", name.decode("latin-1")]
    return None


def _content_length(scope: Scope) -> int | None:
    for name, value in scope.get("headers", []):
        if name == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None
    return None


def _is_json(scope: Scope) -> bool:
    """As FastAPI decides: a JSON content type, or none at all."""
    for name, value in scope.get("headers", []):
        if name == b"content-type":
            return b"json" in value.lower()
    return True


def _unstorable(body: bytes) -> Iterator[dict[str, Any]]:
    """Every value of a JSON body that no field can take: FastAPI's own check names the
    malformed ones."""
    try:
        document = json.loads(body)
    except ValueError:
        return
    yield from _walk(document, ["body"])


def _walk(value: Any, loc: list[str | int]) -> Iterator[dict[str, Any]]:
    if isinstance(value, float) and not math.isfinite(value):
        yield _error(loc, "finite_number", "must be a finite number (not NaN or Infinity)")
    elif isinstance(value, str):
        try:
            storable_text(value)
        except ValueError as refused:
            yield _error(loc, "storable_text", str(refused))
    elif isinstance(value, list):
        for i, item in enumerate(value):
            yield from _walk(item, [*loc, i])
    elif isinstance(value, dict):
        for key, item in value.items():
            yield from _walk(key, [*loc, "<key>"])
            yield from _walk(item, [*loc, _printable(key)])


def _printable(key: str) -> str:
    return str(_plain(key)).replace("\x00", "\\u0000")[:ECHO_CHARS]


def _replay(messages: list[Message], receive: Receive) -> Receive:
    async def replay() -> Message:
        return messages.pop(0) if messages else await receive()

    return replay


async def _refuse(send: Send, status: int, body: dict[str, Any]) -> None:
    content = json.dumps(body).encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(content)).encode()),
            ],
        }
    )
    await send({"type": "http.response.body", "body": content})

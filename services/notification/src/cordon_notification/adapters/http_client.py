"""The HTTP client of the webhook and SMS-gateway channels: keep-alive HTTP/1.1 connections
per origin, each request written with one system call, answers parsed by httptools (llhttp,
the parser uvicorn uses).

Why not httpx: on the benchmark machine httpx spent about 1.5 ms of CPU per POST (two
writes per request, anyio and connection-pool bookkeeping, a failed ``import sniffio`` on
every request), half of the service's CPU per delivery. The channels need little: POST a
JSON body, read the status, content type and a bounded body. So this does only that: no
redirects (a bot that answers 3xx has failed), no cookies, no proxies.
"""

from __future__ import annotations

import asyncio
import base64
import ssl
from collections.abc import Mapping
from dataclasses import dataclass, field
from urllib.parse import SplitResult, unquote, urlsplit

import httptools

MAX_ANSWER_BYTES = 64 * 1024
"""Bots answer a few bytes of JSON; more than this is not read."""


@dataclass(frozen=True)
class Answer:
    status: int
    content_type: str
    body: bytes


class HttpFailure(Exception):
    """No usable answer: connection refused or reset, timeout, malformed or oversized reply."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass
class _Reply:
    """httptools' callbacks, collecting one answer."""

    headers: dict[bytes, bytes] = field(default_factory=dict)
    body: bytearray = field(default_factory=bytearray)
    started: bool = False
    complete: bool = False
    keep_alive: bool = False
    parser: httptools.HttpResponseParser | None = None

    def on_message_begin(self) -> None:
        self.started = True

    def on_header(self, name: bytes, value: bytes) -> None:
        self.headers[name.lower()] = value

    def on_body(self, body: bytes) -> None:
        if len(self.body) + len(body) > MAX_ANSWER_BYTES:
            raise HttpFailure("answer too large")
        self.body += body

    def on_message_complete(self) -> None:
        self.complete = True
        # Asked here: once the message is complete the parser has reset and says False.
        self.keep_alive = self.parser is not None and self.parser.should_keep_alive()


@dataclass
class _Connection:
    reader: asyncio.StreamReader
    writer: asyncio.StreamWriter

    def reusable(self) -> bool:
        return not self.writer.is_closing() and not self.reader.at_eof()

    def close(self) -> None:
        self.writer.close()


class _Origin:
    """At most ``connections`` requests at once to one ``scheme://host:port``."""

    def __init__(self, url: SplitResult, connections: int, tls: ssl.SSLContext | None) -> None:
        self.host = url.hostname or ""
        self.port = url.port or (443 if url.scheme == "https" else 80)
        self.tls = tls
        self.slots = asyncio.Semaphore(connections)
        self.idle: list[_Connection] = []

    async def exchange(self, request: bytes) -> Answer:
        async with self.slots:
            while self.idle:
                connection = self.idle.pop()
                if connection.reusable():
                    try:
                        return await self._on(connection, request)
                    except _NothingReceived:
                        # The server had closed this kept-alive connection; the request was
                        # not answered, so it goes once more, on a fresh connection. (The
                        # receiver sees the same Idempotency-Key if it did get it.)
                        break
                connection.close()
            reader, writer = await asyncio.open_connection(
                self.host, self.port, ssl=self.tls, server_hostname=self.host if self.tls else None
            )
            try:
                return await self._on(_Connection(reader, writer), request)
            except _NothingReceived as error:
                raise HttpFailure("connection closed without an answer") from error

    async def _on(self, connection: _Connection, request: bytes) -> Answer:
        reply = _Reply()
        parser = reply.parser = httptools.HttpResponseParser(reply)
        keep = False
        try:
            connection.writer.write(request)
            while not reply.complete:
                data = await connection.reader.read(65536)
                if not data:
                    if not reply.started:
                        raise _NothingReceived
                    framed = {b"content-length", b"transfer-encoding"} & reply.headers.keys()
                    if not reply.headers or framed:
                        raise HttpFailure("answer cut short")
                    break  # an answer delimited by closing the connection
                parser.feed_data(data)
            keep = reply.complete and reply.keep_alive
        except httptools.HttpParserError as error:
            raise HttpFailure("malformed answer") from error
        except ConnectionError as error:
            if not reply.started:
                raise _NothingReceived from error
            raise
        finally:
            if keep:
                self.idle.append(connection)
            else:
                connection.close()
        return Answer(
            parser.get_status_code(),
            reply.headers.get(b"content-type", b"").decode("latin-1"),
            bytes(reply.body),
        )

    def close(self) -> None:
        for connection in self.idle:
            connection.close()
        self.idle.clear()


class _NothingReceived(Exception):
    pass


class HttpClient:
    """POSTs over kept-alive connections, at most ``connections`` at once per origin."""

    def __init__(self, *, connections: int, timeout: float) -> None:
        self.connections, self.timeout = connections, timeout
        self._origins: dict[tuple[str, str], _Origin] = {}
        self._tls: ssl.SSLContext | None = None

    async def post_json(self, url: str, body: bytes, headers: Mapping[str, str]) -> Answer:
        """POST ``body`` (JSON) to ``url``; the answer whatever its status, or HttpFailure."""
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise HttpFailure("not an http(s) url")
        origin = self._origin(parts)
        try:
            async with asyncio.timeout(self.timeout):
                return await origin.exchange(_request(parts, body, headers))
        except TimeoutError as error:
            raise HttpFailure("timeout") from error
        except OSError as error:
            raise HttpFailure(type(error).__name__) from error

    def _origin(self, parts: SplitResult) -> _Origin:
        key = (parts.scheme, parts.netloc.rpartition("@")[2].lower())
        origin = self._origins.get(key)
        if origin is None:
            tls = None
            if parts.scheme == "https":
                tls = self._tls = self._tls or ssl.create_default_context()
            origin = self._origins[key] = _Origin(parts, self.connections, tls)
        return origin

    async def aclose(self) -> None:
        for origin in self._origins.values():
            origin.close()
        self._origins.clear()


def _request(parts: SplitResult, body: bytes, headers: Mapping[str, str]) -> bytes:
    target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    lines = [
        f"POST {target} HTTP/1.1",
        f"Host: {parts.netloc.rpartition('@')[2]}",
        "User-Agent: cordon-notification",
        "Content-Type: application/json",
        f"Content-Length: {len(body)}",
    ]
    if parts.username is not None:
        credentials = f"{unquote(parts.username)}:{unquote(parts.password or '')}"
        lines.append(f"Authorization: Basic {base64.b64encode(credentials.encode()).decode()}")
    for name, value in headers.items():
        if any(c in f"{name}{value}" for c in "\r\n"):
            raise HttpFailure("header with a line break")
        lines.append(f"{name}: {value}")
    try:
        return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body
    except UnicodeEncodeError as error:
        raise HttpFailure("header not in latin-1") from error

"""A small HTTP balancer for `cordon up --replicas`: one public port per service, requests
spread round-robin over the service's replicas.

Why a balancer and not a client-side list: devices, the dashboard and the offices know one
address per service (docker-compose.yml's ports), and a replica that dies must drop out of
their way without each of them learning a list. In production the same role is played by
the platform's load balancer or a Kubernetes Service; this one exists so that one machine
can run, and the tests can kill, several processes of a service.

Rules:
- A request goes to the next replica in turn that the supervisor counts as ready.
- When a replica cannot be connected to, the request never reached it, so it is sent to
  the next one (safe for every method). Once a replica has the request, its answer, or
  the broken connection, is the caller's: a request that may have been acted on is never
  sent twice (a device retries with the same scan id, which the gate answers once).
- No replica ready: 503 with Retry-After, as the services answer during an outage.
- Answers are streamed back as they come (the dashboard's live feed is an event stream).
"""

from __future__ import annotations

import asyncio
import itertools
import logging
from collections.abc import Callable, Mapping, Sequence

import aiohttp
from aiohttp import web
from multidict import CIMultiDict

log = logging.getLogger("cordon.balancer")

HOP_BY_HOP = frozenset(
    {"connection", "keep-alive", "proxy-authenticate", "proxy-authorization", "te", "trailer",
     "transfer-encoding", "upgrade", "host", "content-length"}
)  # fmt: skip
"""Headers that belong to one connection (RFC 9110 §7.6.1), never forwarded."""


def _forwarded(headers: Mapping[str, str]) -> CIMultiDict[str]:
    """The end-to-end headers, repeated ones (Set-Cookie) kept."""
    return CIMultiDict((k, v) for k, v in headers.items() if k.lower() not in HOP_BY_HOP)


class Balancer:
    """Round-robin over ``replicas()`` (base URLs of the replicas ready now)."""

    def __init__(self, name: str, replicas: Callable[[], Sequence[str]]) -> None:
        self.name = name
        self.replicas = replicas
        self._turn = itertools.count()
        self._session: aiohttp.ClientSession | None = None
        self._runner: web.AppRunner | None = None
        self.sent: dict[str, int] = {}
        """Requests each replica was given (what the tests read to see the spread)."""

    def _order(self) -> list[str]:
        ready = list(self.replicas())
        if not ready:
            return []
        first = next(self._turn) % len(ready)
        return ready[first:] + ready[:first]

    async def handle(self, request: web.Request) -> web.StreamResponse:
        assert self._session is not None
        body = await request.read()
        for base in self._order():
            try:
                upstream = await self._session.request(
                    request.method,
                    f"{base}{request.path_qs}",
                    headers=_forwarded(request.headers),
                    data=body,
                    allow_redirects=False,
                )
            except aiohttp.ClientConnectorError:
                log.info("balancer.replica_unreachable service=%s replica=%s", self.name, base)
                continue  # never connected: the request did not reach it
            self.sent[base] = self.sent.get(base, 0) + 1
            try:
                answer = web.StreamResponse(
                    status=upstream.status, headers=_forwarded(upstream.headers)
                )
                await answer.prepare(request)
                async for chunk in upstream.content.iter_any():
                    await answer.write(chunk)
                await answer.write_eof()
                return answer
            finally:
                upstream.release()
        return web.json_response(
            {"detail": f"no replica of {self.name} is ready; retry"},
            status=503,
            headers={"Retry-After": "1"},
        )

    async def start(self, port: int, host: str = "127.0.0.1") -> None:
        # No total timeout: the live feed streams for as long as the dashboard is open.
        timeout = aiohttp.ClientTimeout(total=None, sock_connect=2)
        self._session = aiohttp.ClientSession(timeout=timeout, auto_decompress=False)
        app = web.Application(client_max_size=64 * 1024 * 1024)  # the services set limits
        app.router.add_route("*", "/{tail:.*}", self.handle)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        await web.TCPSite(self._runner, host, port).start()
        log.info("balancer.started service=%s port=%d", self.name, port)

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
        if self._session is not None:
            await self._session.close()
            await asyncio.sleep(0)  # let the connector close its sockets

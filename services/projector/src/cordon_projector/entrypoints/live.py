"""Live updates for the dashboard: the live-gates projection notifies (``pg_notify``) when a
batch commits; streams wake up, recompute their view and push it as server-sent events."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from typing import Any

import asyncpg
import structlog

log = structlog.get_logger(__name__)


class LiveHub:
    """One LISTEN connection; each stream waits for a notification naming its communities."""

    def __init__(self, database_url: str, channel: str) -> None:
        self.database_url = database_url
        self.channel = channel
        self._conn: asyncpg.Connection | None = None
        self._waiters: list[tuple[set[str] | None, asyncio.Event]] = []

    async def start(self) -> None:
        try:
            self._conn = await asyncpg.connect(self.database_url)
            await self._conn.add_listener(self.channel, self._notified)
        except (OSError, asyncpg.PostgresError):
            log.warning("live_hub_unavailable", channel=self.channel, exc_info=True)

    async def stop(self) -> None:
        if self._conn is not None:
            with contextlib.suppress(Exception):
                await self._conn.close(timeout=2)

    def _notified(self, _conn: object, _pid: int, _channel: str, payload: str) -> None:
        communities = set(payload.split(","))
        for wanted, event in self._waiters:
            if wanted is None or wanted & communities:
                event.set()

    @contextlib.contextmanager
    def subscription(self, communities: set[str] | None) -> Iterator[asyncio.Event]:
        """An event set whenever a batch touching ``communities`` (None: any) commits; it
        stays subscribed while the caller recomputes, so no commit goes unnoticed."""
        waiter = (communities, asyncio.Event())
        self._waiters.append(waiter)
        try:
            yield waiter[1]
        finally:
            self._waiters.remove(waiter)


async def event_stream(
    view: Callable[[], Awaitable[dict[str, Any]]],
    hub: LiveHub,
    communities: set[str] | None,
    *,
    refresh_s: float,
    disconnected: Callable[[], Awaitable[bool]],
    event: str = "gates",
) -> AsyncIterator[str]:
    """Server-sent events: the view now, then again whenever it changed."""
    last = None
    yield "retry: 2000\n\n"
    with hub.subscription(communities) as changed:
        while not await disconnected():
            changed.clear()
            current = await view()
            comparable = json.dumps({k: v for k, v in current.items() if k != "at"}, default=str)
            if comparable != last:
                last = comparable
                yield f"event: {event}\ndata: {json.dumps(current, default=str)}\n\n"
            else:
                yield ": keep-alive\n\n"
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(changed.wait(), refresh_s)

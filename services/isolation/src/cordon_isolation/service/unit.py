"""One use case, one transaction: retried when another writer got to the stream first."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import TypeVar

import asyncpg

from cordon_core.store import ConcurrencyError

T = TypeVar("T")


class TooMuchContention(Exception):
    pass


async def in_transaction(
    pool: asyncpg.Pool, work: Callable[[asyncpg.Connection], Awaitable[T]], attempts: int = 8
) -> T:
    """Run ``work`` in a fresh transaction, again (deciding afresh) on a ConcurrencyError."""
    for attempt in range(attempts):
        try:
            async with pool.acquire() as conn, conn.transaction():
                return await work(conn)
        except ConcurrencyError:
            await asyncio.sleep(0.005 * (attempt + 1))
    raise TooMuchContention("too much contention; retry")

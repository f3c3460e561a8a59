"""One use case, one transaction: the shared unit of work (``cordon_core.idempotency``).
Inside an idempotent request it is a savepoint of the request's transaction, so the events
and the stored answer commit together; otherwise its own transaction, rerun on a conflict."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TypeVar

import asyncpg

from cordon_core.idempotency import request_transaction, run_command
from cordon_core.store import RETRY_CONFLICTS

T = TypeVar("T")


class TooMuchContention(Exception):
    pass


async def in_transaction(
    pool: asyncpg.Pool, work: Callable[[asyncpg.Connection], Awaitable[T]], attempts: int = 8
) -> T:
    """Run ``work`` in the command's transaction, deciding afresh after a conflict."""
    try:
        return await run_command(pool, work, attempts=attempts)
    except RETRY_CONFLICTS:
        if request_transaction() is not None:
            raise  # the idempotent request is rerun whole, in a fresh transaction
        raise TooMuchContention("too much contention; retry") from None

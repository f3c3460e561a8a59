"""One use case, one transaction: the isolation service's hook into the shared unit of work
(``cordon_core.unit_of_work``). Inside an idempotent request it is a savepoint of the
request's transaction, so the events and the stored answer commit together; otherwise its
own transaction, rerun on a conflict."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TypeVar

import asyncpg

from cordon_core.unit_of_work import TooMuchContention, run_command

T = TypeVar("T")


async def in_transaction(
    pool: asyncpg.Pool, work: Callable[[asyncpg.Connection], Awaitable[T]]
) -> T:
    """Run ``work`` in the command's transaction, deciding afresh after a conflict."""
    return await run_command(pool, work)


__all__ = ["TooMuchContention", "in_transaction"]

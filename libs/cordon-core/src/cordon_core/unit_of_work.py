"""The unit of work: every use case of every service runs through ``run_command``, in one
transaction, and is run again, whole, when a concurrent writer got there first.

Inside an idempotent request (``cordon_core.idempotency``) a use case joins the request's
transaction as a savepoint, so its events and the stored answer commit together; a conflict
there goes up as ``RequestConflict`` and the middleware reruns the whole request in a fresh
transaction, with the same ``CONFLICT_RETRY`` policy. Only a fresh transaction sees what the
other writer committed (and only a fresh transaction id keeps the relay's order, see
``store.append_many``). When every attempt conflicted, ``TooMuchContention`` says so:
nothing was recorded, and the caller is answered 503 (``install_contention_answer``).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from typing import TypeVar

import asyncpg
import structlog
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from cordon_core.store import RETRY_CONFLICTS

log = structlog.get_logger(__name__)
T = TypeVar("T")
UseCase = Callable[[asyncpg.Connection], Awaitable[T]]


@dataclass(frozen=True)
class ConflictRetry:
    """How often a conflicted use case (or idempotent request) is run again, and how long
    it waits first: ``backoff_s`` times the attempt that failed, so two writers that met
    on the same records do not meet again at once."""

    attempts: int = 10
    backoff_s: float = 0.005

    def pause(self, attempt: int) -> float:
        return self.backoff_s * attempt


CONFLICT_RETRY = ConflictRetry()
"""The one policy: a use case, a group of scans and a whole idempotent request alike."""

CONTENDED = "too many concurrent writers on the same records; nothing was recorded, retry"
CONTENDED_RETRY_AFTER_S = 1


class TooMuchContention(Exception):
    """Every attempt met a concurrent writer: nothing was recorded; the caller should retry."""

    def __init__(self, message: str = CONTENDED) -> None:
        super().__init__(message)


class RequestConflict(Exception):
    """A use case inside an idempotent request met a concurrent writer: the request's
    transaction must be rolled back and the whole request run again."""


_request_transaction: ContextVar[asyncpg.Connection | None] = ContextVar(
    "cordon_request_transaction", default=None
)


def request_transaction() -> asyncpg.Connection | None:
    """The connection of the idempotent request being served, inside its transaction."""
    return _request_transaction.get()


@asynccontextmanager
async def serving_request(conn: asyncpg.Connection) -> AsyncIterator[None]:
    """Make ``conn``'s transaction the one every use case of the current request joins."""
    token = _request_transaction.set(conn)
    try:
        yield
    finally:
        _request_transaction.reset(token)


def executor(pool: asyncpg.Pool) -> asyncpg.Connection | asyncpg.Pool:
    """Where a single statement of a write should run: in the request transaction if
    there is one (so it commits with the key), else on the pool."""
    return _request_transaction.get() or pool


@asynccontextmanager
async def connection(pool: asyncpg.Pool) -> AsyncIterator[asyncpg.Connection]:
    """A connection for reads: the request transaction's when there is one (it sees the
    request's own writes, and the request never waits for a second pooled connection)."""
    conn = _request_transaction.get()
    if conn is None:
        async with pool.acquire() as own:
            yield own
    else:
        yield conn


@asynccontextmanager
async def command_transaction(pool: asyncpg.Pool) -> AsyncIterator[asyncpg.Connection]:
    """The transaction a command runs in: a savepoint of the idempotent request's
    transaction when there is one, else a new transaction on a pooled connection."""
    conn = _request_transaction.get()
    if conn is None:
        async with pool.acquire() as own, own.transaction():
            yield own
    else:
        async with conn.transaction():
            yield conn


async def run_command(
    pool: asyncpg.Pool,
    run: UseCase[T],
    *,
    conflicts: tuple[type[Exception], ...] = RETRY_CONFLICTS,
    transaction: bool = True,
) -> T:
    """Run the use case ``run`` in ``command_transaction``; on one of ``conflicts``, roll
    back and run it again (it reloads and decides afresh), as ``CONFLICT_RETRY`` says.

    ``transaction=False`` hands ``run`` a pooled connection outside a transaction, for a
    use case that writes with one self-committing statement when it can and opens its own
    transaction when it cannot (the gate's groups of scans: two round trips, not four).
    Raises ``TooMuchContention`` after the last attempt, ``RequestConflict`` at once inside
    an idempotent request.
    """
    if _request_transaction.get() is not None:
        try:
            async with command_transaction(pool) as conn:
                return await run(conn)
        except conflicts as conflict:
            raise RequestConflict(str(conflict)) from conflict

    async def once() -> T:
        if not transaction:
            async with pool.acquire() as conn:
                return await run(conn)
        async with command_transaction(pool) as conn:
            return await run(conn)

    return await retry_conflicts(once, conflicts)


async def retry_conflicts(
    once: Callable[[], Awaitable[T]],
    conflicts: tuple[type[Exception], ...],
    policy: ConflictRetry = CONFLICT_RETRY,
) -> T:
    """Await ``once()`` until it does not raise one of ``conflicts``, at most
    ``policy.attempts`` times; then ``TooMuchContention``."""
    for attempt in range(1, policy.attempts + 1):
        try:
            return await once()
        except conflicts as conflict:
            if attempt == policy.attempts:
                log.warning("command_contended", attempts=attempt, conflict=repr(conflict))
                raise TooMuchContention from conflict
            log.info("command_retried", attempt=attempt, conflict=type(conflict).__name__)
            await asyncio.sleep(policy.pause(attempt))
    raise AssertionError("unreachable")


def contended() -> JSONResponse:
    """The answer to ``TooMuchContention``: 503, nothing recorded, retry after a second."""
    return JSONResponse(
        {"detail": CONTENDED},
        status_code=503,
        headers={"Retry-After": str(CONTENDED_RETRY_AFTER_S)},
    )


def install_contention_answer(app: FastAPI) -> None:
    """Answer ``TooMuchContention`` from any route with ``contended()``."""

    async def handler(_: Request, error: Exception) -> JSONResponse:
        return contended()

    app.add_exception_handler(TooMuchContention, handler)

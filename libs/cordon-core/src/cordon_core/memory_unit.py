"""Use cases on in-memory adapters, run as ``run_command`` runs them on PostgreSQL: the
fast tier's unit of work.

A use case takes a connection and hands it to its store and tables; in memory there is no
connection, so it gets ``None`` and the in-memory adapters ignore it. What a transaction
gives, this gives too, so that a use case tested here behaves as it does on PostgreSQL:

- **all or nothing**: each participant (the store and every in-memory table the use case
  writes) is snapshotted before the use case runs and restored when it raises;
- **one at a time**: a lock serialises use cases, as if every transaction were
  SERIALIZABLE, so a restore never undoes another use case's writes;
- **decided again on a conflict**: ``RETRY_CONFLICTS`` reruns it with the same
  ``CONFLICT_RETRY`` policy (``retry_conflicts``), then ``TooMuchContention``.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any, Protocol, TypeVar

from cordon_core.store import RETRY_CONFLICTS
from cordon_core.unit_of_work import UseCase, retry_conflicts

T = TypeVar("T")


class Restorable(Protocol):
    """An in-memory adapter whose state a failed use case must leave as it found it."""

    def snapshot(self) -> Any: ...

    def restore(self, snapshot: Any) -> None: ...


class MemoryUnitOfWork:
    """Runs use cases over ``participants`` with a transaction's promises (module doc)."""

    def __init__(self, *participants: Restorable) -> None:
        self.participants = participants
        self._lock = asyncio.Lock()

    async def command(
        self, run: UseCase[T], *, conflicts: tuple[type[Exception], ...] = RETRY_CONFLICTS
    ) -> T:
        """Run ``run`` all or nothing; on one of ``conflicts``, run it again."""

        async def once() -> T:
            async with self.transaction() as conn:
                return await run(conn)

        return await retry_conflicts(once, conflicts)

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[Any]:
        """One use case's transaction: its writes stay when the block ends, and are undone
        when it raises. Yields the connection the use case hands on (``None``)."""
        async with self._lock:
            saved = [p.snapshot() for p in self.participants]
            try:
                yield None
            except BaseException:
                for participant, snapshot in zip(self.participants, saved, strict=True):
                    participant.restore(snapshot)
                raise

    @asynccontextmanager
    async def connection(self) -> AsyncIterator[Any]:
        """A connection to read with: ``None``; reads wait for a running use case."""
        async with self._lock:
            yield None

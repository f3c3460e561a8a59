"""The timer worker: fires due check-in deadlines, each exactly once, in the transaction
that records ``CheckInMissed``; timers live in PostgreSQL, so a restart loses none."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import datetime

import asyncpg
import structlog

from cordon_isolation.adapters.timers import Timers
from cordon_isolation.service.orders import IsolationDesk

log = structlog.get_logger(__name__)


class DeadlineWorker:
    def __init__(
        self,
        pool: Callable[[], asyncpg.Pool],
        desk: IsolationDesk,
        timers: Timers,
        clock: Callable[[], datetime],
        *,
        batch: int = 100,
    ) -> None:
        self.pool = pool
        self.desk = desk
        self.timers = timers
        self.clock = clock
        self.batch = batch

    async def fire_due(self) -> int:
        """Fire the timers due now; returns how many were settled."""
        now = self.clock()
        settled = 0
        async with self.pool().acquire() as conn, conn.transaction():
            for timer in await self.timers.claim_due(conn, now, self.batch):
                try:
                    async with conn.transaction():  # a savepoint: one bad timer spoils none
                        outcome = await self.desk.deadline_passed(conn, timer, now)
                        await self.timers.mark_fired(conn, timer.timer_id, now, outcome)
                    settled += 1
                    log.info("timer_fired", timer_id=str(timer.timer_id), outcome=outcome,
                             stream_id=f"isolation:{timer.payload.get('person_id')}")  # fmt: skip
                except Exception:
                    log.warning("timer_failed", timer_id=str(timer.timer_id), exc_info=True)
        return settled

    async def run(self, poll_interval: float) -> None:
        """Poll until cancelled; a busy round polls again at once."""
        while True:
            try:
                if await self.fire_due() >= self.batch:
                    continue
            except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError):
                log.warning("timer_poll_failed", exc_info=True)
            await asyncio.sleep(poll_interval)

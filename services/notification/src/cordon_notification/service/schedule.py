"""Messages nobody's event asks for: digests of what a rate limit held back, the offices'
daily report at its configured local time, and residents' daily check-in reminders.

Each has an id derived from what it is about (the first held message, the office and
day, the order and day), so running the schedule again, or on two replicas, queues it once.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import datetime, time, timedelta, tzinfo

import asyncpg
import structlog

from cordon_notification.adapters.directory import Directory
from cordon_notification.domain.contacts import Contact, Recipient
from cordon_notification.domain.delivery import delivery_id
from cordon_notification.service.queueing import MessageQueue, Tell

log = structlog.get_logger(__name__)


class Schedule:
    def __init__(
        self,
        *,
        pool: Callable[[], asyncpg.Pool],
        schema: str,
        directory: Directory,
        queue: MessageQueue,
        zone: tzinfo,
        window: timedelta,
        report_at: time,
        reminder_at: time,
        language: str,
        interval_s: float,
        clock: Callable[[], datetime],
    ) -> None:
        self.pool, self.schema, self.directory, self.queue = pool, schema, directory, queue
        self.zone, self.window, self.report_at, self.reminder_at = (
            zone,
            window,
            report_at,
            reminder_at,
        )
        self.language, self.interval_s, self.clock = language, interval_s, clock

    async def run(self) -> None:
        while True:
            try:
                await self.tick()
            except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError) as error:
                log.warning("schedule_round_failed", error=repr(error))
            await asyncio.sleep(self.interval_s)

    async def tick(self) -> None:
        await self.flush_digests()
        local = self.clock().astimezone(self.zone)
        if local.time() >= self.report_at:
            await self.daily_reports(local)
        if local.time() >= self.reminder_at:
            await self.check_in_reminders(local)

    async def flush_digests(self) -> int:
        """Fold each recipient's held messages into one digest once the oldest has waited
        a whole rate-limit window. Returns the digests queued."""
        async with self.pool().acquire() as conn:
            groups = await self.queue.deliveries.held_groups(conn, self.clock() - self.window)
        done = 0
        for recipient_id, channel in groups:
            async with self.pool().acquire() as conn, conn.transaction():
                done += await self._digest(conn, recipient_id, channel)
        return done

    async def _digest(self, conn: asyncpg.Connection, recipient_id: str, channel: str) -> int:
        held = await self.queue.deliveries.take_held(conn, recipient_id, channel)
        if not held:
            return 0
        first = held[0]
        contacts = await self.directory.contacts(conn, [recipient_id])
        found = contacts.get(recipient_id) or Contact(recipient_id, first["language"])
        # Only the channel the messages were held on.
        only = Contact(
            recipient_id,
            found.language,
            email=found.email if channel == "email" else None,
            webhook_url=found.webhook_url if channel == "webhook" else None,
            inbox=False,
            quiet_hours=found.quiet_hours,
        )
        source = f"digest:{first['delivery_id']}"
        tell = Tell(
            source_id=source,
            source_event_type=None,
            recipient=Recipient(recipient_id, first["recipient_kind"], only),
            template="digest",
            urgent=False,
            community_id=first["community_id"],
            facts={"items": [{"subject": h["subject"]} for h in held]},
        )
        await self.queue.queue(conn, [tell], limited=False)
        await self.queue.deliveries.fold(
            conn, [h["delivery_id"] for h in held], delivery_id(source, recipient_id, channel)
        )
        return 1

    async def daily_reports(self, local: datetime) -> None:
        day = local.date()
        start = datetime.combine(day, time(), self.zone)
        async with self.pool().acquire() as conn, conn.transaction():
            offices = await self.directory.offices(conn)
            tells = []
            for office in offices:
                area = office.recipient_id.partition("-")[2]
                rows = await conn.fetch(
                    f"""SELECT template, count(*) AS n FROM {self.schema}.alerts a
                        WHERE occurred_at >= $1 AND occurred_at < $2
                          AND (a.community_id = $3 OR a.community_id IN (
                              SELECT community_id FROM {self.schema}.communities
                              WHERE sub_district_id = $3 AND $4))
                        GROUP BY template ORDER BY template""",
                    start,
                    start + timedelta(days=1),
                    area,
                    office.recipient_id.startswith("subdistrict-"),
                )
                tells.append(
                    Tell(
                        source_id=f"daily-report:{day}",
                        source_event_type=None,
                        recipient=Recipient(office.recipient_id, "office", office),
                        template="daily_report",
                        urgent=False,
                        community_id=None if office.recipient_id.startswith("sub") else area,
                        facts={
                            "day": str(day),
                            "area_id": area,
                            "counts": [(r["template"], r["n"]) for r in rows],
                        },
                    )
                )
            await self.queue.queue(conn, tells, limited=False)

    async def check_in_reminders(self, local: datetime) -> None:
        day = local.date()
        async with self.pool().acquire() as conn, conn.transaction():
            started = await conn.fetchval(
                f"""INSERT INTO {self.schema}.schedule_runs (kind, day) VALUES ('reminder', $1)
                    ON CONFLICT DO NOTHING RETURNING day""",
                day,
            )
            if started is None:
                return
            orders = await conn.fetch(
                f"""SELECT order_id, person_id, community_id FROM {self.schema}.isolation_orders
                    WHERE active"""
            )
            await self.queue.queue(
                conn,
                [
                    Tell(
                        source_id=f"check-in-reminder:{day}:{o['order_id']}",
                        source_event_type=None,
                        recipient=Recipient(
                            o["person_id"], "resident", Contact(o["person_id"], self.language)
                        ),
                        template="check_in_reminder",
                        urgent=False,
                        community_id=o["community_id"],
                        facts={"day": str(day)},
                    )
                    for o in orders
                ],
                limited=False,
            )

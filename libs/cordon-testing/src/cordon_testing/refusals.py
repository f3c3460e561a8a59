"""Proof that a refused request left nothing behind: a service's event store and its
events topic, counted before and after."""

from __future__ import annotations

from dataclasses import dataclass

import asyncpg

from cordon_core.settings import ServiceSettings
from cordon_testing.kafka import read_topic
from cordon_testing.waiting import wait_until


@dataclass(frozen=True)
class Recorded:
    events: int
    """Rows in the service's event store."""
    published: int
    """Records on the service's events topic."""


@dataclass(frozen=True)
class ServiceRecord:
    settings: ServiceSettings
    service: str

    async def count(self) -> Recorded:
        """As of now: the store is read at once (a request's events are committed before
        its answer); the topic once the outbox relay has published every stored event."""
        conn = await asyncpg.connect(self.settings.database_url)
        try:
            events = await conn.fetchval(f"SELECT count(*) FROM {self.service}.events")
            await wait_until(
                lambda: conn.fetchval(
                    f"""SELECT last IS NULL OR coalesce(relayed, -1) >= last FROM
                        (SELECT max(global_position) AS last FROM {self.service}.events) e,
                        (SELECT min(global_position) AS relayed
                           FROM {self.service}.relay_positions) r"""
                ),
                until=bool,
                what=f"the {self.service} relay to publish every stored event",
            )
        finally:
            await conn.close()
        topic = f"{self.settings.topic_prefix}.{self.service}.events"
        records = await read_topic(self.settings.kafka_bootstrap, topic, idle=1.0)
        return Recorded(int(events), len(records))

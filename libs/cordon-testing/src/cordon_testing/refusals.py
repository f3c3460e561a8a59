"""Proof that a refused request left nothing behind: a service's event store and its
events topic, counted before and after."""

from __future__ import annotations

from dataclasses import dataclass

import asyncpg

from cordon_core.settings import ServiceSettings
from cordon_testing.kafka import read_topic


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
        its answer); the topic once the relay has had time to publish (nothing new for
        ``idle`` seconds)."""
        conn = await asyncpg.connect(self.settings.database_url)
        try:
            events = await conn.fetchval(f"SELECT count(*) FROM {self.service}.events")
        finally:
            await conn.close()
        topic = f"{self.settings.topic_prefix}.{self.service}.events"
        records = await read_topic(self.settings.kafka_bootstrap, topic, idle=1.5)
        return Recorded(int(events), len(records))

"""Runs one outbox relay as its own process, so tests can kill -9 it mid-batch.

Reads CORDON_* settings plus CORDON_RELAY_SCHEMA and CORDON_RELAY_TOPIC.
"""

from __future__ import annotations

import asyncio
import os

import asyncpg

from cordon_core.kafka import make_producer
from cordon_core.relay import OutboxRelay
from cordon_core.settings import ServiceSettings


async def main() -> None:
    settings = ServiceSettings()
    topic = os.environ["CORDON_RELAY_TOPIC"]
    pool = await asyncpg.create_pool(settings.database_url, min_size=1, max_size=2)
    producer = make_producer(settings)
    await producer.start()
    relay = OutboxRelay(
        pool=pool,
        schema=os.environ["CORDON_RELAY_SCHEMA"],
        producer=producer,
        route=lambda _type: topic,
        source="/cordon/contract",
        batch_size=int(os.environ.get("CORDON_RELAY_BATCH_SIZE", "50")),
        poll_interval=0.01,
    )
    await relay.run()


if __name__ == "__main__":
    asyncio.run(main())

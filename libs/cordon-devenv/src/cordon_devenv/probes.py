"""Readiness probes: a Kafka metadata round trip (aiokafka) and a PostgreSQL query (asyncpg)."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable

import asyncpg  # type: ignore[import-untyped,unused-ignore]
from aiokafka import AIOKafkaClient  # type: ignore[import-untyped,unused-ignore]

log = logging.getLogger(__name__)


async def kafka_metadata_ok(bootstrap: str, wait: float = 5.0) -> bool:
    """True when the broker answers a metadata request listing at least one broker."""
    host, _, port = bootstrap.split(",")[0].rpartition(":")
    try:  # a bare TCP check first keeps aiokafka from logging connection errors while we poll
        _, writer = await asyncio.wait_for(asyncio.open_connection(host, int(port)), wait)
        writer.close()
    except (OSError, TimeoutError):
        return False
    client = AIOKafkaClient(bootstrap_servers=bootstrap, request_timeout_ms=int(wait * 1000))
    try:
        await asyncio.wait_for(client.bootstrap(), wait)
        return bool(client.cluster.brokers())
    except Exception as exc:
        log.debug("kafka probe failed bootstrap=%s error=%r", bootstrap, exc)
        return False
    finally:
        await client.close()


async def postgres_query_ok(url: str, wait: float = 5.0) -> bool:
    """True when asyncpg can connect to ``url`` and run ``SELECT 1``."""
    try:
        conn = await asyncpg.connect(url, timeout=wait)
    except Exception as exc:
        log.debug("postgres probe failed error=%r", exc)
        return False
    try:
        return bool(await conn.fetchval("SELECT 1") == 1)
    finally:
        await conn.close()


async def poll(
    probe: Callable[[], Awaitable[bool]],
    *,
    budget: float,
    alive: Callable[[], bool],
    interval: float = 0.5,
) -> bool:
    """Await ``probe()`` until it returns True, ``budget`` seconds pass or ``alive()`` is False."""
    deadline = time.monotonic() + budget
    while True:
        if await probe():
            return True
        if not alive() or time.monotonic() >= deadline:
            return False
        await asyncio.sleep(interval)

"""Outbox relay contract: every committed event reaches Kafka, in stream order, even
when transactions commit out of order and when the relay is killed mid-batch."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import random
import signal
import subprocess
import sys
from collections import defaultdict
from collections.abc import AsyncIterator
from pathlib import Path

import asyncpg
import pytest

from cordon_core.envelope import PendingEvent
from cordon_core.kafka import ensure_topics, make_producer
from cordon_core.migrations import apply_migrations, core_migrations
from cordon_core.relay import OutboxRelay
from cordon_core.settings import ServiceSettings
from cordon_core.store import PostgresEventStore
from cordon_testing.kafka import header, read_topic
from cordon_testing.plugin import settings_env
from cordon_testing.sample import CounterOpened, bumps, meta, registry
from cordon_testing.waiting import wait_until

SCHEMA = "contract"


async def write_with_open_transactions(
    store: PostgresEventStore, pool: asyncpg.Pool, *, writers: int, appends: int
) -> set[str]:
    """``writers`` concurrent writers, each appending ``appends`` times to its own
    streams and holding every transaction open for a random few milliseconds, so
    commits land out of position order. Returns the ids of the events written."""
    written: set[str] = set()

    async def writer(w: int) -> None:
        rng = random.Random(w)
        versions: dict[str, int] = defaultdict(int)
        for i in range(appends):
            stream = f"w{w}-s{i % 3}"
            events = bumps(rng.randint(1, 3))
            async with pool.acquire() as conn, conn.transaction():
                await store.append(
                    stream, events, expected_version=versions[stream], metadata=meta(), conn=conn
                )
                await asyncio.sleep(rng.uniform(0, 0.015))
            versions[stream] += len(events)
            written.update(str(e.event_id) for e in events)

    await asyncio.gather(*(writer(w) for w in range(writers)))
    return written


class RelayContract:
    @pytest.fixture
    async def pool(self, settings: ServiceSettings) -> AsyncIterator[asyncpg.Pool]:
        pool = await asyncpg.create_pool(settings.database_url, min_size=2, max_size=16)
        async with pool.acquire() as conn:
            await apply_migrations(conn, SCHEMA, core_migrations())
        yield pool
        await pool.close()

    @pytest.fixture
    def store(self, pool: asyncpg.Pool) -> PostgresEventStore:
        return PostgresEventStore(pool, SCHEMA, registry, source="/cordon/contract")

    @pytest.fixture
    async def topic(self, settings: ServiceSettings) -> str:
        name = f"{settings.topic_prefix}.contract.events"
        await ensure_topics(settings, [name])
        return name

    @contextlib.asynccontextmanager
    async def running_relay(
        self, settings: ServiceSettings, pool: asyncpg.Pool, topic: str, batch_size: int = 100
    ) -> AsyncIterator[OutboxRelay]:
        producer = make_producer(settings)
        await producer.start()
        relay = OutboxRelay(
            pool=pool,
            schema=SCHEMA,
            producer=producer,
            route=lambda _t: topic,
            source="/cordon/contract",
            batch_size=batch_size,
            poll_interval=0.01,
        )
        task = asyncio.create_task(relay.run())
        try:
            yield relay
        finally:
            relay.stop()
            await asyncio.wait_for(task, 10)
            await producer.stop()

    async def test_published_events_carry_cloudevents_headers_and_json_payloads(
        self, settings: ServiceSettings, pool: asyncpg.Pool, store: PostgresEventStore, topic: str
    ) -> None:
        opened = PendingEvent(CounterOpened(label="north gate"))
        await store.append(
            "counter-1", [opened], expected_version=0, metadata=meta(), partition_key="checkpoint-7"
        )

        async with self.running_relay(settings, pool, topic):
            [record] = await read_topic(settings.kafka_bootstrap, topic, expect=1)

        headers = {k: v.decode() for k, v in record.headers}
        assert record.key == b"checkpoint-7"
        assert json.loads(record.value) == {"label": "north gate"}
        assert headers["ce_id"] == str(opened.event_id)
        assert headers["ce_type"] == "cordon.CounterOpened"
        assert headers["ce_specversion"] == "1.0"
        assert headers["ce_source"] == "/cordon/contract"
        assert headers["content-type"] == "application/json"
        assert headers["ce_subject"] == "counter-1"
        assert "ce_time" in headers and headers["ce_community"] == "c1"

    async def test_every_event_reaches_kafka_in_stream_order_under_concurrent_writers(
        self, settings: ServiceSettings, pool: asyncpg.Pool, store: PostgresEventStore, topic: str
    ) -> None:
        async with self.running_relay(settings, pool, topic, batch_size=37):
            written = await write_with_open_transactions(store, pool, writers=8, appends=40)
            records = await read_topic(
                settings.kafka_bootstrap, topic, expect=len(written), timeout=60
            )

        published = [{k: v.decode() for k, v in r.headers} for r in records]
        assert {h["ce_id"] for h in published} == written
        assert len(published) == len(written), "no event published twice in a clean run"
        versions: dict[str, list[int]] = defaultdict(list)
        for h in published:
            versions[h["ce_subject"]].append(int(h["ce_streamversion"]))
        for stream, seen in versions.items():
            assert seen == sorted(seen), f"{stream} published out of order: {seen}"

    async def test_relay_killed_at_random_moments_loses_nothing_after_restart(
        self,
        settings: ServiceSettings,
        pool: asyncpg.Pool,
        store: PostgresEventStore,
        topic: str,
        tmp_path: Path,
    ) -> None:
        env = {
            **os.environ,
            **settings_env(settings),
            "CORDON_RELAY_SCHEMA": SCHEMA,
            "CORDON_RELAY_TOPIC": topic,
            "CORDON_RELAY_BATCH_SIZE": "5",
        }
        log = (tmp_path / "relay.log").open("ab")

        def start() -> subprocess.Popen[bytes]:
            return subprocess.Popen(
                [sys.executable, "-m", "cordon_testing.relay_process"],
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
            )

        async def published_so_far() -> int:
            return int(
                await pool.fetchval(
                    f"SELECT coalesce(max(published), 0) FROM {SCHEMA}.relay_positions"
                )
                or 0
            )

        writing = asyncio.create_task(
            write_with_open_transactions(store, pool, writers=6, appends=300)
        )
        rng = random.Random(7)
        killed_mid_stream = 0
        while not writing.done() or killed_mid_stream < 3:
            before = await published_so_far()

            def moved_on(published: int, before: int = before) -> bool:
                return published > before

            relay = start()
            await wait_until(
                published_so_far,
                until=moved_on,
                timeout=30,
                what="the relay to publish",
            )
            await asyncio.sleep(rng.uniform(0.05, 0.6))
            relay.send_signal(signal.SIGKILL)
            relay.wait()
            stored = await pool.fetchval(f"SELECT count(*) FROM {SCHEMA}.events")
            killed_mid_stream += int(await published_so_far() < stored)
        written = await writing
        relay = start()
        try:

            async def published() -> set[str]:
                records = await read_topic(settings.kafka_bootstrap, topic, timeout=20)
                return {header(r, "ce_id") or "" for r in records}

            ids = await wait_until(
                published,
                until=lambda ids: ids >= written,
                timeout=90,
                interval=0.5,
                what="every written event on the topic",
            )
            assert killed_mid_stream >= 3
            assert ids >= written
        finally:
            relay.terminate()
            relay.wait()

    async def test_a_second_relay_on_the_same_schema_stands_by(
        self, settings: ServiceSettings, pool: asyncpg.Pool, store: PostgresEventStore, topic: str
    ) -> None:
        async with (
            self.running_relay(settings, pool, topic) as first,
            self.running_relay(settings, pool, topic) as second,
        ):
            await store.append("s", bumps(20), expected_version=0, metadata=meta())
            records = await read_topic(settings.kafka_bootstrap, topic, expect=20)
            await asyncio.sleep(0.3)

        assert len(records) == 20
        assert sorted([first.published_total, second.published_total]) == [0, 20]

    async def test_a_private_event_type_stays_in_the_store_and_is_never_published(
        self, settings: ServiceSettings, pool: asyncpg.Pool, store: PostgresEventStore, topic: str
    ) -> None:
        producer = make_producer(settings)
        await producer.start()
        relay = OutboxRelay(
            pool=pool,
            schema=SCHEMA,
            producer=producer,
            route=lambda t: None if t == "CounterOpened" else topic,
            source="/cordon/contract",
        )
        await store.append(
            "s",
            [PendingEvent(CounterOpened(label="private")), *bumps(2)],
            expected_version=0,
            metadata=meta(),
        )
        try:
            async with pool.acquire() as conn:
                published, _ = await relay.publish_batch(conn, await relay.load_position(conn))
        finally:
            await producer.stop()

        records = await read_topic(settings.kafka_bootstrap, topic, expect=2)
        assert published == 3
        assert [header(r, "ce_type") for r in records] == ["cordon.CounterBumped"] * 2
        assert await pool.fetchval(f"SELECT count(*) FROM {SCHEMA}.events") == 3

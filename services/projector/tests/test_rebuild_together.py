"""Rebuilding several read models in one pass over their topic: each gets every event of
its types once, and a record nobody can read is dead-lettered by each of them, as their
live consumers would."""

from __future__ import annotations

import asyncpg
from test_rebuild_cli import publish_passages

from cordon_core.kafka import Topics
from cordon_core.migrations import apply_migrations
from cordon_core.projection import consumer_name, rebuild_together
from cordon_core.settings import ServiceSettings
from cordon_projector.bootstrap import build_projector
from cordon_projector.settings import ProjectorSettings
from cordon_testing.kafka import header, read_topic


async def test_one_pass_feeds_both_gate_read_models_and_dead_letters_garbage_for_each(
    settings: ServiceSettings,
) -> None:
    await publish_passages(
        settings, [("maple", "in"), ("maple", "in"), ("maple", "out")], then=b"not a cloudevent"
    )
    projector = build_projector(ProjectorSettings(**settings.model_dump()))
    gate_models = [p for p in projector.projections if p.name in ("gate-traffic", "live-gates")]
    pool = await asyncpg.create_pool(settings.database_url, min_size=1, max_size=3)
    try:
        async with pool.acquire() as conn:
            await apply_migrations(conn, "projector", projector.runtime.migrations)
        seen: list[tuple[int, int]] = []

        read = await rebuild_together(
            [(p, projector.topics_of(p)) for p in gate_models],
            pool=pool,
            schema="projector",
            registry=projector.runtime.registry,
            settings=projector.settings,
            progress=lambda done, total: seen.append((done, total)),
        )

        daily = await pool.fetch(
            "SELECT community_id, entries, exits FROM projector.gate_traffic_daily"
        )
        minutes = await pool.fetchval("SELECT sum(entries + exits) FROM projector.gate_minute")
        inbox = await pool.fetch(
            "SELECT consumer, count(*) AS n FROM projector.inbox GROUP BY consumer ORDER BY 1"
        )
    finally:
        await pool.close()
    assert read == 4
    assert (seen[0], seen[-1]) == ((0, 4), (4, 4))
    assert [tuple(r) for r in daily] == [("maple", 2, 1)]
    assert minutes == 3
    assert [tuple(r) for r in inbox] == [
        ("projection-gate-traffic", 3),
        ("projection-live-gates", 3),
    ]
    for projection in gate_models:
        dead = await read_topic(
            settings.kafka_bootstrap,
            Topics(settings.topic_prefix).dead_letter(consumer_name(projection)),
            expect=1,
        )
        assert [(r.value, header(r, "cordon_dlq_error_type")) for r in dead] == [
            (b"not a cloudevent", "MalformedRecord")
        ]


async def test_a_second_rebuild_does_not_dead_letter_again_what_the_first_one_did(
    settings: ServiceSettings,
) -> None:
    await publish_passages(settings, [("maple", "in")], then=b"not a cloudevent")
    projector = build_projector(ProjectorSettings(**settings.model_dump()))
    traffic = projector.gate_traffic
    pool = await asyncpg.create_pool(settings.database_url, min_size=1, max_size=3)
    try:
        async with pool.acquire() as conn:
            await apply_migrations(conn, "projector", projector.runtime.migrations)
        for _ in range(2):
            await rebuild_together(
                [(traffic, projector.topics_of(traffic))],
                pool=pool,
                schema="projector",
                registry=projector.runtime.registry,
                settings=projector.settings,
            )
        remembered = await pool.fetch(
            "SELECT consumer, error_type FROM projector.dead_letters ORDER BY 1"
        )
        entries = await pool.fetchval("SELECT sum(entries) FROM projector.gate_traffic_daily")
    finally:
        await pool.close()
    dead = await read_topic(
        settings.kafka_bootstrap,
        Topics(settings.topic_prefix).dead_letter(consumer_name(traffic)),
        idle=2.0,
    )
    assert [r.value for r in dead] == [b"not a cloudevent"]
    assert [tuple(r) for r in remembered] == [("projection-gate-traffic", "MalformedRecord")]
    assert entries == 1

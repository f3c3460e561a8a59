"""`cordon-projector rebuild`: read models rebuilt from the gate's topic, from the CLI."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import UTC, datetime

import asyncpg
from aiokafka import AIOKafkaProducer

from cordon_contracts.gate import PersonEntered, PersonExited, registry
from cordon_core.runtime import ServiceRuntime
from cordon_core.settings import ServiceSettings
from cordon_testing.kafka import read_topic
from cordon_testing.plugin import settings_env
from cordon_testing.upstream import Upstream


async def publish_passages(
    settings: ServiceSettings, passages: list[tuple[str, str]], *, then: bytes | None = None
) -> None:
    """Publish scan ``n`` of ``(community, direction)`` for each of ``passages`` as the gate
    would, and wait until all are on its topic; ``then``, a raw record after them."""
    async with ServiceRuntime(
        service="gate", settings=settings, registry=registry
    ).running() as gate:
        upstream = Upstream(gate)
        for n, (community, direction) in enumerate(passages):
            await upstream.publish(f"scan:{n}", passage(n, community, direction))
        await read_topic(settings.kafka_bootstrap, gate.events_topic, expect=len(passages))
        if then is not None:
            producer = AIOKafkaProducer(bootstrap_servers=settings.kafka_bootstrap)
            await producer.start()
            try:
                await producer.send_and_wait(gate.events_topic, then, key=b"x")
            finally:
                await producer.stop()


def passage(n: int, community: str, direction: str) -> PersonEntered | PersonExited:
    kind = PersonEntered if direction == "in" else PersonExited
    return kind(
        scan_id=f"s{n}",
        checkpoint_id=f"{community}-gate",
        community_id=community,
        compound_id=f"{community}-1",
        direction=direction,
        scanned_at=datetime(2022, 4, 1, 2, n, tzinfo=UTC),
        subject_kind="resident",
        person_id=f"p{n}",
        temperature_c=36.5,
        health_code="green",
        itinerary_risk=False,
        policy_version=0,
        status_as_of=None,
    )


def run_cli(settings: ServiceSettings, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "cordon_projector.cli", *args],
        env={**os.environ, **settings_env(settings)},
        capture_output=True,
        text=True,
        timeout=120,
    )


async def test_rebuild_replays_the_gate_topic_into_the_daily_traffic(
    settings: ServiceSettings,
) -> None:
    await publish_passages(
        settings, [("maple", "in"), ("maple", "in"), ("maple", "out"), ("willow", "in")]
    )

    result = run_cli(settings, "rebuild", "gate-traffic")

    assert result.returncode == 0, result.stderr
    assert "gate-traffic" in result.stdout and "4/4" in result.stdout
    conn = await asyncpg.connect(settings.database_url)
    try:
        rows = await conn.fetch(
            "SELECT community_id, day::text, entries, exits FROM projector.gate_traffic_daily"
            " ORDER BY community_id"
        )
    finally:
        await conn.close()
    assert [tuple(r) for r in rows] == [
        ("maple", "2022-04-01", 2, 1),
        ("willow", "2022-04-01", 1, 0),
    ]


async def test_rebuild_of_an_unknown_projection_names_the_known_ones(
    settings: ServiceSettings,
) -> None:
    result = run_cli(settings, "rebuild", "four-colour-map")

    assert result.returncode != 0
    assert "no projection named 'four-colour-map'" in result.stderr
    assert "gate-traffic" in result.stderr


async def test_rebuild_of_every_read_model_reads_the_topics_once(
    settings: ServiceSettings,
) -> None:
    await publish_passages(settings, [("maple", "in"), ("maple", "out"), ("maple", "in")])

    result = run_cli(settings, "rebuild")

    assert result.returncode == 0, result.stderr
    # One bar for all seven: the three gate records are read once, not once per projection.
    assert "7 read models" in result.stdout and "3/3" in result.stdout
    conn = await asyncpg.connect(settings.database_url)
    try:
        daily = await conn.fetchrow(
            "SELECT sum(entries) AS entries, sum(exits) AS exits FROM projector.gate_traffic_daily"
        )
        minutes = await conn.fetchval("SELECT sum(entries + exits) FROM projector.gate_minute")
    finally:
        await conn.close()
    assert (daily["entries"], daily["exits"], minutes) == (2, 1, 3)

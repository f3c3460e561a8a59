"""`cordon-projector rebuild`: read models rebuilt from the gate's topic, from the CLI."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import UTC, datetime

import asyncpg

from cordon_contracts.gate import registry as gate_registry
from cordon_core.runtime import ServiceRuntime
from cordon_core.settings import ServiceSettings
from cordon_gate.domain.scans import Scan
from cordon_gate.service.scans import record_scan
from cordon_testing.kafka import read_topic
from cordon_testing.plugin import settings_env


def a_scan(n: int, community: str, direction: str = "in") -> Scan:
    return Scan(
        scan_id=f"s{n}",
        checkpoint_id=f"{community}-gate",
        community_id=community,
        person_id=f"p{n}",
        direction=direction,  # type: ignore[arg-type]
        scanned_at=datetime(2022, 4, 1, 2, n, tzinfo=UTC),
        temperature_c=36.5,
        health_code="green",
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
    gate = ServiceRuntime(service="gate", settings=settings, registry=gate_registry)
    async with gate.running():
        for n, (community, direction) in enumerate(
            [("maple", "in"), ("maple", "in"), ("maple", "out"), ("willow", "in")]
        ):
            await record_scan(gate.store, a_scan(n, community, direction), district="d", actor="t")
        await read_topic(settings.kafka_bootstrap, gate.events_topic, expect=4)

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

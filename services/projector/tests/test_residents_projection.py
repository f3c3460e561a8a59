"""The residents projection applied to one batch holding a person's whole stay."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import asyncpg

from cordon_contracts.registry import ResidentLeft, ResidentRegistered
from cordon_core.envelope import DomainEvent, Envelope
from cordon_core.migrations import apply_migrations, core_migrations, migrations_from_package
from cordon_core.settings import ServiceSettings
from cordon_projector.projections.residents import ResidentsProjection

AT = datetime(2022, 4, 1, 8, tzinfo=UTC)


def envelope(version: int, payload: DomainEvent) -> Envelope:
    return Envelope(
        event_id=uuid.uuid4(), event_type=payload.event_type, schema_version=1,
        stream_id="household:h1", stream_version=version, partition_key="h1", occurred_at=AT,
        recorded_at=AT, correlation_id=uuid.uuid4(), causation_id=None, actor="test",
        district="d", community="c1", payload=payload,
    )  # fmt: skip


async def test_a_resident_registered_and_gone_in_one_batch_is_kept_as_departed(
    settings: ServiceSettings,
) -> None:
    registered = ResidentRegistered(
        person_id="p1", household_id="h1", building_id="b1", compound_id="k1", grid_id="g1",
        community_id="c1", sub_district_id="s1", residence_type="tenant", registered_at=AT,
    )  # fmt: skip
    left = ResidentLeft(
        person_id="p1", household_id="h1", community_id="c1", reason="moved away", left_at=AT
    )
    conn = await asyncpg.connect(settings.database_url)
    try:
        migrations = [*core_migrations(), *migrations_from_package("projector", "cordon_projector")]
        await apply_migrations(conn, "projector", migrations)
        async with conn.transaction():
            await ResidentsProjection("projector").apply_batch(
                conn, [envelope(1, registered), envelope(2, left)]
            )
        row = await conn.fetchrow(
            "SELECT present, community_id FROM projector.resident WHERE person_id = 'p1'"
        )
    finally:
        await conn.close()

    assert row is not None, "the person's row exists, so their history and tests keep a home"
    assert (row["present"], row["community_id"]) == (False, "c1")

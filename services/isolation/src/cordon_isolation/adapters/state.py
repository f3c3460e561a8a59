"""Reading and writing the isolation service's working tables (sql/0001_isolation_state.sql)."""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import asdict
from datetime import datetime
from typing import Any, TypeAlias

import asyncpg

from cordon_isolation.domain.orders import ActiveOrder
from cordon_isolation.domain.policy import IsolationPolicy
from cordon_isolation.domain.release import RecordedResult
from cordon_isolation.domain.results import SampleOnRecord

Executor: TypeAlias = asyncpg.Connection | asyncpg.Pool


class IsolationState:
    def __init__(self, schema: str) -> None:
        self.schema = schema

    # --- orders and the ledger ---------------------------------------------------------

    async def save_orders(
        self,
        conn: asyncpg.Connection,
        orders: Sequence[tuple[str, ActiveOrder]],
        status: str,
        at: datetime,
    ) -> None:
        """Keep each (person, order) row of the ledger as the order now stands."""
        await conn.executemany(
            f"""INSERT INTO {self.schema}.orders AS o (order_id, person_id, community_id, level,
                    status, starts_at, planned_end_at, updated_at)
                VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
                ON CONFLICT (order_id) DO UPDATE SET level = EXCLUDED.level,
                    status = EXCLUDED.status, planned_end_at = EXCLUDED.planned_end_at,
                    updated_at = EXCLUDED.updated_at""",
            [
                (o.order_id, person_id, o.community_id, o.level, status, o.starts_at,
                 o.planned_end_at, at)
                for person_id, o in orders
            ],
        )  # fmt: skip

    async def ledger(self, conn: Executor, community_id: str | None) -> list[dict[str, Any]]:
        rows = await conn.fetch(
            f"""SELECT community_id, level, count(*) AS people,
                       array_agg(person_id ORDER BY person_id) AS person_ids
                FROM {self.schema}.orders
                WHERE status = 'active' AND ($1::text IS NULL OR community_id = $1)
                GROUP BY community_id, level ORDER BY community_id, level""",
            community_id,
        )
        return [dict(r) for r in rows]

    # --- samples and results ---------------------------------------------------------------

    async def samples(self, conn: Executor, sample_ids: Iterable[str]) -> dict[str, SampleOnRecord]:
        rows = await conn.fetch(
            f"""SELECT sample_id, person_id, collected_at, result, version
                FROM {self.schema}.samples WHERE sample_id = ANY($1::text[])""",
            list(set(sample_ids)),
        )
        return {r["sample_id"]: SampleOnRecord(**dict(r)) for r in rows}

    async def save_samples(
        self, conn: asyncpg.Connection, samples: Sequence[SampleOnRecord], lab: str | None
    ) -> None:
        if not samples:
            return
        await conn.execute(
            f"""INSERT INTO {self.schema}.samples AS s (sample_id, person_id, collected_at,
                    result, lab, version)
                SELECT sample_id, person_id, collected_at, result, $5::text, v
                FROM unnest($1::text[], $2::text[], $3::timestamptz[], $4::text[], $6::int[])
                    AS x(sample_id, person_id, collected_at, result, v)
                ON CONFLICT (sample_id) DO UPDATE SET result = EXCLUDED.result,
                    lab = coalesce(EXCLUDED.lab, s.lab), version = EXCLUDED.version,
                    collected_at = coalesce(s.collected_at, EXCLUDED.collected_at)""",
            [s.sample_id for s in samples],
            [s.person_id for s in samples],
            [s.collected_at for s in samples],
            [s.result for s in samples],
            lab,
            [s.version for s in samples],
        )

    async def save_collected(
        self,
        conn: asyncpg.Connection,
        sample: SampleOnRecord,
        campaign_id: str | None,
        sampling_point_id: str | None,
    ) -> None:
        await conn.execute(
            f"""INSERT INTO {self.schema}.samples (sample_id, person_id, collected_at,
                    campaign_id, sampling_point_id, version)
                VALUES ($1, $2, $3, $4, $5, $6)""",
            sample.sample_id,
            sample.person_id,
            sample.collected_at,
            campaign_id,
            sampling_point_id,
            sample.version,
        )

    async def results_of(self, conn: Executor, person_id: str) -> list[RecordedResult]:
        rows = await conn.fetch(
            f"""SELECT sample_id, collected_at, result FROM {self.schema}.samples
                WHERE person_id = $1 AND result IS NOT NULL AND collected_at IS NOT NULL
                ORDER BY collected_at""",
            person_id,
        )
        return [RecordedResult(**dict(r)) for r in rows]

    # --- campaigns and policies --------------------------------------------------------------

    async def campaign(self, conn: Executor, campaign_id: str) -> dict[str, Any] | None:
        row = await conn.fetchrow(
            f"SELECT * FROM {self.schema}.campaigns WHERE campaign_id = $1", campaign_id
        )
        return dict(row) if row else None

    async def campaigns(self, conn: Executor, community_id: str | None) -> list[dict[str, Any]]:
        rows = await conn.fetch(
            f"""SELECT * FROM {self.schema}.campaigns
                WHERE $1::text IS NULL OR community_id = $1 ORDER BY opens_at DESC, campaign_id""",
            community_id,
        )
        return [dict(r) for r in rows]

    async def save_campaign(self, conn: asyncpg.Connection, campaign: dict[str, Any]) -> None:
        await conn.execute(
            f"""INSERT INTO {self.schema}.campaigns (campaign_id, community_id, name,
                    sampling_point_ids, opens_at, closes_at) VALUES ($1, $2, $3, $4, $5, $6)""",
            *campaign.values(),
        )

    async def policy(self, conn: Executor, district: str) -> IsolationPolicy:
        """The district's latest published policy, or the defaults (version 0)."""
        row = await conn.fetchrow(
            f"SELECT policy FROM {self.schema}.policies WHERE district = $1"
            " ORDER BY version DESC LIMIT 1",
            district,
        )
        if row is None:
            return IsolationPolicy(district)
        return IsolationPolicy.from_data(json.loads(row["policy"]))

    async def save_policy(self, conn: asyncpg.Connection, policy: IsolationPolicy) -> None:
        await conn.execute(
            f"INSERT INTO {self.schema}.policies (district, version, policy)"
            " VALUES ($1, $2, $3::jsonb)",
            policy.district,
            policy.version,
            json.dumps(asdict(policy)),
        )

    # --- residents (read model of the registry) ---------------------------------------------

    async def resident(self, conn: Executor, person_id: str) -> dict[str, Any] | None:
        row = await conn.fetchrow(
            f"SELECT household_id, community_id FROM {self.schema}.residents WHERE person_id = $1",
            person_id,
        )
        return dict(row) if row else None

    async def residents_among(self, conn: Executor, person_ids: Sequence[str]) -> set[str]:
        """Which of ``person_ids`` the registry has told this service of (one query)."""
        rows = await conn.fetch(
            f"SELECT person_id FROM {self.schema}.residents WHERE person_id = ANY($1::text[])",
            list(person_ids),
        )
        return {r["person_id"] for r in rows}

    async def household_of(self, conn: Executor, person_id: str) -> list[str]:
        rows = await conn.fetch(
            f"""SELECT m.person_id FROM {self.schema}.residents p
                JOIN {self.schema}.residents m ON m.household_id = p.household_id
                WHERE p.person_id = $1 ORDER BY m.person_id""",
            person_id,
        )
        return [r["person_id"] for r in rows]

    async def close_order(
        self, conn: asyncpg.Connection, order_id: str, status: str, at: datetime
    ) -> None:
        await conn.execute(
            f"UPDATE {self.schema}.orders SET status = $2, updated_at = $3 WHERE order_id = $1",
            order_id,
            status,
            at,
        )

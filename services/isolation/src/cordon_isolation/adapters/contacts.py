"""The queries behind close-contact candidates (sql/0003_passages.sql): shared passages, the
household and building, active orders and the office's decisions."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any, TypeAlias

import asyncpg

from cordon_isolation.domain.contacts import Candidate, shared_candidates

Executor: TypeAlias = asyncpg.Connection | asyncpg.Pool


class ContactRecords:
    def __init__(self, schema: str) -> None:
        self.schema = schema

    async def shared_passages(
        self,
        conn: Executor,
        person_id: str,
        since: datetime,
        until: datetime,
        window: timedelta,
        via: str | None = None,
    ) -> tuple[int, list[Candidate]]:
        """The person's passages in [since, until], and everyone else who passed the same
        checkpoint within ``window`` of one of them: a range scan of the checkpoint index
        per passage. The pairs are grouped per candidate here (``domain.contacts``): asking
        PostgreSQL to aggregate and sort them cost 20 times the join."""
        s = self.schema
        mine = await conn.fetch(
            f"""SELECT checkpoint_id, passed_at FROM {s}.passages
                WHERE person_id = $1 AND passed_at BETWEEN $2 AND $3""",
            person_id,
            since,
            until,
        )
        if not mine:
            return 0, []
        pairs = await conn.fetch(
            # OFFSET 0 keeps the subquery a range scan per passage: flattened, the planner
            # hashed the whole table for the 28 rows of the unnest (60 ms against 2 ms).
            f"""SELECT o.person_id, o.subject_kind, m.checkpoint_id, o.passed_at, m.passed_at
                FROM unnest($2::text[], $3::timestamptz[]) AS m(checkpoint_id, passed_at)
                CROSS JOIN LATERAL (
                    SELECT person_id, subject_kind, passed_at FROM {s}.passages p
                    WHERE p.checkpoint_id = m.checkpoint_id
                      AND p.passed_at BETWEEN m.passed_at - $4::interval
                          AND m.passed_at + $4::interval
                    OFFSET 0) o
                WHERE o.person_id <> $1""",
            person_id,
            [r["checkpoint_id"] for r in mine],
            [r["passed_at"] for r in mine],
            window,
        )
        return len(mine), shared_candidates((tuple(r) for r in pairs), via)

    async def housemates(
        self, conn: Executor, person_id: str, building: bool, via: str | None = None
    ) -> list[Candidate]:
        """The person's household, and with ``building`` the rest of their building (a
        building id is unique within its community)."""
        rows = await conn.fetch(
            f"""SELECT r.person_id, r.household_id = me.household_id AS household
                FROM {self.schema}.residents me JOIN {self.schema}.residents r
                  ON r.household_id = me.household_id
                  OR ($2 AND r.community_id = me.community_id AND r.building_id = me.building_id)
                WHERE me.person_id = $1 AND r.person_id <> $1""",
            person_id,
            building,
        )
        return [
            Candidate(
                candidate_id=r["person_id"],
                evidence=(
                    ("contact_of_contact",) if via else ("household",) if r["household"]
                    else ("building",)
                ),
                subject_kind="resident",
                via=via,
            )
            for r in rows
        ]  # fmt: skip

    async def known(self, conn: Executor, person_id: str) -> bool:
        """Whether the service has heard of the person at all: a resident, a passage, a
        sample or an isolation record."""
        s = self.schema
        return bool(
            await conn.fetchval(
                f"""SELECT EXISTS (SELECT 1 FROM {s}.residents WHERE person_id = $1)
                        OR EXISTS (SELECT 1 FROM {s}.passages WHERE person_id = $1)
                        OR EXISTS (SELECT 1 FROM {s}.samples WHERE person_id = $1)
                        OR EXISTS (SELECT 1 FROM {s}.orders WHERE person_id = $1)""",
                person_id,
            )
        )

    async def community_of(self, conn: Executor, person_id: str) -> str | None:
        s = self.schema
        value: str | None = await conn.fetchval(
            f"""SELECT community_id FROM (
                    SELECT community_id, 0 AS o FROM {s}.residents WHERE person_id = $1
                    UNION ALL (SELECT community_id, 1 FROM {s}.passages WHERE person_id = $1
                               ORDER BY passed_at DESC LIMIT 1)) c ORDER BY o LIMIT 1""",
            person_id,
        )
        return value

    async def active_orders(
        self, conn: Executor, person_ids: Sequence[str]
    ) -> dict[str, dict[str, str]]:
        rows = await conn.fetch(
            f"""SELECT person_id, order_id, level FROM {self.schema}.orders
                WHERE status = 'active' AND person_id = ANY($1::text[])""",
            list(person_ids),
        )
        return {r["person_id"]: {"order_id": r["order_id"], "level": r["level"]} for r in rows}

    async def decisions(self, conn: Executor, person_id: str) -> dict[str, dict[str, Any]]:
        rows = await conn.fetch(
            f"""SELECT candidate_id, decision, order_id FROM {self.schema}.contact_decisions
                WHERE person_id = $1""",
            person_id,
        )
        return {r["candidate_id"]: dict(r) for r in rows}

    async def save_decision(
        self,
        conn: asyncpg.Connection,
        person_id: str,
        candidate_id: str,
        decision: str,
        at: datetime,
        by: str,
        order_id: str | None,
    ) -> None:
        await conn.execute(
            f"""INSERT INTO {self.schema}.contact_decisions AS d (person_id, candidate_id,
                    decision, decided_at, decided_by, order_id) VALUES ($1, $2, $3, $4, $5, $6)
                ON CONFLICT (person_id, candidate_id) DO UPDATE SET decision = EXCLUDED.decision,
                    decided_at = EXCLUDED.decided_at, decided_by = EXCLUDED.decided_by,
                    order_id = EXCLUDED.order_id""",
            person_id,
            candidate_id,
            decision,
            at,
            by,
            order_id,
        )

"""The queries behind close-contact candidates (sql/0003_passages.sql): shared passages, the
household and building, active orders and the office's decisions."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any, TypeAlias

import asyncpg

from cordon_isolation.domain.contacts import EVIDENCE_SHOWN, Candidate, SharedPassage

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
        checkpoint within ``window`` of one of them: one self-join on the checkpoint index."""
        s = self.schema
        rows = await conn.fetch(
            f"""WITH mine AS (
                    SELECT checkpoint_id, passed_at FROM {s}.passages
                    WHERE person_id = $1 AND passed_at BETWEEN $2 AND $3
                ), pairs AS (
                    SELECT o.person_id, o.subject_kind, o.checkpoint_id, o.passed_at AS their_at,
                           m.passed_at AS index_at,
                           extract(epoch FROM o.passed_at - m.passed_at)::float8 AS gap_s
                    FROM mine m JOIN {s}.passages o ON o.checkpoint_id = m.checkpoint_id
                        AND o.passed_at BETWEEN m.passed_at - $4::interval
                            AND m.passed_at + $4::interval
                    WHERE o.person_id <> $1
                )
                SELECT person_id, min(subject_kind) AS subject_kind,
                       count(DISTINCT (checkpoint_id, index_at)) AS shared,
                       min(abs(gap_s)) AS closest,
                       (array_agg(checkpoint_id ORDER BY abs(gap_s)))[1:{EVIDENCE_SHOWN}] AS cps,
                       (array_agg(their_at ORDER BY abs(gap_s)))[1:{EVIDENCE_SHOWN}] AS theirs,
                       (array_agg(index_at ORDER BY abs(gap_s)))[1:{EVIDENCE_SHOWN}] AS indexes,
                       (array_agg(gap_s ORDER BY abs(gap_s)))[1:{EVIDENCE_SHOWN}] AS gaps,
                       (SELECT count(*) FROM mine) AS mine
                FROM pairs GROUP BY person_id""",
            person_id,
            since,
            until,
            window,
        )
        if not rows:
            mine = await conn.fetchval(
                f"SELECT count(*) FROM {s}.passages"
                " WHERE person_id = $1 AND passed_at BETWEEN $2 AND $3",
                person_id,
                since,
                until,
            )
            return int(mine), []
        found = [
            Candidate(
                candidate_id=r["person_id"],
                evidence=("contact_of_contact",) if via else ("passage",),
                subject_kind=r["subject_kind"],
                shared_passages=r["shared"],
                closest_gap_s=r["closest"],
                passages=tuple(
                    SharedPassage(*p)
                    for p in zip(r["cps"], r["theirs"], r["indexes"], r["gaps"], strict=True)
                ),
                via=via,
            )
            for r in rows
        ]
        return int(rows[0]["mine"]), found

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

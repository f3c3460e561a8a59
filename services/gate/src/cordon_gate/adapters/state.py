"""Reading and writing the gate's working state tables (see sql/0001_gate_state.sql)."""

from __future__ import annotations

import hashlib
import json
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass
from datetime import date
from typing import Any

import asyncpg

from cordon_gate.domain.state import Checkpoint, GatePolicy, PassState, PersonStatus


def sha256(secret: str) -> bytes:
    return hashlib.sha256(secret.encode()).digest()


@dataclass(frozen=True)
class ScanContext:
    stored: set[uuid.UUID]
    checkpoints: dict[str, Checkpoint]
    policies: dict[str, GatePolicy]
    """By community, for every checkpoint found (the default policy when none published)."""
    passes: dict[tuple[str, date], PassState]
    people: dict[str, PersonStatus]


class GateState:
    def __init__(self, schema: str) -> None:
        self.schema = schema

    async def checkpoints(
        self, conn: asyncpg.Connection, ids: Iterable[str]
    ) -> dict[str, Checkpoint]:
        rows = await conn.fetch(
            f"""SELECT checkpoint_id, community_id, compound_id, name, is_open,
                       requires_negative_test, negative_test_hours
                FROM {self.schema}.checkpoints WHERE checkpoint_id = ANY($1::text[])""",
            list(set(ids)),
        )
        return {r["checkpoint_id"]: Checkpoint(**dict(r)) for r in rows}

    async def checkpoint_version(self, conn: asyncpg.Connection, checkpoint_id: str) -> int | None:
        version: int | None = await conn.fetchval(
            f"SELECT version FROM {self.schema}.checkpoints WHERE checkpoint_id = $1", checkpoint_id
        )
        return version

    async def context(
        self,
        conn: asyncpg.Connection,
        event_ids: Sequence[uuid.UUID],
        checkpoint_ids: Iterable[str],
        pass_codes: Iterable[str],
        days: Iterable[date],
        person_ids: Iterable[str],
    ) -> ScanContext:
        """Everything a batch of scans is decided from, in one round trip: which of
        ``event_ids`` are stored already, the checkpoints, their communities' policies, the
        passes by (code, local day) with that day's exits, and the people (``person_ids``
        and the passes' holders)."""
        by_hash = {sha256(code): code for code in pass_codes}
        row = await conn.fetchrow(
            f"""SELECT
                array(SELECT event_id FROM {self.schema}.events
                      WHERE event_id = ANY($1::uuid[])) AS stored,
                array(SELECT row(checkpoint_id, community_id, compound_id, name, is_open,
                                 requires_negative_test, negative_test_hours)
                      FROM {self.schema}.checkpoints
                      WHERE checkpoint_id = ANY($2::text[])) AS checkpoints,
                array(SELECT row(community_id, policy::text) FROM {self.schema}.policies
                      WHERE community_id IN (SELECT community_id FROM {self.schema}.checkpoints
                                             WHERE checkpoint_id = ANY($2::text[]))
                     ) AS policies,
                array(SELECT row(p.code_sha256, d.day, p.pass_id, p.kind, p.holder_person_id,
                                 p.community_id, p.valid_from, p.valid_until,
                                 p.daily_exit_quota, p.revoked, p.version,
                                 coalesce(u.exits, 0))
                      FROM {self.schema}.passes p
                      CROSS JOIN unnest($4::date[]) AS d(day)
                      LEFT JOIN {self.schema}.pass_daily_use u
                             ON u.pass_id = p.pass_id AND u.day = d.day
                      WHERE p.code_sha256 = ANY($3::bytea[])) AS passes,
                array(SELECT row(person_id, community_id, isolation_level,
                                 last_negative_test_at, as_of)
                      FROM {self.schema}.person_status
                      -- One array, not an OR: the primary key is searched with it, also
                      -- in the generic plan a prepared statement gets after five runs.
                      WHERE person_id = ANY($5::text[] || ARRAY(
                          SELECT holder_person_id FROM {self.schema}.passes
                          WHERE code_sha256 = ANY($3::bytea[])))) AS people""",
            list(event_ids),
            list(set(checkpoint_ids)),
            list(by_hash),
            list(set(days)) if by_hash else [],
            list(set(person_ids)),
        )
        assert row is not None
        checkpoints = {r[0]: Checkpoint(*r) for r in row["checkpoints"]}
        found = {r[0]: GatePolicy(**json.loads(r[1])) for r in row["policies"]}
        return ScanContext(
            stored=set(row["stored"]),
            checkpoints=checkpoints,
            policies={
                c.community_id: found.get(c.community_id, GatePolicy(c.community_id))
                for c in checkpoints.values()
            },
            passes={(by_hash[r[0]], r[1]): PassState(*r[2:]) for r in row["passes"]},
            people={r[0]: PersonStatus(*r) for r in row["people"]},
        )

    async def people(self, conn: asyncpg.Connection, ids: Iterable[str]) -> dict[str, PersonStatus]:
        rows = await conn.fetch(
            f"""SELECT person_id, community_id, isolation_level, last_negative_test_at, as_of
                FROM {self.schema}.person_status WHERE person_id = ANY($1::text[])""",
            list(set(ids)),
        )
        return {r["person_id"]: PersonStatus(**dict(r)) for r in rows}

    async def device(
        self, conn: asyncpg.Connection | asyncpg.Pool, token: str
    ) -> tuple[str, str] | None:
        """(device id, checkpoint id) of a device token that is not revoked."""
        row = await conn.fetchrow(
            f"SELECT device_id, checkpoint_id FROM {self.schema}.devices"
            " WHERE token_sha256 = $1 AND NOT revoked",
            sha256(token),
        )
        return (row["device_id"], row["checkpoint_id"]) if row else None

    async def record_pass_uses(
        self,
        conn: asyncpg.Connection,
        uses: Sequence[tuple[str, date, str]],
        versions: dict[str, int],
    ) -> None:
        if not uses:
            return
        await conn.execute(
            f"""INSERT INTO {self.schema}.pass_daily_use AS u (pass_id, day, entries, exits)
                SELECT pass_id, day, count(*) FILTER (WHERE dir = 'in'),
                       count(*) FILTER (WHERE dir = 'out')
                FROM unnest($1::text[], $2::date[], $3::text[]) AS x(pass_id, day, dir)
                GROUP BY pass_id, day
                ORDER BY pass_id, day
                ON CONFLICT (pass_id, day) DO UPDATE
                SET entries = u.entries + EXCLUDED.entries, exits = u.exits + EXCLUDED.exits""",
            [u[0] for u in uses],
            [u[1] for u in uses],
            [u[2] for u in uses],
        )
        ordered = sorted(versions)
        await conn.execute(
            f"""UPDATE {self.schema}.passes p SET version = v.version
                FROM unnest($1::text[], $2::int[]) AS v(pass_id, version)
                WHERE p.pass_id = v.pass_id""",
            ordered,
            [versions[p] for p in ordered],
        )

    async def register_visitors(
        self, conn: asyncpg.Connection, visitors: Sequence[dict[str, Any]]
    ) -> None:
        """Upsert the visitors' register rows: one statement, each visitor once (the last
        sighting), in visitor id order, so that concurrent batches naming the same visitors
        lock their rows in the same order and never deadlock."""
        if not visitors:
            return
        latest: dict[str, dict[str, Any]] = {}
        first: dict[str, Any] = {}
        for v in visitors:
            key = v["visitor_id"]
            if key not in latest or v["seen"] >= latest[key]["seen"]:
                latest[key] = v
            first[key] = min(first.get(key, v["seen"]), v["seen"])
        ids = sorted(latest)
        rows = [latest[k] for k in ids]
        await conn.execute(
            f"""INSERT INTO {self.schema}.visitor_register AS v (visitor_id, document_type,
                    document_number, name, phone, first_seen, last_seen)
                SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[],
                                     $5::text[], $6::timestamptz[], $7::timestamptz[])
                     AS r(visitor_id, document_type, document_number, name, phone, first_seen,
                          last_seen)
                ORDER BY visitor_id
                ON CONFLICT (visitor_id) DO UPDATE
                SET name = EXCLUDED.name, phone = EXCLUDED.phone,
                    last_seen = greatest(v.last_seen, EXCLUDED.last_seen)""",
            ids,
            *([r[k] for r in rows] for k in ("document_type", "document_number", "name", "phone")),
            [first[k] for k in ids],
            [r["seen"] for r in rows],
        )

    async def save_checkpoint(
        self, conn: asyncpg.Connection, checkpoint: Checkpoint, version: int
    ) -> None:
        await conn.execute(
            f"""INSERT INTO {self.schema}.checkpoints AS c (checkpoint_id, community_id,
                    compound_id, name, is_open, requires_negative_test, negative_test_hours,
                    version)
                VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
                ON CONFLICT (checkpoint_id) DO UPDATE
                SET is_open = EXCLUDED.is_open, version = EXCLUDED.version""",
            *asdict(checkpoint).values(),
            version,
        )

    async def save_policy(self, conn: asyncpg.Connection, policy: GatePolicy) -> None:
        await conn.execute(
            f"""INSERT INTO {self.schema}.policies (community_id, version, policy)
                VALUES ($1, $2, $3::jsonb)
                ON CONFLICT (community_id) DO UPDATE
                SET version = EXCLUDED.version, policy = EXCLUDED.policy""",
            policy.community_id,
            policy.version,
            json.dumps(asdict(policy)),
        )

    async def save_device(
        self, conn: asyncpg.Connection, device_id: str, checkpoint_id: str, token: str
    ) -> None:
        await conn.execute(
            f"INSERT INTO {self.schema}.devices (device_id, checkpoint_id, token_sha256)"
            " VALUES ($1, $2, $3)",
            device_id,
            checkpoint_id,
            sha256(token),
        )

    async def save_pass(self, conn: asyncpg.Connection, state: PassState, code: str) -> None:
        await conn.execute(
            f"""INSERT INTO {self.schema}.passes (pass_id, code_sha256, kind, holder_person_id,
                    community_id, valid_from, valid_until, daily_exit_quota, revoked, version)
                VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)""",
            state.pass_id,
            sha256(code),
            state.kind,
            state.holder_person_id,
            state.community_id,
            state.valid_from,
            state.valid_until,
            state.daily_exit_quota,
            state.revoked,
            state.version,
        )

    async def pass_version(self, conn: asyncpg.Connection, pass_id: str) -> int | None:
        version: int | None = await conn.fetchval(
            f"SELECT version FROM {self.schema}.passes WHERE pass_id = $1", pass_id
        )
        return version

    async def revoke_pass(self, conn: asyncpg.Connection, pass_id: str, version: int) -> None:
        await conn.execute(
            f"UPDATE {self.schema}.passes SET revoked = true, version = $2 WHERE pass_id = $1",
            pass_id,
            version,
        )

    async def latest_policy_version(self, conn: asyncpg.Connection, community_id: str) -> int:
        version = await conn.fetchval(
            f"SELECT version FROM {self.schema}.policies WHERE community_id = $1", community_id
        )
        return int(version or 0)

"""Reading and writing the gate's working state tables (see sql/0001_gate_state.sql)."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Sequence
from dataclasses import asdict
from datetime import date
from typing import Any

import asyncpg

from cordon_gate.domain.state import Checkpoint, GatePolicy, PassState, PersonStatus


def sha256(secret: str) -> bytes:
    return hashlib.sha256(secret.encode()).digest()


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

    async def policies(
        self, conn: asyncpg.Connection, communities: Iterable[str]
    ) -> dict[str, GatePolicy]:
        wanted = list(set(communities))
        rows = await conn.fetch(
            f"SELECT community_id, policy FROM {self.schema}.policies"
            " WHERE community_id = ANY($1::text[])",
            wanted,
        )
        found = {r["community_id"]: GatePolicy(**json.loads(r["policy"])) for r in rows}
        return {c: found.get(c, GatePolicy(community_id=c)) for c in wanted}

    async def people(self, conn: asyncpg.Connection, ids: Iterable[str]) -> dict[str, PersonStatus]:
        rows = await conn.fetch(
            f"""SELECT person_id, community_id, isolation_level, last_negative_test_at, as_of
                FROM {self.schema}.person_status WHERE person_id = ANY($1::text[])""",
            list(set(ids)),
        )
        return {r["person_id"]: PersonStatus(**dict(r)) for r in rows}

    async def passes(
        self, conn: asyncpg.Connection, codes: Iterable[str], days: Sequence[date]
    ) -> dict[tuple[str, date], PassState]:
        """Passes by (code, local day), with the exits already made on that day."""
        by_hash = {sha256(code): code for code in codes}
        rows = await conn.fetch(
            f"""SELECT p.code_sha256, p.pass_id, p.kind, p.holder_person_id, p.community_id,
                       p.valid_from, p.valid_until, p.daily_exit_quota, p.revoked, p.version,
                       d.day, coalesce(u.exits, 0) AS exits_today
                FROM {self.schema}.passes p
                CROSS JOIN unnest($2::date[]) AS d(day)
                LEFT JOIN {self.schema}.pass_daily_use u ON u.pass_id = p.pass_id AND u.day = d.day
                WHERE p.code_sha256 = ANY($1::bytea[])""",
            list(by_hash),
            list(set(days)),
        )
        found: dict[tuple[str, date], PassState] = {}
        for r in rows:
            fields = {k: v for k, v in r.items() if k not in ("code_sha256", "day")}
            found[(by_hash[r["code_sha256"]], r["day"])] = PassState(**fields)
        return found

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
                ON CONFLICT (pass_id, day) DO UPDATE
                SET entries = u.entries + EXCLUDED.entries, exits = u.exits + EXCLUDED.exits""",
            [u[0] for u in uses],
            [u[1] for u in uses],
            [u[2] for u in uses],
        )
        await conn.execute(
            f"""UPDATE {self.schema}.passes p SET version = v.version
                FROM unnest($1::text[], $2::int[]) AS v(pass_id, version)
                WHERE p.pass_id = v.pass_id""",
            list(versions),
            list(versions.values()),
        )

    async def register_visitors(
        self, conn: asyncpg.Connection, visitors: Sequence[dict[str, Any]]
    ) -> None:
        if not visitors:
            return
        await conn.executemany(
            f"""INSERT INTO {self.schema}.visitor_register AS v (visitor_id, document_type,
                    document_number, name, phone, first_seen, last_seen)
                VALUES ($1, $2, $3, $4, $5, $6, $6)
                ON CONFLICT (visitor_id) DO UPDATE
                SET name = EXCLUDED.name, phone = EXCLUDED.phone,
                    last_seen = greatest(v.last_seen, EXCLUDED.last_seen)""",
            [
                (
                    v["visitor_id"],
                    v["document_type"],
                    v["document_number"],
                    v["name"],
                    v["phone"],
                    v["seen"],
                )
                for v in visitors
            ],
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

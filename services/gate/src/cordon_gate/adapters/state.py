"""Reading and writing the gate's working state tables (see sql/0001_gate_state.sql)."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import asdict
from datetime import date, datetime
from typing import Any

import asyncpg

from cordon_core.store import ConcurrencyError
from cordon_gate.adapters.context import PASS_COLUMNS, load_scan_context, sha256
from cordon_gate.domain.context import ScanContext
from cordon_gate.domain.restrictions import PersonRestrictions
from cordon_gate.domain.state import Checkpoint, GatePolicy, PassState, PersonStatus


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

    async def communities_with_gates(
        self, conn: asyncpg.Connection, community_ids: Iterable[str]
    ) -> set[str]:
        """Those of ``community_ids`` that have at least one registered checkpoint."""
        rows = await conn.fetch(
            f"""SELECT DISTINCT community_id FROM {self.schema}.checkpoints
                WHERE community_id = ANY($1::text[])""",
            list(set(community_ids)),
        )
        return {r["community_id"] for r in rows}

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
        """Everything a batch of scans is decided from, in one round trip (see
        ``load_scan_context``)."""
        return await load_scan_context(
            conn, self.schema, event_ids, checkpoint_ids, pass_codes, days, person_ids
        )

    async def people(self, conn: asyncpg.Connection, ids: Iterable[str]) -> dict[str, PersonStatus]:
        rows = await conn.fetch(
            f"""SELECT person_id, community_id, isolation_level, last_negative_test_at, as_of,
                       residence_type
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

    async def count_exits(
        self, conn: asyncpg.Connection, counts: Sequence[tuple[str, str, date, int, int]]
    ) -> None:
        """Move each (person, community, day) exit count from ``before`` to ``after``, in key
        order (concurrent decisions lock the same rows in the same order, never deadlock).
        If another decision counted an exit meanwhile, nothing is written and
        ``ConcurrencyError`` asks for the batch to be decided again with the new count."""
        if not counts:
            return
        ordered = sorted(counts)
        written = await conn.fetchval(
            f"""WITH x AS (
                    SELECT * FROM unnest($1::text[], $2::text[], $3::date[], $4::int[],
                                         $5::int[])
                        AS x(person_id, community_id, day, before, after)),
                inserted AS (
                    INSERT INTO {self.schema}.person_daily_exits
                        (person_id, community_id, day, exits)
                    SELECT person_id, community_id, day, after FROM x WHERE before = 0
                    ORDER BY person_id, community_id, day
                    ON CONFLICT DO NOTHING RETURNING 1),
                updated AS (
                    UPDATE {self.schema}.person_daily_exits e SET exits = x.after FROM x
                    WHERE x.before > 0 AND e.person_id = x.person_id
                      AND e.community_id = x.community_id AND e.day = x.day
                      AND e.exits = x.before
                    RETURNING 1)
                SELECT (SELECT count(*) FROM inserted) + (SELECT count(*) FROM updated)""",
            *([c[i] for c in ordered] for i in range(5)),
        )
        if written != len(ordered):
            _, community, day, before, _ = ordered[0]
            raise ConcurrencyError(
                f"exits:{community}:{day}", before, None, "an exit was counted meanwhile"
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
                    document_number, name, phone, last_reason, first_seen, last_seen)
                SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[],
                                     $5::text[], $6::text[], $7::timestamptz[],
                                     $8::timestamptz[])
                     AS r(visitor_id, document_type, document_number, name, phone, last_reason,
                          first_seen, last_seen)
                ORDER BY visitor_id
                ON CONFLICT (visitor_id) DO UPDATE
                SET name = EXCLUDED.name, phone = EXCLUDED.phone,
                    last_reason = EXCLUDED.last_reason,
                    last_seen = greatest(v.last_seen, EXCLUDED.last_seen)""",
            ids,
            *(
                [r[k] for r in rows]
                for k in ("document_type", "document_number", "name", "phone", "reason")
            ),
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

    async def save_passes(
        self, conn: asyncpg.Connection, passes: Sequence[tuple[PassState, str]]
    ) -> None:
        """Insert new passes with their codes' hashes (the codes themselves are not kept)."""
        states = [p for p, _ in passes]
        await conn.execute(
            f"""INSERT INTO {self.schema}.passes (pass_id, code_sha256, kind, holder_person_id,
                    community_id, valid_from, valid_until, daily_exit_quota, revoked, version)
                SELECT * FROM unnest($1::text[], $2::bytea[], $3::text[], $4::text[], $5::text[],
                    $6::timestamptz[], $7::timestamptz[], $8::int[], $9::bool[], $10::int[])""",
            [p.pass_id for p in states],
            [sha256(code) for _, code in passes],
            [p.kind for p in states],
            [p.holder_person_id for p in states],
            [p.community_id for p in states],
            [p.valid_from for p in states],
            [p.valid_until for p in states],
            [p.daily_exit_quota for p in states],
            [p.revoked for p in states],
            [p.version for p in states],
        )

    async def pass_for_update(self, conn: asyncpg.Connection, pass_id: str) -> PassState | None:
        """The pass, its row locked until the transaction ends: a concurrent revocation or
        reissue waits, then sees this one's outcome."""
        row = await conn.fetchrow(
            f"SELECT {PASS_COLUMNS} FROM {self.schema}.passes p WHERE pass_id = $1 FOR UPDATE",
            pass_id,
        )
        return PassState(*row) if row else None

    async def revoke_pass(self, conn: asyncpg.Connection, pass_id: str, version: int) -> None:
        await conn.execute(
            f"UPDATE {self.schema}.passes SET revoked = true, version = $2 WHERE pass_id = $1",
            pass_id,
            version,
        )

    async def reissue_pass(
        self, conn: asyncpg.Connection, pass_id: str, code: str, version: int
    ) -> None:
        await conn.execute(
            f"UPDATE {self.schema}.passes SET code_sha256 = $2, version = $3 WHERE pass_id = $1",
            pass_id,
            sha256(code),
            version,
        )

    async def restrictions_for_update(
        self, conn: asyncpg.Connection, person_id: str, community_id: str
    ) -> PersonRestrictions:
        row = await conn.fetchrow(
            f"""SELECT barred, daily_exit_quota, version FROM {self.schema}.person_restrictions
                WHERE person_id = $1 AND community_id = $2 FOR UPDATE""",
            person_id,
            community_id,
        )
        return PersonRestrictions(*row) if row else PersonRestrictions()

    async def save_restrictions(
        self,
        conn: asyncpg.Connection,
        person_id: str,
        community_id: str,
        restrictions: PersonRestrictions,
    ) -> None:
        await conn.execute(
            f"""INSERT INTO {self.schema}.person_restrictions AS r
                    (person_id, community_id, barred, daily_exit_quota, version)
                VALUES ($1, $2, $3, $4, $5)
                ON CONFLICT (person_id, community_id) DO UPDATE
                SET barred = EXCLUDED.barred, daily_exit_quota = EXCLUDED.daily_exit_quota,
                    version = EXCLUDED.version""",
            person_id,
            community_id,
            *asdict(restrictions).values(),
        )

    async def note(
        self, conn: asyncpg.Connection | asyncpg.Pool, note_id: str
    ) -> dict[str, Any] | None:
        row = await conn.fetchrow(
            f"""SELECT note_id, subject, text, written_by, written_at
                FROM {self.schema}.office_notes WHERE note_id = $1""",
            note_id,
        )
        return dict(row) if row else None

    async def write_note(
        self, conn: asyncpg.Connection, subject: str, text: str, written_by: str, at: datetime
    ) -> str:
        """Keep the office's own words privately; events name only the returned note id."""
        note_id = f"note-{uuid.uuid4().hex[:16]}"
        await conn.execute(
            f"""INSERT INTO {self.schema}.office_notes
                    (note_id, subject, text, written_by, written_at)
                VALUES ($1, $2, $3, $4, $5)""",
            note_id,
            subject,
            text,
            written_by,
            at,
        )
        return note_id

    async def policy(self, conn: asyncpg.Connection, community_id: str) -> GatePolicy | None:
        """The community's latest published policy, its row locked until the transaction
        ends (two publications at once are numbered one after the other)."""
        found = await conn.fetchval(
            f"SELECT policy::text FROM {self.schema}.policies WHERE community_id = $1 FOR UPDATE",
            community_id,
        )
        return GatePolicy(**json.loads(found)) if found else None

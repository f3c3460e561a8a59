"""Staff tokens (hashes only) and the audit log of personal-data reads."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import asyncpg

from cordon_registry.domain.staff import StaffMember


def token_hash(token: str) -> bytes:
    return hashlib.sha256(token.encode()).digest()


@dataclass(frozen=True, slots=True)
class PersonalDataRead:
    """One audit entry: who read which fields of whose record, and why."""

    staff: StaffMember
    person_id: str
    community_id: str | None
    action: str
    fields: Sequence[str]


class StaffTable:
    def __init__(self, schema: str) -> None:
        self.schema = schema

    async def issue(
        self,
        conn: asyncpg.Connection,
        token: str,
        member: StaffMember,
        issued_by: str,
        at: datetime,
    ) -> None:
        await conn.execute(
            f"INSERT INTO {self.schema}.staff_tokens (token_hash, staff_id, role, community_id,"
            " issued_by, issued_at) VALUES ($1, $2, $3, $4, $5, $6)",
            token_hash(token),
            member.staff_id,
            member.role,
            member.community_id,
            issued_by,
            at,
        )

    async def revoke(self, conn: asyncpg.Connection, staff_id: str, at: datetime) -> int:
        result: str = await conn.execute(
            f"UPDATE {self.schema}.staff_tokens SET revoked_at = $2"
            " WHERE staff_id = $1 AND revoked_at IS NULL",
            staff_id,
            at,
        )
        return int(result.split()[-1])

    async def member(self, conn: asyncpg.Connection, token: str) -> StaffMember | None:
        row = await conn.fetchrow(
            f"SELECT staff_id, role, community_id FROM {self.schema}.staff_tokens"
            " WHERE token_hash = $1 AND revoked_at IS NULL",
            token_hash(token),
        )
        return StaffMember(row["staff_id"], row["role"], row["community_id"]) if row else None

    async def audit(
        self,
        conn: asyncpg.Connection,
        reads: Sequence[PersonalDataRead],
        at: datetime,
        correlation_id: Any,
    ) -> None:
        await conn.copy_records_to_table(
            "audit_log",
            schema_name=self.schema,
            columns=(
                "read_at", "staff_id", "role", "person_id", "community_id", "action", "fields",
                "correlation_id",
            ),
            records=[
                (at, r.staff.staff_id, r.staff.role, r.person_id, r.community_id, r.action,
                 list(r.fields), correlation_id)
                for r in reads
            ],
        )  # fmt: skip

    async def audit_trail(
        self, conn: asyncpg.Connection, person_id: str | None, limit: int
    ) -> list[dict[str, Any]]:
        rows = await conn.fetch(
            f"""SELECT read_at, staff_id, role, person_id, community_id, action, fields,
                       correlation_id
                FROM {self.schema}.audit_log WHERE $1::text IS NULL OR person_id = $1
                ORDER BY audit_id DESC LIMIT $2""",
            person_id,
            limit,
        )
        return [dict(r) for r in rows]

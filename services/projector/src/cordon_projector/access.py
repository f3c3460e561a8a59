"""Who may see what on the dashboard: staff tokens scoped to a community or a
sub-district; district staff see everything."""

from __future__ import annotations

import hashlib
import hmac
import secrets

import asyncpg

from cordon_projector.read_models.areas import Area, sub_district_of
from cordon_projector.settings import StaffScope


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


class Forbidden(Exception):
    """The token's scope does not cover the area asked for."""


class StaffTokens:
    def __init__(self, configured: dict[str, StaffScope], schema: str) -> None:
        self.configured = configured
        self.schema = schema

    async def scope_of(self, db: asyncpg.Pool, token: str | None) -> StaffScope | None:
        if not token:
            return None
        for known, scope in self.configured.items():
            if hmac.compare_digest(known.encode(), token.encode()):
                return scope
        row = await db.fetchrow(
            f"SELECT staff_id, scope_kind, scope_id FROM {self.schema}.dashboard_token"
            " WHERE token_sha256 = $1",
            token_hash(token),
        )
        if row is None:
            return None
        return StaffScope(kind=row["scope_kind"], id=row["scope_id"], staff_id=row["staff_id"])

    async def issue(self, db: asyncpg.Pool | asyncpg.Connection, scope: StaffScope) -> str:
        token = secrets.token_urlsafe(24)
        await db.execute(
            f"INSERT INTO {self.schema}.dashboard_token"
            " (token_sha256, staff_id, scope_kind, scope_id) VALUES ($1, $2, $3, $4)",
            token_hash(token),
            scope.staff_id,
            scope.kind,
            scope.id,
        )
        return token

    async def revoke(self, db: asyncpg.Pool | asyncpg.Connection, staff_id: str) -> int:
        result: str = await db.execute(
            f"DELETE FROM {self.schema}.dashboard_token WHERE staff_id = $1", staff_id
        )
        return int(result.split()[-1])


async def check_scope(db: asyncpg.Pool, schema: str, scope: StaffScope, area: Area) -> None:
    """Raise Forbidden unless ``scope`` covers ``area``."""
    if scope.kind == "district":
        return
    if scope.kind == "community":
        if area.community_id == scope.id:
            return
        raise Forbidden(f"{scope.staff_id} serves community {scope.id}, not {area.id}")
    if area.kind == "sub_district" and area.id == scope.id:
        return
    if area.community_id is not None:
        parents = await sub_district_of(db, schema, [area.community_id])
        if parents.get(area.community_id) == scope.id:
            return
    raise Forbidden(f"{scope.staff_id} serves sub-district {scope.id}, not {area.id}")


def home_area(scope: StaffScope, district: str) -> str:
    return district if scope.kind == "district" or scope.id is None else scope.id

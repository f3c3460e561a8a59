"""Who may use a service's office API, and in which community.

The registry issues staff tokens, each scoped to a role and, for community roles, to one
community; it publishes ``StaffTokenIssued`` and ``StaffTokensRevoked`` with the token's
SHA-256 only. A service with an office API (the gate, the isolation service) keeps those in
its own ``staff_access`` table (``StaffAccessProjection``), so the token a community's staff
use in the registry works in its office API too, held to the same community:

- the service's own admin token, and a district role's token, act for the whole district;
- a ``community_staff`` token acts in its community only: a command or a list for another
  community is refused with 403 naming the field;
- a ``grid_worker`` token is refused (403): grid workers screen households in the registry.

The event types are named, not imported: the core does not depend on a service's contracts.

A token is trusted for ``TRUST_S`` without asking PostgreSQL again, so a revocation takes
effect within that time after the service has read the event.
"""

from __future__ import annotations

import hashlib
import hmac
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Annotated, Any

import asyncpg
from fastapi import Depends, HTTPException, status
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from cordon_core.envelope import Envelope
from cordon_core.migrations import Migration, migrations_from_package

DISTRICT_ROLES = frozenset({"admin", "district_staff"})
OFFICE_ROLES = DISTRICT_ROLES | {"community_staff"}
TRUST_S = 10.0
KNOWN_TOKENS_MAX = 10_000
ISSUED, REVOKED = "StaffTokenIssued", "StaffTokensRevoked"
EVENT_TYPES = (ISSUED, REVOKED)
"""The registry's token events (``cordon_contracts.registry``), named rather than imported:
the core does not depend on any service's contracts. Their fields are read by name."""


def staff_access_migrations() -> list[Migration]:
    """The ``staff_access`` table, for a service that admits the registry's staff tokens."""
    return migrations_from_package("staff_access", "cordon_core", "sql_staff_access")


@dataclass(frozen=True, slots=True)
class Office:
    """Who is calling an office API: the district's office, or one community's staff."""

    actor: str
    """What the events record as their actor: ``office``, or ``staff:<id>``."""
    community_id: str | None
    """None: the whole district."""
    role: str = "admin"

    @property
    def district_wide(self) -> bool:
        return self.community_id is None

    def serves(self, community_id: str | None) -> bool:
        return self.community_id is None or community_id == self.community_id

    def require(self, community_id: str | None, *loc: str | int) -> None:
        """Refuse (403, naming ``loc``) unless this caller may act in ``community_id``;
        ``None`` means the whole district, or a subject no community has claimed."""
        if not self.serves(community_id):
            raise refused(loc or ("body", "community_id"), self.not_yours(community_id))

    def scope(self, asked: str | None, *loc: str | int) -> str | None:
        """The community a list is kept to: the one asked for (None: every one, for the
        district) after ``require``, or the caller's own when none was asked."""
        if asked is None:
            return self.community_id
        self.require(asked, *(loc or ("query", "community_id")))
        return asked

    def not_yours(self, community_id: str | None) -> str:
        where = community_id or "the whole district"
        return f"this token serves community {self.community_id}, not {where}"


def refused(loc: Sequence[str | int], msg: str) -> HTTPException:
    return HTTPException(
        status.HTTP_403_FORBIDDEN,
        detail=[{"loc": list(loc), "msg": msg, "type": "forbidden"}],
    )


DISTRICT_OFFICE = Office("office", None)


class StaffAccessProjection:
    """Keeps the registry's token events in this service's ``staff_access`` table. Both
    writes are idempotent (a replayed issue changes nothing; a revocation stamps only the
    tokens issued before it), and a staff member's events arrive in order (one key)."""

    name = "staff-access"
    event_types = EVENT_TYPES

    def __init__(self, schema: str) -> None:
        self.schema = schema

    async def apply_batch(self, conn: asyncpg.Connection, envelopes: Sequence[Envelope]) -> None:
        for envelope in envelopes:
            event: Any = envelope.payload
            if envelope.event_type == ISSUED:
                await conn.execute(
                    f"INSERT INTO {self.schema}.staff_access (token_sha256, staff_id, role,"
                    " community_id, issued_at) VALUES ($1, $2, $3, $4, $5)"
                    " ON CONFLICT (token_sha256) DO NOTHING",
                    event.token_sha256,
                    event.staff_id,
                    event.role,
                    event.community_id,
                    event.issued_at,
                )
            elif envelope.event_type == REVOKED:
                await conn.execute(
                    f"UPDATE {self.schema}.staff_access SET revoked_at = $2"
                    " WHERE staff_id = $1 AND revoked_at IS NULL AND issued_at <= $2",
                    event.staff_id,
                    event.revoked_at,
                )


class StaffAccess:
    """Looks a bearer token up: the service's admin token, or a staff token it has read."""

    def __init__(self, schema: str, admin_token: str) -> None:
        self.schema = schema
        self._admin = admin_token.encode()
        self._known: dict[str, tuple[float, Office | None]] = {}

    async def office(self, pool: asyncpg.Pool, token: str) -> Office | None:
        """The office ``token`` acts for, or None when it is not an office's token."""
        if self._admin and hmac.compare_digest(token.encode(), self._admin):
            return DISTRICT_OFFICE
        digest = hashlib.sha256(token.encode()).hexdigest()
        cached = self._known.get(digest)
        if cached is not None and cached[0] > time.monotonic():
            return cached[1]
        row = await pool.fetchrow(
            f"SELECT staff_id, role, community_id FROM {self.schema}.staff_access"
            " WHERE token_sha256 = $1 AND revoked_at IS NULL",
            digest,
        )
        found = _office_of(row)
        if len(self._known) > KNOWN_TOKENS_MAX:
            self._known.clear()
        self._known[digest] = (time.monotonic() + TRUST_S, found)
        return found


def _office_of(row: Any) -> Office | None:
    if row is None:
        return None
    role = row["role"]
    community = None if role in DISTRICT_ROLES else row["community_id"]
    return Office(f"staff:{row['staff_id']}", community, role)


bearer = HTTPBearer(auto_error=False, description="An office's staff token.")


def office_caller(
    access: StaffAccess, pool: Callable[[], asyncpg.Pool], what: str = "an office's staff token"
) -> Callable[..., Awaitable[Office]]:
    """The FastAPI dependency answering the ``Office`` behind the bearer token: 401 when
    there is none or it is unknown (or revoked), 403 for a role with no office work here."""

    async def office(
        credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
    ) -> Office:
        found = await access.office(pool(), credentials.credentials) if credentials else None
        if found is None:
            raise HTTPException(
                status.HTTP_401_UNAUTHORIZED,
                f"{what} is required",
                headers={"WWW-Authenticate": "Bearer"},
            )
        if found.role not in OFFICE_ROLES:
            raise refused(("header", "authorization"), f"a {found.role} has no office work here")
        return found

    return office

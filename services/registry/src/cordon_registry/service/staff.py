"""Staff tokens: the bootstrap admin issues role- and community-scoped tokens; only their
hashes are stored. Issuing and revoking are events too (``StaffTokenIssued``,
``StaffTokensRevoked``, on the staff member's stream), so that the gate and the isolation
service admit the same token to their office APIs, held to the same community."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from typing import Any

from cordon_contracts.registry import StaffTokenIssued, StaffTokensRevoked
from cordon_core.envelope import PendingEvent
from cordon_registry.domain.errors import NotFound
from cordon_registry.domain.staff import Role, StaffMember
from cordon_registry.service.unit import Caller, Registry

ADMIN = StaffMember("admin", "admin", None)


async def authenticate(reg: Registry, token: str) -> StaffMember | None:
    if reg.admin_token and hmac.compare_digest(token.encode(), reg.admin_token.encode()):
        return ADMIN
    async with reg.connection() as conn:
        return await reg.staff.member(conn, token)


async def issue_token(
    reg: Registry, caller: Caller, staff_id: str, role: Role, community_id: str | None
) -> str:
    """A new bearer token for the staff member; shown once, stored only as a hash."""
    caller.staff.require("issue_tokens")
    member = StaffMember(staff_id, role, community_id)
    token = secrets.token_urlsafe(32)
    async with reg.transaction() as conn:
        if community_id is not None:
            place = await reg.places.get(conn, community_id)
            if place is None or place["kind"] != "community":
                raise NotFound("community_id", f"no community {community_id}")
        at = reg.clock()
        await reg.staff.issue(conn, token, member, caller.staff.staff_id, at)
        issued = StaffTokenIssued(
            staff_id=staff_id,
            role=role,
            community_id=community_id,
            token_sha256=hashlib.sha256(token.encode()).hexdigest(),
            issued_at=at,
        )
        await _record(reg, caller, conn, issued)
    return token


async def revoke_tokens(reg: Registry, caller: Caller, staff_id: str) -> int:
    caller.staff.require("issue_tokens")
    async with reg.transaction() as conn:
        at = reg.clock()
        revoked = await reg.staff.revoke(conn, staff_id, at)
        if revoked:
            await _record(reg, caller, conn, StaffTokensRevoked(staff_id=staff_id, revoked_at=at))
        return revoked


def staff_stream(staff_id: str) -> str:
    return f"staff-{staff_id}"


async def _record(
    reg: Registry, caller: Caller, conn: Any, event: StaffTokenIssued | StaffTokensRevoked
) -> None:
    """Append a token event to the staff member's stream (any version: a token's events do
    not decide on each other; the registry's table holds the tokens)."""
    await reg.store.append(
        staff_stream(event.staff_id),
        [PendingEvent(event)],
        expected_version=None,
        metadata=reg.metadata(caller, None),
        partition_key=event.staff_id,
        conn=conn,
    )


async def audit_trail(
    reg: Registry, caller: Caller, person_id: str | None, limit: int = 100
) -> list[dict[str, Any]]:
    caller.staff.require("read_audit")
    async with reg.connection() as conn:
        return await reg.staff.audit_trail(conn, person_id, limit)

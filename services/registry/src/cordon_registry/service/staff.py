"""Staff tokens: the bootstrap admin issues role- and community-scoped tokens; only their
hashes are stored."""

from __future__ import annotations

import hmac
import secrets
from typing import Any

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
        await reg.staff.issue(conn, token, member, caller.staff.staff_id, reg.clock())
    return token


async def revoke_tokens(reg: Registry, caller: Caller, staff_id: str) -> int:
    caller.staff.require("issue_tokens")
    async with reg.transaction() as conn:
        return await reg.staff.revoke(conn, staff_id, reg.clock())


async def audit_trail(
    reg: Registry, caller: Caller, person_id: str | None, limit: int = 100
) -> list[dict[str, Any]]:
    caller.staff.require("read_audit")
    async with reg.connection() as conn:
        return await reg.staff.audit_trail(conn, person_id, limit)

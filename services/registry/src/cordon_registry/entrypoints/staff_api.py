"""HTTP routes for staff tokens and the audit log."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends

from cordon_core.idempotency import SHOWN_ONCE_OPERATION
from cordon_core.inputs import Limit
from cordon_registry.entrypoints.auth import REFUSALS, caller_of
from cordon_registry.entrypoints.bodies import TokenIn, TokenOut
from cordon_registry.service import staff
from cordon_registry.service.unit import Caller, Registry


def staff_router(reg: Registry) -> APIRouter:
    router = APIRouter(tags=["staff"], responses=REFUSALS)
    caller = Depends(caller_of(reg))

    @router.post(
        "/v1/staff-tokens",
        status_code=201,
        response_model=TokenOut,
        openapi_extra=SHOWN_ONCE_OPERATION,
    )
    async def issue(body: TokenIn, who: Caller = caller) -> TokenOut:
        """Issue a token scoped to a role (and a community, for community roles). The token
        is shown once: a replay of the request (same Idempotency-Key) gets 409, not the token."""
        token = await staff.issue_token(reg, who, body.staff_id, body.role, body.community_id)
        return TokenOut(
            staff_id=body.staff_id, role=body.role, community_id=body.community_id, token=token
        )

    @router.delete("/v1/staff-tokens/{staff_id}")
    async def revoke(staff_id: str, who: Caller = caller) -> dict[str, int]:
        return {"revoked": await staff.revoke_tokens(reg, who, staff_id)}

    @router.get("/v1/audit")
    async def audit(
        person_id: str | None = None, limit: Limit = 100, who: Caller = caller
    ) -> list[dict[str, Any]]:
        """Who read whose personal data, newest first."""
        return await staff.audit_trail(reg, who, person_id, limit)

    return router

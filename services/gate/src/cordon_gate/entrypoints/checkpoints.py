"""The office's routes on checkpoints: register and open or close them, register their
devices, publish the community's gate policy, and list checkpoints and devices.

(No ``from __future__ import annotations`` here: FastAPI must see the dependency types.)
"""

from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Request, Response, status
from pydantic import BaseModel, Field

from cordon_contracts.gate import CheckpointReason, PersonCategory
from cordon_core.api_errors import errors
from cordon_core.http import correlation_id
from cordon_core.idempotency import SHOWN_ONCE_OPERATION
from cordon_core.inputs import Flag, Limit, Number, Text
from cordon_core.staff_access import Office
from cordon_core.unit_of_work import run_command
from cordon_gate.domain.state import (
    DEFAULT_POLICY,
    Checkpoint,
    GatePolicy,
    RiskRule,
    VisitorsRule,
    YellowCodeRule,
)
from cordon_gate.entrypoints.schemas import Id, Note
from cordon_gate.service.administration import AlreadyExists, NotFound
from cordon_gate.service.unit import Gate


class CheckpointIn(BaseModel):
    checkpoint_id: Id
    community_id: Id
    compound_id: Id
    name: Text = Field(min_length=1, max_length=100)
    is_open: Flag = True
    requires_negative_test: Flag = False
    negative_test_hours: int = Field(default=DEFAULT_POLICY.negative_test_hours, ge=1, le=24 * 14)


class OpenCloseIn(BaseModel):
    reason_code: CheckpointReason = "other"
    note: Note = None
    reason: Text | None = Field(
        default=None,
        max_length=200,
        description="Deprecated: kept as the note, like ``note``; never published.",
    )


class DeviceIn(BaseModel):
    device_id: Id


# A community's gate rules; each rule left out keeps the domain's default.
class PolicyIn(BaseModel):
    fever_threshold_c: Number = Field(default=DEFAULT_POLICY.fever_threshold_c, ge=36.5, le=39.0)
    yellow_code: YellowCodeRule = DEFAULT_POLICY.yellow_code
    itinerary_risk: RiskRule = DEFAULT_POLICY.itinerary_risk
    health_monitoring_exit: RiskRule = DEFAULT_POLICY.health_monitoring_exit
    visitors: VisitorsRule = DEFAULT_POLICY.visitors
    negative_test_hours: int = Field(default=DEFAULT_POLICY.negative_test_hours, ge=1, le=24 * 14)
    daily_exit_quotas: dict[PersonCategory, Annotated[int, Field(ge=0, le=50)]] = Field(
        default_factory=dict,
        description="Exits a day for every person of a category, e.g. "
        '{"temporary_pass_holder": 1}; the smallest quota that applies to a person holds.',
    )


def checkpoints_router(
    gate: Gate, admin: Callable[..., Awaitable[Office]], now: Callable[[], datetime]
) -> APIRouter:
    router = APIRouter(tags=["office"], responses=errors(403))
    Admin = Annotated[Office, Depends(admin)]
    runtime = gate.runtime

    async def require_checkpoint(office: Office, checkpoint_id: str) -> None:
        """Refuse a community's staff another community's checkpoint (an unknown one is
        left to the command, which answers 404)."""
        owner = await gate.listings.owners(runtime.pool, "checkpoint", checkpoint_id)
        if owner is not None:
            office.require(owner.community_id, "path", "checkpoint_id")

    @router.post("/v1/checkpoints", status_code=201, responses=errors(409))
    async def register_checkpoint(
        body: CheckpointIn, office: Admin, request: Request, response: Response
    ) -> dict[str, str]:
        """Register a checkpoint; the same again is answered 200 ``already_registered`` and
        records nothing, another definition under the same id 409."""
        office.require(body.community_id)
        await require_checkpoint(office, body.checkpoint_id)
        try:
            registered = await run_command(
                runtime.pool,
                lambda conn: gate.office.register_checkpoint(
                    conn,
                    Checkpoint(**body.model_dump()),
                    actor=office.actor,
                    correlation_id=correlation_id(request),
                ),
            )
        except AlreadyExists as error:
            raise HTTPException(status.HTTP_409_CONFLICT, str(error)) from error
        if not registered:
            response.status_code = status.HTTP_200_OK
        return {
            "checkpoint_id": body.checkpoint_id,
            "status": "registered" if registered else "already_registered",
        }

    async def set_open(
        checkpoint_id: str, is_open: bool, body: OpenCloseIn, office: Office, request: Request
    ) -> dict[str, Any]:
        await require_checkpoint(office, checkpoint_id)
        try:
            checkpoint = await run_command(
                runtime.pool,
                lambda conn: gate.office.set_open(
                    conn,
                    checkpoint_id,
                    is_open=is_open,
                    reason_code=body.reason_code,
                    note=body.note or body.reason,
                    at=now(),
                    actor=office.actor,
                    correlation_id=correlation_id(request),
                ),
            )
        except NotFound as error:
            raise HTTPException(status.HTTP_404_NOT_FOUND, str(error)) from error
        return {"checkpoint_id": checkpoint_id, "is_open": checkpoint.is_open}

    @router.post("/v1/checkpoints/{checkpoint_id}/open", responses=errors(404))
    async def open_checkpoint(
        checkpoint_id: str, body: OpenCloseIn, office: Admin, request: Request
    ) -> dict[str, Any]:
        return await set_open(checkpoint_id, True, body, office, request)

    @router.post("/v1/checkpoints/{checkpoint_id}/close", responses=errors(404))
    async def close_checkpoint(
        checkpoint_id: str, body: OpenCloseIn, office: Admin, request: Request
    ) -> dict[str, Any]:
        """Close a gate (e.g. three gates reduced to one): its scans are refused."""
        return await set_open(checkpoint_id, False, body, office, request)

    @router.post(
        "/v1/checkpoints/{checkpoint_id}/devices",
        status_code=201,
        responses=errors(404, 409),
        openapi_extra=SHOWN_ONCE_OPERATION,
    )
    async def register_device(
        checkpoint_id: str, body: DeviceIn, office: Admin, request: Request
    ) -> dict[str, str]:
        """Returns the device's bearer token once; only its hash is kept."""
        await require_checkpoint(office, checkpoint_id)
        try:
            token = await run_command(
                runtime.pool,
                lambda conn: gate.office.register_device(
                    conn,
                    checkpoint_id,
                    body.device_id,
                    actor=office.actor,
                    correlation_id=correlation_id(request),
                ),
            )
        except NotFound as error:
            raise HTTPException(status.HTTP_404_NOT_FOUND, str(error)) from error
        except AlreadyExists as error:
            raise HTTPException(status.HTTP_409_CONFLICT, str(error)) from error
        return {"device_id": body.device_id, "checkpoint_id": checkpoint_id, "token": token}

    @router.put("/v1/communities/{community_id}/gate-policy")
    async def publish_policy(
        community_id: str, body: PolicyIn, office: Admin, request: Request
    ) -> dict[str, Any]:
        """Publish the community's next policy version; later decisions name it."""
        office.require(community_id, "path", "community_id")
        published, changed = await run_command(
            runtime.pool,
            lambda conn: gate.office.publish_policy(
                conn,
                GatePolicy(community_id=community_id, **body.model_dump()),
                actor=office.actor,
                correlation_id=correlation_id(request),
            ),
        )
        return {
            "community_id": community_id,
            "version": published.version,
            "status": "published" if changed else "unchanged",
        }

    @router.get("/v1/checkpoints")
    async def list_checkpoints(
        office: Admin,
        community_id: Text | None = None,
        after: Text | None = None,
        limit: Limit = 100,
    ) -> list[dict[str, Any]]:
        """Checkpoints by id; a community's staff see their own community's."""
        return await gate.listings.checkpoints(
            runtime.pool, community_id=office.scope(community_id), after=after, limit=limit
        )

    @router.get("/v1/devices")
    async def list_devices(
        office: Admin,
        checkpoint_id: Text | None = None,
        community_id: Text | None = None,
        after: Text | None = None,
        limit: Limit = 100,
    ) -> list[dict[str, Any]]:
        """Devices and their checkpoints; never a token (only its hash is kept). A
        community's staff see their own community's."""
        return await gate.listings.devices(
            runtime.pool,
            checkpoint_id=checkpoint_id,
            community_id=office.scope(community_id),
            after=after,
            limit=limit,
        )

    return router

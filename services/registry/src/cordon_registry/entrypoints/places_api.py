"""HTTP routes for the hierarchy: places, their history and their staff."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends

from cordon_contracts.registry import StaffRole
from cordon_registry.entrypoints.auth import REFUSALS, WRITE_REFUSALS, caller_of
from cordon_registry.entrypoints.bodies import (
    MergeIn,
    PlaceIn,
    ReasonIn,
    RenameIn,
    StaffAssignmentIn,
)
from cordon_registry.service import places
from cordon_registry.service.unit import Caller, Registry


def places_router(reg: Registry) -> APIRouter:
    router = APIRouter(prefix="/v1/places", tags=["places"], responses=REFUSALS)
    caller = Depends(caller_of(reg))

    @router.post("", status_code=201, responses=WRITE_REFUSALS)
    async def add_place(body: PlaceIn, who: Caller = caller) -> dict[str, Any]:
        added = await places.add_place(
            reg,
            who,
            place_id=body.place_id,
            kind=body.kind,
            name=body.name,
            parent_id=body.parent_id,
        )
        return added.model_dump(mode="json")

    @router.get("/{place_id}")
    async def get_place(place_id: str, who: Caller = caller) -> dict[str, Any]:
        """The place, its children and assigned staff."""
        return await places.place_view(reg, who, place_id)

    @router.get("/{place_id}/history")
    async def history(place_id: str, who: Caller = caller) -> list[dict[str, Any]]:
        """Every event of the place: added, renamed, staff, merged or closed."""
        return await places.place_history(reg, who, place_id)

    @router.post("/{place_id}/rename", responses=WRITE_REFUSALS)
    async def rename(place_id: str, body: RenameIn, who: Caller = caller) -> dict[str, Any]:
        """Rename; to the name it has already, nothing is recorded (``unchanged``)."""
        renamed = await places.rename_place(reg, who, place_id, body.name)
        if renamed is None:
            return {"place_id": place_id, "name": body.name, "unchanged": True}
        return renamed.model_dump(mode="json")

    @router.post("/{place_id}/merge", responses=WRITE_REFUSALS)
    async def merge(place_id: str, body: MergeIn, who: Caller = caller) -> dict[str, Any]:
        """Merge into another place of the same kind; a household's residents move along."""
        merged = await places.merge_place(reg, who, place_id, body.into_place_id)
        return merged.model_dump(mode="json")

    @router.post("/{place_id}/close", responses=WRITE_REFUSALS)
    async def close(place_id: str, body: ReasonIn, who: Caller = caller) -> dict[str, Any]:
        return (await places.close_place(reg, who, place_id, body.reason)).model_dump(mode="json")

    @router.post("/{place_id}/staff", status_code=201, responses=WRITE_REFUSALS)
    async def assign(
        place_id: str, body: StaffAssignmentIn, who: Caller = caller
    ) -> dict[str, Any]:
        """Assign a grid worker to a grid or a building head to a building."""
        assigned = await places.assign_staff(reg, who, place_id, body.role, body.staff_id)
        return {"assigned": assigned is not None, "role": body.role, "staff_id": body.staff_id}

    @router.delete("/{place_id}/staff/{role}/{staff_id}", responses=WRITE_REFUSALS)
    async def unassign(
        place_id: str, role: StaffRole, staff_id: str, who: Caller = caller
    ) -> dict[str, Any]:
        await places.unassign_staff(reg, who, place_id, role, staff_id)
        return {"unassigned": True}

    return router

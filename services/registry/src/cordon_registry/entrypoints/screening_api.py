"""HTTP routes for screening: risk areas, rounds, visits and coverage."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from fastapi import APIRouter, Depends

from cordon_registry.domain.screening import PersonSeen, RiskArea, Stay, Visit
from cordon_registry.entrypoints.auth import REFUSALS, WRITE_REFUSALS, caller_of
from cordon_registry.entrypoints.bodies import RiskAreaIn, RoundIn, VisitIn
from cordon_registry.service import screening
from cordon_registry.service.unit import Caller, Registry


def screening_router(reg: Registry) -> APIRouter:
    router = APIRouter(tags=["screening"], responses=REFUSALS)
    caller = Depends(caller_of(reg))

    @router.put("/v1/risk-areas/{area_code}", responses=WRITE_REFUSALS)
    async def designate(area_code: str, body: RiskAreaIn, who: Caller = caller) -> dict[str, Any]:
        """List (or re-list) a medium/high-risk area for the dates given."""
        area = RiskArea(area_code, body.area_name, body.level, body.valid_from, body.valid_until)
        designated = await screening.designate_risk_area(reg, who, area)
        if designated is None:  # listed so already: nothing recorded
            return {**asdict(area), "unchanged": True}
        return designated.model_dump(mode="json")

    @router.get("/v1/risk-areas")
    async def areas(who: Caller = caller) -> list[dict[str, Any]]:
        return [asdict(a) for a in await screening.risk_areas(reg)]

    @router.post(
        "/v1/communities/{community_id}/screening-rounds", status_code=201, responses=WRITE_REFUSALS
    )
    async def open_round(community_id: str, body: RoundIn, who: Caller = caller) -> dict[str, Any]:
        opened = await screening.open_round(
            reg,
            who,
            community_id,
            round_id=body.round_id,
            name=body.name,
            window_days=body.window_days,
        )
        return opened.model_dump(mode="json")

    @router.get("/v1/communities/{community_id}/screening-rounds")
    async def rounds(community_id: str, who: Caller = caller) -> list[dict[str, Any]]:
        """Every round of the community with its coverage."""
        return await screening.community_rounds(reg, who, community_id)

    @router.post("/v1/screening-rounds/{round_id}/close", responses=WRITE_REFUSALS)
    async def close_round(round_id: str, who: Caller = caller) -> dict[str, Any]:
        return (await screening.close_round(reg, who, round_id)).model_dump(mode="json")

    @router.post(
        "/v1/screening-rounds/{round_id}/visits", status_code=201, responses=WRITE_REFUSALS
    )
    async def visit(round_id: str, body: VisitIn, who: Caller = caller) -> dict[str, Any]:
        """Record a household visit; returns the events it produced (none on a retry)."""
        seen = [
            PersonSeen(
                p.person_id,
                p.present,
                [Stay(s.area_code, s.stayed_from, s.stayed_until) for s in p.stays],
                p.symptoms,
                p.returnee_contact,
            )
            for p in body.persons
        ]
        doses = [
            (p.person_id, d.dose_number, d.vaccinated_on, d.vaccine)
            for p in body.persons
            for d in p.doses
        ]
        the_visit = Visit(
            body.visit_id, body.household_id, "", who.staff.staff_id, body.visited_at, seen
        )
        events = await screening.record_visit(reg, who, round_id, the_visit, doses)
        return {
            "events": [{"event_type": e.event_type, **e.model_dump(mode="json")} for e in events]
        }

    @router.get("/v1/screening-rounds/{round_id}/coverage")
    async def coverage(round_id: str, who: Caller = caller) -> dict[str, Any]:
        """Households visited / households registered, for the community and each grid."""
        return await screening.coverage(reg, who, round_id)

    return router

"""HTTP routes for residents and households: registration, moves, ledgers, vaccination,
erasure, and the audited reads of personal data."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any, Literal, cast

from fastapi import APIRouter, Depends, Query, Response

from cordon_core.inputs import Limit, Text
from cordon_registry.domain.contact import (
    PersonalDetails,
    normalise_address,
    normalise_name,
    normalise_phone,
)
from cordon_registry.domain.identity import parse_document
from cordon_registry.domain.search_tokens import SEARCH_KINDS
from cordon_registry.entrypoints.auth import REFUSALS, WRITE_REFUSALS, caller_of
from cordon_registry.entrypoints.bodies import CategoriesIn, DoseIn, MoveIn, ReasonIn, ResidentIn
from cordon_registry.service import personal, residents
from cordon_registry.service.registration import NewResident
from cordon_registry.service.search import find_residents
from cordon_registry.service.unit import Caller, Registry


def residents_router(reg: Registry) -> APIRouter:
    router = APIRouter(tags=["residents"], responses=REFUSALS)
    caller = Depends(caller_of(reg))

    @router.post("/v1/residents", status_code=201, responses=WRITE_REFUSALS)
    async def register(body: ResidentIn, who: Caller = caller) -> dict[str, str]:
        """Register a person to a household. Returns their pseudonymous person id."""
        details = PersonalDetails(
            name=normalise_name(body.name),
            document=parse_document(
                body.document_type, body.document_number, today=reg.clock().date()
            ),
            phone=normalise_phone(body.phone),
            address=normalise_address(body.address),
        )
        new = NewResident(details, body.residence_type, body.categories, body.key_person_reason)
        return {"person_id": await residents.register_resident(reg, who, body.household_id, new)}

    @router.get("/v1/residents/{person_id}")
    async def read(person_id: str, who: Caller = caller) -> dict[str, Any]:
        """The resident with personal details (this read is audited)."""
        return asdict(await personal.read_resident(reg, who, person_id))

    @router.get("/v1/residents/{person_id}/record")
    async def record(person_id: str, who: Caller = caller) -> dict[str, Any]:
        """Households lived in, ledgers and doses: no personal data."""
        return await residents.resident_record(reg, who, person_id)

    @router.post("/v1/residents/{person_id}/move", responses=WRITE_REFUSALS)
    async def move(person_id: str, body: MoveIn, who: Caller = caller) -> dict[str, Any]:
        moved = await residents.move_resident(
            reg, who, person_id, body.household_id, body.residence_type
        )
        return moved.model_dump(mode="json")

    @router.post("/v1/residents/{person_id}/leave", responses=WRITE_REFUSALS)
    async def leave(person_id: str, body: ReasonIn, who: Caller = caller) -> dict[str, bool]:
        await residents.resident_leaves(reg, who, person_id, body.reason)
        return {"left": True}

    @router.put("/v1/residents/{person_id}/categories", responses=WRITE_REFUSALS)
    async def categories(
        person_id: str, body: CategoriesIn, who: Caller = caller
    ) -> dict[str, bool]:
        await residents.set_categories(reg, who, person_id, body.categories)
        return {"updated": True}

    @router.put("/v1/residents/{person_id}/key-person", responses=WRITE_REFUSALS)
    async def flag(person_id: str, body: ReasonIn, who: Caller = caller) -> dict[str, bool]:
        await residents.flag_key_person(reg, who, person_id, body.reason)
        return {"key_person": True}

    @router.post("/v1/residents/{person_id}/key-person/clear", responses=WRITE_REFUSALS)
    async def clear(person_id: str, body: ReasonIn, who: Caller = caller) -> dict[str, bool]:
        await residents.clear_key_person(reg, who, person_id, body.reason)
        return {"key_person": False}

    @router.post("/v1/residents/{person_id}/vaccinations", responses=WRITE_REFUSALS)
    async def vaccinate(person_id: str, body: DoseIn, who: Caller = caller) -> dict[str, bool]:
        new = await residents.record_vaccination(
            reg, who, person_id, body.dose_number, body.vaccinated_on, body.vaccine
        )
        return {"recorded": new}

    @router.post("/v1/residents/{person_id}/erase", responses=WRITE_REFUSALS)
    async def erase(person_id: str, body: ReasonIn, who: Caller = caller) -> dict[str, bool]:
        """Crypto-shred the person's personal data; counts and places stay."""
        await residents.erase_personal_data(reg, who, person_id, body.reason)
        return {"erased": True}

    @router.get("/v1/households/{household_id}/residents")
    async def household(household_id: str, who: Caller = caller) -> list[dict[str, Any]]:
        """Who lives in the household, with personal details (audited)."""
        return [asdict(c) for c in await personal.household_residents(reg, who, household_id)]

    @router.get("/v1/communities/{community_id}/residents/search")
    async def search(
        community_id: str,
        field: Literal[
            "name", "phone", "document", "name_part", "pinyin", "phone_last4", "document_last4"
        ] = Query(),
        value: str = Query(min_length=1, max_length=100),
        document_type: str = "resident_id",
        after: str = Query("", max_length=64, description="the last person_id of the page before"),
        limit: int = Query(20, ge=1, le=100),
        who: Caller = caller,
    ) -> list[dict[str, Any]]:
        """Residents of the community by exact name, phone or document, or by part of the
        name, its pinyin, or the last 4 digits of phone or document (docs/registry.md);
        one page in person_id order (audited)."""
        if field in SEARCH_KINDS:
            found = await find_residents(
                reg, who, community_id, field, value, after=after, limit=limit
            )
        else:
            exact = cast(personal.SearchField, field)
            found = await personal.search_residents(
                reg, who, community_id, exact, value, document_type, after=after, limit=limit
            )
        return [asdict(c) for c in found]

    @router.get("/v1/communities/{community_id}/residents")
    async def ledger(
        community_id: str,
        response: Response,
        category: Text | None = None,
        key_persons: bool = False,
        grid_id: Text | None = None,
        after: Text | None = None,
        limit: Limit = 100,
        who: Caller = caller,
    ) -> list[dict[str, Any]]:
        """A page of the community's residents by pseudonymous id (``after``: the last id of
        the previous page), optionally one ledger, one grid or key persons only; the
        ``X-Total-Count`` header says how many the filters keep in all."""
        page, total = await residents.community_residents(
            reg, who, community_id, category=category, key_persons=key_persons,
            grid_id=grid_id, after=after, limit=limit,
        )  # fmt: skip
        response.headers["X-Total-Count"] = str(total)
        return page

    @router.get("/v1/communities/{community_id}/counts")
    async def counts(community_id: str, who: Caller = caller) -> dict[str, Any]:
        return await residents.community_counts(reg, who, community_id)

    return router

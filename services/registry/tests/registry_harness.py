"""Helpers for the registry's tests: the service under test behind an HTTP client, an
injected clock, valid ID numbers, and a small district built through the API."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx

from cordon_registry.bootstrap import RegistryService
from cordon_registry.domain.identity import check_character

ADMIN_TOKEN = "test-admin-token"


def resident_id(region: str = "110101", born: str = "19800101", sequence: str = "123") -> str:
    """A valid 18-character resident ID number."""
    first = f"{region}{born}{sequence}"
    return first + check_character(first)


@dataclass
class Clock:
    now: datetime = datetime(2022, 4, 10, 9, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)


@dataclass
class Registry:
    """The service under test and a client speaking to its HTTP API."""

    service: RegistryService
    client: httpx.AsyncClient
    clock: Clock
    tokens: dict[str, str] = field(default_factory=dict)

    @property
    def schema(self) -> str:
        return self.service.runtime.schema

    def as_(self, who: str) -> dict[str, str]:
        token = ADMIN_TOKEN if who == "admin" else self.tokens[who]
        return {"Authorization": f"Bearer {token}"}

    async def call(
        self, method: str, url: str, who: str = "admin", expect: int = 200, **kw: Any
    ) -> Any:
        headers = {**self.as_(who), **kw.pop("headers", {})}
        response = await self.client.request(method, url, headers=headers, **kw)
        assert response.status_code == expect, (response.status_code, response.text)
        return response.json()

    async def staff(self, staff_id: str, role: str, community_id: str | None) -> None:
        body = {"staff_id": staff_id, "role": role, "community_id": community_id}
        issued = await self.call("POST", "/v1/staff-tokens", json=body, expect=201)
        self.tokens[staff_id] = issued["token"]

    async def place(self, place_id: str, kind: str, name: str, parent_id: str | None) -> None:
        body = {"place_id": place_id, "kind": kind, "name": name, "parent_id": parent_id}
        await self.call("POST", "/v1/places", json=body, expect=201)

    async def register(
        self, household_id: str, name: str, document_number: str, **extra: Any
    ) -> str:
        body = {
            "household_id": household_id,
            "residence_type": "owner",
            "name": name,
            "document_number": document_number,
            **extra,
        }
        created = await self.call("POST", "/v1/residents", json=body, expect=201)
        person_id: str = created["person_id"]
        return person_id


async def build_district(reg: Registry) -> None:
    """Two communities: heping (grids g1, g2) and xinhua (grid g1), a few households each,
    with a community staff member and a grid worker per community."""
    await reg.place("east", "sub_district", "East sub-district", None)
    for community in ("heping", "xinhua"):
        await reg.place(community, "community", community.title(), "east")
        grids = ("g1", "g2") if community == "heping" else ("g1",)
        for grid in grids:
            g = f"{community}-{grid}"
            await reg.place(g, "grid", f"Grid {grid[1:]}", community)
            await reg.place(f"{g}-c1", "compound", "Garden compound", g)
            await reg.place(f"{g}-b1", "building", "Building 1", f"{g}-c1")
            await reg.place(f"{g}-u1", "unit", "Unit 1", f"{g}-b1")
            for room in ("101", "102"):
                await reg.place(f"{g}-h{room}", "household", room, f"{g}-u1")
        await reg.staff(f"{community}-office", "community_staff", community)
        await reg.staff(f"{community}-gw1", "grid_worker", community)

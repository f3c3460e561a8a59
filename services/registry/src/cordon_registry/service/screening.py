"""Use cases of door-to-door screening: the district's risk-area list, rounds opened and
closed by a community, household visits by grid workers, and coverage."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import replace
from datetime import date
from typing import Any

import asyncpg

from cordon_contracts.registry import (
    HouseholdVisited,
    RiskAreaDesignated,
    ScreeningRoundClosed,
    ScreeningRoundOpened,
    TravelHistoryReported,
)
from cordon_core.envelope import DomainEvent, PendingEvent
from cordon_registry.domain.errors import Conflict, InvalidInput, NotFound
from cordon_registry.domain.screening import (
    RiskArea,
    ScreeningRound,
    Visit,
    designation,
    opening,
    round_stream,
    visit_findings,
    visit_stream,
)
from cordon_registry.service.places import load_place
from cordon_registry.service.residents import record_dose
from cordon_registry.service.unit import Caller, Registry

VISIT_EVENT_IDS = uuid.UUID("8d4f7a0e-1c55-4b9e-a7f2-3e6b0d9c5a41")
Dose = tuple[str, int, date, str | None]
"""person id, dose number, date, vaccine."""


async def designate_risk_area(
    reg: Registry, caller: Caller, area: RiskArea
) -> RiskAreaDesignated | None:
    """The listing; None when the area is listed so already (nothing recorded)."""
    caller.staff.require("manage_district")

    async def run(conn: asyncpg.Connection) -> RiskAreaDesignated | None:
        current = (await reg.screening.risk_areas(conn)).get(area.area_code)
        designated = designation(area, reg.clock(), reg.risk_area_max_days, current)
        if designated is None:
            return None
        await reg.store.append(
            f"risk-area-{area.area_code}",
            [PendingEvent(designated)],
            expected_version=None,
            metadata=reg.metadata(caller, None),
            conn=conn,
        )
        await reg.screening.designate(conn, designated)
        return designated

    return await reg.command(run)


async def risk_areas(reg: Registry) -> list[RiskArea]:
    async with reg.connection() as conn:
        return sorted((await reg.screening.risk_areas(conn)).values(), key=lambda a: a.area_code)


async def open_round(
    reg: Registry,
    caller: Caller,
    community_id: str,
    *,
    round_id: str | None,
    name: str,
    window_days: int,
) -> ScreeningRoundOpened:
    caller.staff.require("manage_community", community_id)
    the_id = round_id or f"{community_id}-{uuid.uuid4().hex[:8]}"

    async def run(conn: asyncpg.Connection) -> ScreeningRoundOpened:
        community = await load_place(reg, conn, community_id, "community_id")
        if community.kind != "community":
            raise InvalidInput("community_id", f"{community_id} is a {community.kind}")
        if await reg.store.stream_version(round_stream(the_id), conn=conn):
            raise Conflict("round_id", f"screening round {the_id} exists already")
        opened = opening(the_id, community_id, name, window_days, reg.clock())
        await _append(
            reg, conn, caller, round_stream(the_id), opened.community_id, [opened], 0, the_id
        )
        await reg.screening.open_round(conn, opened)
        return opened

    return await reg.command(run)


async def _append(
    reg: Registry,
    conn: asyncpg.Connection,
    caller: Caller,
    stream_id: str,
    community_id: str,
    events: Sequence[DomainEvent] | Sequence[PendingEvent],
    version: int | None,
    key: str,
) -> None:
    pending = [e if isinstance(e, PendingEvent) else PendingEvent(e) for e in events]
    await reg.store.append(
        stream_id,
        pending,
        expected_version=version,
        metadata=reg.metadata(caller, community_id),
        partition_key=key,
        conn=conn,
    )


async def load_round(reg: Registry, conn: asyncpg.Connection, round_id: str) -> ScreeningRound:
    events = await reg.load(conn, round_stream(round_id))
    if not events:
        raise NotFound("round_id", f"no screening round {round_id}")
    return ScreeningRound.from_events(events)


async def close_round(reg: Registry, caller: Caller, round_id: str) -> ScreeningRoundClosed:
    async def run(conn: asyncpg.Connection) -> ScreeningRoundClosed:
        screening = await load_round(reg, conn, round_id)
        caller.staff.require("manage_community", screening.community_id)
        total = (await reg.screening.coverage(conn, round_id, screening.community_id))[-1]
        closed = screening.close(
            total["households_visited"], total["households_registered"], reg.clock()
        )
        stream = round_stream(round_id)
        await _append(
            reg, conn, caller, stream, screening.community_id, [closed], screening.version, round_id
        )
        await reg.screening.close_round(conn, round_id, closed.closed_at)
        return closed

    return await reg.command(run)


async def record_visit(
    reg: Registry, caller: Caller, round_id: str, visit: Visit, doses: Sequence[Dose] = ()
) -> list[DomainEvent]:
    """Record a visit; the same visit id posted again records nothing more."""

    async def run(conn: asyncpg.Connection) -> list[DomainEvent]:
        screening = await load_round(reg, conn, round_id)
        caller.staff.require("screen_households", screening.community_id)
        household = await reg.places.get(conn, visit.household_id)
        if household is None or household["kind"] != "household":
            raise NotFound("household_id", f"no household {visit.household_id}")
        if household["community_id"] != screening.community_id:
            raise InvalidInput(
                "household_id", f"{visit.household_id} is not in {screening.community_id}"
            )
        stream = visit_stream(round_id, visit.household_id)
        for envelope in await reg.store.load_stream(stream, conn=conn):
            if (
                isinstance(envelope.payload, HouseholdVisited)
                and envelope.payload.visit_id == visit.visit_id
            ):
                return []  # a retry of a visit already recorded
        findings = visit_findings(
            screening,
            replace(visit, grid_id=household["grid_id"]),
            residents=set(await reg.residents.in_household(conn, visit.household_id)),
            areas=await reg.screening.risk_areas(conn),
        )
        pending = [
            PendingEvent(
                e, event_id=uuid.uuid5(VISIT_EVENT_IDS, f"{round_id}/{visit.visit_id}/{n}")
            )
            for n, e in enumerate(findings)
        ]
        await _append(
            reg, conn, caller, stream, screening.community_id, pending, None, visit.household_id
        )
        visited = findings[0]
        assert isinstance(visited, HouseholdVisited)
        alerts = sum(isinstance(e, TravelHistoryReported) for e in findings)
        await reg.screening.record_visit(conn, visited, alerts)
        recorded = list(findings)
        for person_id, number, on, vaccine in doses:
            recorded += await record_dose(
                reg, conn, caller, person_id, (number, on, vaccine), "screening"
            )
        return recorded

    return await reg.command(run)


async def coverage(reg: Registry, caller: Caller, round_id: str) -> dict[str, Any]:
    """Households visited / households registered, for the community and each grid."""
    async with reg.connection() as conn:
        row = await reg.screening.get_round(conn, round_id)
        if row is None:
            raise NotFound("round_id", f"no screening round {round_id}")
        caller.staff.require("read_places", row["community_id"])
        figures = await reg.screening.coverage(conn, round_id, row["community_id"])
    *grids, total = figures or [
        {"grid_id": None, "households_registered": 0, "households_visited": 0}
    ]

    def rate(f: dict[str, Any]) -> dict[str, Any]:
        registered = f["households_registered"]
        return {**f, "rate": round(f["households_visited"] / registered, 4) if registered else 0.0}

    return {
        "round_id": round_id,
        "community_id": row["community_id"],
        "name": row["name"],
        "closed": row["closed_at"] is not None,
        "community": {k: v for k, v in rate(total).items() if k != "grid_id"},
        "grids": [rate(g) for g in grids],
    }


async def community_rounds(
    reg: Registry, caller: Caller, community_id: str
) -> list[dict[str, Any]]:
    caller.staff.require("read_places", community_id)
    async with reg.connection() as conn:
        rounds = await reg.screening.rounds(conn, community_id)
    return [await coverage(reg, caller, r["round_id"]) for r in rounds]

"""Use cases on the hierarchy: add, rename, merge and close places; assign staff."""

from __future__ import annotations

from typing import Any

import asyncpg

from cordon_contracts.registry import (
    PlaceAdded,
    PlaceClosed,
    PlaceKind,
    PlaceMerged,
    PlaceRenamed,
    StaffAssigned,
    StaffRole,
    StaffUnassigned,
)
from cordon_core.envelope import DomainEvent, PendingEvent
from cordon_registry.adapters.places_table import ancestry_of
from cordon_registry.domain.errors import Conflict, NotFound
from cordon_registry.domain.places import Ancestry, Place, new_place, place_stream
from cordon_registry.service.unit import Caller, Registry


async def load_place(
    reg: Registry, conn: asyncpg.Connection, place_id: str, field: str = "place_id"
) -> Place:
    events = await reg.load(conn, place_stream(place_id))
    if not events:
        raise NotFound(field, f"no place {place_id}")
    return Place.from_events(events)


def _require_manager(caller: Caller, kind: str, community_id: str | None) -> None:
    if kind in ("sub_district", "community"):
        caller.staff.require("manage_district")
    else:
        caller.staff.require("manage_community", community_id)


async def add_place(
    reg: Registry,
    caller: Caller,
    *,
    place_id: str,
    kind: PlaceKind,
    name: str,
    parent_id: str | None,
) -> PlaceAdded:
    async def run(conn: asyncpg.Connection) -> PlaceAdded:
        parent = await load_place(reg, conn, parent_id, "parent_id") if parent_id else None
        _require_manager(caller, kind, parent.community_id if parent else None)
        added = new_place(place_id=place_id, kind=kind, name=name, parent=parent, at=reg.clock())
        if await reg.store.stream_version(place_stream(place_id), conn=conn):
            raise Conflict("place_id", f"place {place_id} exists already")
        await _append(reg, conn, caller, added.place_id, added.community_id, [added], 0)
        ancestry = Ancestry()
        if parent_id:
            parent_row = await reg.places.get(conn, parent_id)
            assert parent_row is not None
            ancestry = ancestry_of(parent_row)
        ancestry = Ancestry(**{**ancestry.as_dict(), "community_id": added.community_id})
        await reg.places.add(conn, [(added, ancestry)])
        return added

    return await reg.command(run)


async def _append(
    reg: Registry,
    conn: asyncpg.Connection,
    caller: Caller,
    place_id: str,
    community_id: str | None,
    events: list[DomainEvent],
    version: int,
) -> None:
    await reg.store.append(
        place_stream(place_id),
        [PendingEvent(e) for e in events],
        expected_version=version,
        metadata=reg.metadata(caller, community_id),
        partition_key=place_id,
        conn=conn,
    )


async def rename_place(
    reg: Registry, caller: Caller, place_id: str, name: str
) -> PlaceRenamed | None:
    """The renaming; None when the place has that name already (nothing recorded)."""

    async def run(conn: asyncpg.Connection) -> PlaceRenamed | None:
        place = await load_place(reg, conn, place_id)
        _require_manager(caller, place.kind, place.community_id)
        renamed = place.rename(name, reg.clock())
        if renamed is None:
            return None
        await _append(reg, conn, caller, place_id, place.community_id, [renamed], place.version)
        await reg.places.rename(conn, place_id, renamed.name)
        return renamed

    return await reg.command(run)


async def close_place(reg: Registry, caller: Caller, place_id: str, reason: str) -> PlaceClosed:
    async def run(conn: asyncpg.Connection) -> PlaceClosed:
        place = await load_place(reg, conn, place_id)
        _require_manager(caller, place.kind, place.community_id)
        closed = place.close(
            reason,
            open_children=await reg.places.open_children(conn, place_id),
            residents=len(await reg.residents.in_household(conn, place_id)),
            at=reg.clock(),
        )
        await _append(reg, conn, caller, place_id, place.community_id, [closed], place.version)
        await reg.places.close(conn, place_id, closed.closed_at)
        return closed

    return await reg.command(run)


async def merge_place(
    reg: Registry, caller: Caller, place_id: str, into_place_id: str
) -> PlaceMerged:
    """Merge a place into another; a merged household's residents move to the other one."""
    from cordon_registry.service.residents import move_within

    async def run(conn: asyncpg.Connection) -> PlaceMerged:
        place = await load_place(reg, conn, place_id)
        target = await load_place(reg, conn, into_place_id, "into_place_id")
        _require_manager(caller, place.kind, place.community_id)
        _require_manager(caller, target.kind, target.community_id)
        place.merge_into(target, [], reg.clock())  # checks the rules before anything moves
        if place.kind == "household":
            for person_id in await reg.residents.in_household(conn, place_id):
                await move_within(reg, conn, caller, person_id, into_place_id, None)
        children = await reg.places.merge(conn, place_id, place.kind, into_place_id, reg.clock())
        merged = place.merge_into(target, children, reg.clock())
        await _append(reg, conn, caller, place_id, place.community_id, [merged], place.version)
        return merged

    return await reg.command(run)


async def assign_staff(
    reg: Registry, caller: Caller, place_id: str, role: StaffRole, staff_id: str
) -> StaffAssigned | None:
    async def run(conn: asyncpg.Connection) -> StaffAssigned | None:
        place = await load_place(reg, conn, place_id)
        caller.staff.require("manage_community", place.community_id)
        assigned = place.assign(role, staff_id, reg.clock())
        if assigned is not None:
            await _append(
                reg, conn, caller, place_id, place.community_id, [assigned], place.version
            )
            await reg.places.assign(conn, place_id, role, staff_id, assigned.assigned_at)
        return assigned

    return await reg.command(run)


async def unassign_staff(
    reg: Registry, caller: Caller, place_id: str, role: StaffRole, staff_id: str
) -> StaffUnassigned:
    async def run(conn: asyncpg.Connection) -> StaffUnassigned:
        place = await load_place(reg, conn, place_id)
        caller.staff.require("manage_community", place.community_id)
        unassigned = place.unassign(role, staff_id, reg.clock())
        await _append(reg, conn, caller, place_id, place.community_id, [unassigned], place.version)
        await reg.places.unassign(conn, place_id, role, staff_id)
        return unassigned

    return await reg.command(run)


async def place_view(reg: Registry, caller: Caller, place_id: str) -> dict[str, Any]:
    """The place, its children and staff (no personal data)."""
    async with reg.connection() as conn:
        row = await reg.places.get(conn, place_id)
        if row is None:
            raise NotFound("place_id", f"no place {place_id}")
        caller.staff.require("read_places", row["community_id"])
        children = await reg.places.children(conn, place_id)
        return {
            **dict(row),
            "children": [
                {k: c[k] for k in ("place_id", "kind", "name", "status")} for c in children
            ],
            "staff": await reg.places.staff(conn, place_id),
        }


async def place_history(reg: Registry, caller: Caller, place_id: str) -> list[dict[str, Any]]:
    async with reg.connection() as conn:
        place = await load_place(reg, conn, place_id)
        caller.staff.require("read_places", place.community_id)
        envelopes = await reg.store.load_stream(place_stream(place_id), conn=conn)
    return [
        {
            "version": e.stream_version,
            "event_type": e.event_type,
            "occurred_at": e.occurred_at,
            "actor": e.actor,
            "event": e.payload.model_dump(mode="json"),
        }
        for e in envelopes
    ]

"""Use cases on residents: register, move, leave, ledgers, key persons, vaccine doses and
erasure. Each appends to the person's stream and updates the read model in one transaction."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import date
from typing import Any

import asyncpg

from cordon_contracts.registry import (
    KeyPersonCleared,
    KeyPersonFlagged,
    ResidentCategorized,
    ResidentLeft,
    ResidentMoved,
    VaccinationRecorded,
    VaccinationSource,
)
from cordon_core.envelope import DomainEvent, PendingEvent
from cordon_registry.adapters.crypto import KeyUnavailable
from cordon_registry.adapters.places_table import ANCESTRY
from cordon_registry.domain.errors import Conflict, NotFound
from cordon_registry.domain.events import PersonalDataErased
from cordon_registry.domain.identity import birth_date_of
from cordon_registry.domain.places import Ancestry
from cordon_registry.domain.residents import Household, Resident, checked_reason, person_stream
from cordon_registry.domain.staff import Permission
from cordon_registry.service.registration import (
    NewResident,
    document_hash,
    prepare,
    write_registrations,
)
from cordon_registry.service.unit import Caller, Registry

Decision = Callable[[asyncpg.Connection, Resident], Awaitable[list[DomainEvent]]]


async def household_of(reg: Registry, conn: asyncpg.Connection, household_id: str) -> Household:
    row = await reg.places.get(conn, household_id)
    if row is None or row["kind"] != "household":
        raise NotFound("household_id", f"no household {household_id}")
    if row["status"] != "open":
        raise Conflict("household_id", f"household {household_id} is {row['status']}")
    return Household(household_id, Ancestry(**{name: row[name] for name in ANCESTRY}))


async def register_resident(
    reg: Registry, caller: Caller, household_id: str, new: NewResident
) -> str:
    async def run(conn: asyncpg.Connection) -> str:
        household = await household_of(reg, conn, household_id)
        caller.staff.require("register_residents", household.community_id)
        known = await reg.residents.person_with_document(conn, [document_hash(reg, new.details)])
        if known:
            raise Conflict(
                "document_number", "this document already registers a person in the district"
            )
        stream, rows = prepare(reg, household, new, at=reg.clock())
        try:
            await write_registrations(
                reg, conn, [(stream, rows)], reg.metadata(caller, household.community_id)
            )
        except asyncpg.UniqueViolationError:  # the same document, registered concurrently
            raise Conflict(
                "document_number", "this document already registers a person in the district"
            ) from None
        return rows.registered.person_id

    return await reg.command(run)


async def load_resident(reg: Registry, conn: asyncpg.Connection, person_id: str) -> Resident:
    events = await reg.load(conn, person_stream(person_id))
    if not events:
        raise NotFound("person_id", f"no resident {person_id}")
    return Resident.from_events(events)


async def apply_to_tables(reg: Registry, conn: asyncpg.Connection, event: DomainEvent) -> None:
    """Keep the read model in step with a resident event just appended."""
    table = reg.residents
    if isinstance(event, ResidentMoved):
        to = {k: v for k, v in event.model_dump().items() if k.endswith("_id")}
        row = await table.get(conn, event.person_id)
        assert row is not None
        await table.move(
            conn, event.person_id, to, event.residence_type or row["residence_type"], event.moved_at
        )
    elif isinstance(event, ResidentLeft):
        await table.leave(conn, event.person_id, event.left_at)
    elif isinstance(event, ResidentCategorized):
        await table.set_categories(conn, event.person_id, list(event.categories))
    elif isinstance(event, KeyPersonFlagged):
        await table.set_key_person(conn, event.person_id, event.reason)
    elif isinstance(event, KeyPersonCleared):
        await table.set_key_person(conn, event.person_id, None)
    elif isinstance(event, VaccinationRecorded):
        await table.add_dose(
            conn,
            event.person_id,
            event.dose_number,
            event.vaccinated_on,
            event.vaccine,
            event.source,
        )
    elif isinstance(event, PersonalDataErased):
        await table.erase(conn, event.person_id, event.erased_at)


async def decide_for_resident(
    reg: Registry,
    conn: asyncpg.Connection,
    caller: Caller,
    person_id: str,
    permission: Permission,
    decide: Decision,
) -> list[DomainEvent]:
    resident = await load_resident(reg, conn, person_id)
    caller.staff.require(permission, resident.community_id)
    events = await decide(conn, resident)
    if events:
        await reg.store.append(
            person_stream(person_id),
            [PendingEvent(e) for e in events],
            expected_version=resident.version,
            metadata=reg.metadata(caller, resident.community_id),
            partition_key=person_id,
            conn=conn,
        )
        for event in events:
            await apply_to_tables(reg, conn, event)
    return events


async def change_resident(
    reg: Registry, caller: Caller, person_id: str, permission: Permission, decide: Decision
) -> list[DomainEvent]:
    async def run(conn: asyncpg.Connection) -> list[DomainEvent]:
        return await decide_for_resident(reg, conn, caller, person_id, permission, decide)

    return await reg.command(run)


async def move_within(
    reg: Registry,
    conn: asyncpg.Connection,
    caller: Caller,
    person_id: str,
    household_id: str,
    residence_type: str | None,
) -> list[DomainEvent]:
    async def decide(conn: asyncpg.Connection, resident: Resident) -> list[DomainEvent]:
        household = await household_of(reg, conn, household_id)
        caller.staff.require("register_residents", household.community_id)
        return [resident.move_to(household, residence_type, reg.clock())]

    return await decide_for_resident(reg, conn, caller, person_id, "register_residents", decide)


async def move_resident(
    reg: Registry, caller: Caller, person_id: str, household_id: str, residence_type: str | None
) -> ResidentMoved:
    async def run(conn: asyncpg.Connection) -> list[DomainEvent]:
        return await move_within(reg, conn, caller, person_id, household_id, residence_type)

    [moved] = await reg.command(run)
    assert isinstance(moved, ResidentMoved)
    return moved


async def resident_leaves(reg: Registry, caller: Caller, person_id: str, reason: str) -> None:
    async def decide(_: asyncpg.Connection, resident: Resident) -> list[DomainEvent]:
        return [resident.leave(reason, reg.clock())]

    await change_resident(reg, caller, person_id, "register_residents", decide)


async def set_categories(
    reg: Registry, caller: Caller, person_id: str, categories: list[str]
) -> None:
    async def decide(_: asyncpg.Connection, resident: Resident) -> list[DomainEvent]:
        changed = resident.categorize(categories, reg.clock())
        return [changed] if changed else []

    await change_resident(reg, caller, person_id, "register_residents", decide)


async def flag_key_person(reg: Registry, caller: Caller, person_id: str, reason: str) -> None:
    async def decide(_: asyncpg.Connection, resident: Resident) -> list[DomainEvent]:
        flagged = resident.flag_key_person(reason, reg.clock())
        return [flagged] if flagged else []

    await change_resident(reg, caller, person_id, "register_residents", decide)


async def clear_key_person(reg: Registry, caller: Caller, person_id: str, reason: str) -> None:
    async def decide(_: asyncpg.Connection, resident: Resident) -> list[DomainEvent]:
        return [resident.clear_key_person(reason, reg.clock())]

    await change_resident(reg, caller, person_id, "register_residents", decide)


async def record_dose(
    reg: Registry,
    conn: asyncpg.Connection,
    caller: Caller,
    person_id: str,
    dose: tuple[int, date, str | None],
    source: VaccinationSource,
) -> list[DomainEvent]:
    async def decide(conn: asyncpg.Connection, resident: Resident) -> list[DomainEvent]:
        number, on, vaccine = dose
        recorded = resident.record_dose(
            number, on, vaccine=vaccine, source=source, at=reg.clock(),
            born=await birth_date(reg, conn, person_id),
        )  # fmt: skip
        return [recorded] if recorded else []

    permission: Permission = "screen_households" if source == "screening" else "register_residents"
    return await decide_for_resident(reg, conn, caller, person_id, permission, decide)


async def birth_date(reg: Registry, conn: asyncpg.Connection, person_id: str) -> date | None:
    """The birth date in the person's resident ID, opened for a check and never shown (so
    not a read of personal data to audit); None for other documents or once erased."""
    return birth_date_in(reg, await reg.residents.get(conn, person_id))


def birth_date_in(reg: Registry, row: asyncpg.Record | None) -> date | None:
    """``birth_date`` from a row of ``reg.residents.get`` or ``many``."""
    if row is None or row["document_type"] != "resident_id" or row["wrapped_key"] is None:
        return None
    person_id = row["person_id"]
    try:
        key = reg.vault.unwrap(person_id, bytes(row["wrapped_key"]))
        number = reg.vault.open(key, person_id, "document_number", row["sealed_document_number"])
    except KeyUnavailable:
        return None
    return birth_date_of(number, today=date.max)


async def record_vaccination(
    reg: Registry,
    caller: Caller,
    person_id: str,
    dose_number: int,
    vaccinated_on: date,
    vaccine: str | None,
) -> bool:
    """Record a dose; False when that very dose was recorded already."""

    async def run(conn: asyncpg.Connection) -> list[DomainEvent]:
        return await record_dose(
            reg, conn, caller, person_id, (dose_number, vaccinated_on, vaccine), "registry"
        )

    return bool(await reg.command(run))


async def erase_personal_data(reg: Registry, caller: Caller, person_id: str, reason: str) -> None:
    """Crypto-shred a person: their data key is destroyed, counts and places stay."""

    async def decide(_: asyncpg.Connection, resident: Resident) -> list[DomainEvent]:
        if resident.erased:
            return []
        return [
            PersonalDataErased(
                person_id=person_id, reason=checked_reason(reason), erased_at=reg.clock()
            )
        ]

    await change_resident(reg, caller, person_id, "erase_personal_data", decide)


async def resident_record(reg: Registry, caller: Caller, person_id: str) -> dict[str, Any]:
    """Where the person lives and lived, ledgers and doses: no personal data, no audit."""
    async with reg.connection() as conn:
        row = await reg.residents.get(conn, person_id)
        if row is None:
            raise NotFound("person_id", f"no resident {person_id}")
        caller.staff.require("read_places", row["community_id"])
        return {
            **{k: row[k] for k in ("person_id", "household_id", "grid_id", "community_id")},
            **{k: row[k] for k in ("residence_type", "status", "categories", "key_person_reason")},
            "erased": row["erased_at"] is not None,
            "history": await reg.residents.history(conn, person_id),
            "vaccinations": await reg.residents.doses(conn, person_id),
        }


async def community_residents(
    reg: Registry,
    caller: Caller,
    community_id: str,
    *,
    category: str | None,
    key_persons: bool,
    grid_id: str | None = None,
    after: str | None = None,
    limit: int = 100,
) -> tuple[list[dict[str, Any]], int]:
    """A page of the community's residents (by person id, after ``after``) and the total."""
    caller.staff.require("read_places", community_id)
    async with reg.connection() as conn:
        return await reg.residents.in_community(
            conn, community_id, category=category, key_persons=key_persons,
            grid_id=grid_id, after=after, limit=limit,
        )  # fmt: skip


async def community_counts(reg: Registry, caller: Caller, community_id: str) -> dict[str, Any]:
    caller.staff.require("read_places", community_id)
    async with reg.connection() as conn:
        return await reg.residents.counts(conn, community_id)

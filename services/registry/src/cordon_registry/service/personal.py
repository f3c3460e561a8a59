"""Reading personal data: opened with the person's data key, scoped to the caller's
community, and every read written to the audit log in the same transaction."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import asyncpg

from cordon_registry.adapters.crypto import KeyUnavailable
from cordon_registry.adapters.staff_table import PersonalDataRead
from cordon_registry.domain.contact import normalise_name, normalise_phone
from cordon_registry.domain.errors import InvalidInput, NotFound
from cordon_registry.domain.identity import parse_document
from cordon_registry.service.unit import Caller, Registry

PERSONAL_FIELDS = ("name", "document_number", "phone", "address")
SearchField = Literal["name", "phone", "document"]


@dataclass(frozen=True, slots=True)
class ResidentCard:
    """A resident as staff see them: personal fields are None once erased."""

    person_id: str
    household_id: str
    grid_id: str
    community_id: str
    residence_type: str
    status: str
    categories: list[str]
    key_person_reason: str | None
    erased: bool
    document_type: str | None
    name: str | None
    document_number: str | None
    phone: str | None
    address: str | None


def _opened(reg: Registry, row: asyncpg.Record) -> dict[str, str | None]:
    person_id = row["person_id"]
    if row["wrapped_key"] is None:
        return dict.fromkeys(PERSONAL_FIELDS)
    try:
        key = reg.vault.unwrap(person_id, bytes(row["wrapped_key"]))
        return {
            field: None
            if row[f"sealed_{field}"] is None
            else reg.vault.open(key, person_id, field, row[f"sealed_{field}"])
            for field in PERSONAL_FIELDS
        }
    except KeyUnavailable:
        return dict.fromkeys(PERSONAL_FIELDS)


def card(reg: Registry, row: asyncpg.Record) -> ResidentCard:
    opened = _opened(reg, row)
    return ResidentCard(
        person_id=row["person_id"],
        household_id=row["household_id"],
        grid_id=row["grid_id"],
        community_id=row["community_id"],
        residence_type=row["residence_type"],
        status=row["status"],
        categories=list(row["categories"]),
        key_person_reason=row["key_person_reason"],
        erased=row["erased_at"] is not None,
        document_type=row["document_type"],
        **opened,
    )


async def _read(
    reg: Registry,
    conn: asyncpg.Connection,
    caller: Caller,
    rows: Sequence[asyncpg.Record],
    action: str,
) -> list[ResidentCard]:
    for row in rows:
        caller.staff.require("read_personal_data", row["community_id"])
    cards = [card(reg, row) for row in rows]
    reads = [
        PersonalDataRead(
            caller.staff,
            c.person_id,
            c.community_id,
            action,
            [f for f in PERSONAL_FIELDS if getattr(c, f) is not None],
        )
        for c in cards
    ]
    if reads:
        await reg.staff.audit(conn, reads, reg.clock(), caller.correlation_id)
    return cards


async def read_resident(reg: Registry, caller: Caller, person_id: str) -> ResidentCard:
    async with reg.transaction() as conn:
        row = await reg.residents.get(conn, person_id)
        if row is None:
            raise NotFound("person_id", f"no resident {person_id}")
        [found] = await _read(reg, conn, caller, [row], "read_resident")
        return found


async def household_residents(
    reg: Registry, caller: Caller, household_id: str
) -> list[ResidentCard]:
    async with reg.transaction() as conn:
        household = await reg.places.get(conn, household_id)
        if household is None or household["kind"] != "household":
            raise NotFound("household_id", f"no household {household_id}")
        caller.staff.require("read_personal_data", household["community_id"])
        rows = await reg.residents.many(conn, await reg.residents.in_household(conn, household_id))
        return await _read(reg, conn, caller, rows, "list_household")


def search_term(reg: Registry, field: SearchField, value: str, document_type: str) -> bytes:
    """The keyed hash to look up, from a value normalised as it was when registered."""
    if field == "name":
        return reg.vault.blind_index("name", normalise_name(value))
    if field == "phone":
        phone = normalise_phone(value)
        if phone is None:
            raise InvalidInput("phone", "is empty")
        return reg.vault.blind_index("phone", phone)
    document = parse_document(document_type, value, today=reg.clock().date())
    return reg.vault.blind_index("document", document.key)


async def search_residents(
    reg: Registry,
    caller: Caller,
    community_id: str,
    field: SearchField,
    value: str,
    document_type: str = "resident_id",
    *,
    after: str = "",
    limit: int | None = None,
) -> list[ResidentCard]:
    """Exact-match search by name, phone or document within one community: the page of
    at most ``limit`` people after ``after`` in person_id order (only they are audited)."""
    caller.staff.require("read_personal_data", community_id)
    term = search_term(reg, field, value, document_type)
    async with reg.transaction() as conn:
        found = await reg.residents.search(conn, community_id, field, term)
        page = [person for person in found if person > after][:limit]
        rows = await reg.residents.many(conn, page)
        return await _read(reg, conn, caller, rows, f"search_by_{field}")

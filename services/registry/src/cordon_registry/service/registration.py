"""Registering new residents, one from the API or thousands from a spreadsheet: the
events of each new person stream and the read-model rows, written in bulk."""

from __future__ import annotations

import secrets
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

import asyncpg

from cordon_core.envelope import DomainEvent, EventMetadata, PendingEvent
from cordon_core.store import StreamAppend
from cordon_registry.adapters.residents_table import RegistrationRows
from cordon_registry.adapters.search_tokens_table import PersonTokens
from cordon_registry.domain.contact import PersonalDetails
from cordon_registry.domain.events import PersonalDetailsRecorded
from cordon_registry.domain.residents import (
    Household,
    Resident,
    checked_categories,
    person_stream,
    registration,
)
from cordon_registry.service.search import token_hashes
from cordon_registry.service.unit import Registry

EVENT_IDS = uuid.UUID("2b0c8f4e-4d7a-4f0e-9b61-5a3f4e2c9d17")


@dataclass(frozen=True, slots=True)
class PendingStream:
    """The first events of a new stream (a person or a place)."""

    stream_id: str
    partition_key: str
    events: Sequence[PendingEvent]


@dataclass(frozen=True, slots=True)
class NewResident:
    details: PersonalDetails
    residence_type: str
    categories: Sequence[str] = ()
    key_person_reason: str | None = None


def new_person_id() -> str:
    """A random pseudonym: nothing about the person can be worked out from it."""
    return f"p-{secrets.token_hex(10)}"


def document_hash(reg: Registry, details: PersonalDetails) -> bytes:
    return reg.vault.blind_index("document", details.document.key)


def prepare(
    reg: Registry, household: Household, new: NewResident, *, at: datetime
) -> tuple[PendingStream, RegistrationRows]:
    """The events of a new person stream and its read-model rows, with fields sealed.

    Event ids are derived from the keyed document hash, so two imports of one file racing
    each other write the same events once.
    """
    person_id = new_person_id()
    doc_hash = document_hash(reg, new.details)
    key, wrapped = reg.vault.new_data_key(person_id)
    vault, d = reg.vault, new.details

    def seal(field: str, value: str | None) -> str | None:
        return None if value is None else vault.seal(key, person_id, field, value)

    sealed_name = vault.seal(key, person_id, "name", d.name)
    sealed_number = vault.seal(key, person_id, "document_number", d.document.number)
    sealed_phone, sealed_address = seal("phone", d.phone), seal("address", d.address)
    registered = registration(person_id, household, new.residence_type, at)
    resident = Resident.from_events([registered])
    events: list[DomainEvent] = [
        PersonalDetailsRecorded(
            person_id=person_id,
            document_type=d.document.type,
            sealed_name=sealed_name,
            sealed_document_number=sealed_number,
            sealed_phone=sealed_phone,
            sealed_address=sealed_address,
            recorded_at=at,
        ),
        registered,
    ]
    categories = checked_categories(new.categories)
    if categorized := resident.categorize(categories, at):
        events.append(categorized)
    if new.key_person_reason and (flagged := resident.flag_key_person(new.key_person_reason, at)):
        events.append(flagged)
    seed = doc_hash.hex()
    stream = PendingStream(
        stream_id=person_stream(person_id),
        partition_key=person_id,
        events=[
            PendingEvent(e, event_id=uuid.uuid5(EVENT_IDS, f"{seed}/{n}"), occurred_at=at)
            for n, e in enumerate(events)
        ],
    )
    terms = [("name", vault.blind_index("name", d.name)), ("document", doc_hash)]
    if d.phone:
        terms.append(("phone", vault.blind_index("phone", d.phone)))
    rows = RegistrationRows(
        registered=registered,
        categories=categories,
        key_person_reason=resident.key_person_reason,
        wrapped_key=wrapped,
        sealed=(d.document.type, sealed_name, sealed_number, sealed_phone, sealed_address),
        document_hash=doc_hash,
        search_terms=terms,
        search_tokens=token_hashes(vault, d.name, d.phone, d.document.number),
    )
    return stream, rows


async def write_registrations(
    reg: Registry,
    conn: asyncpg.Connection,
    prepared: Sequence[tuple[PendingStream, RegistrationRows]],
    metadata: EventMetadata,
    extra_streams: Sequence[PendingStream] = (),
) -> int:
    """Append the new streams (one statement for all) and write their rows, in the
    caller's transaction; returns the number of events in the streams."""
    streams = [*extra_streams, *(s for s, _ in prepared)]
    await reg.store.append_many(
        [
            StreamAppend(s.stream_id, s.events, 0, metadata, partition_key=s.partition_key)
            for s in streams
        ],
        conn=conn,
    )
    await reg.residents.register(conn, [rows for _, rows in prepared])
    await reg.search_tokens.add(
        conn,
        [
            PersonTokens(r.registered.community_id, r.registered.person_id, r.search_tokens)
            for _, r in prepared
        ],
    )
    return sum(len(s.events) for s in streams)

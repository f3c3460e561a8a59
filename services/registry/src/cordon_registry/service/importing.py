"""Importing a community's spreadsheet: every row checked, every bad row reported, the
good ones registered in batches (one transaction each), and a second import of the same
file changing nothing."""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from functools import partial
from typing import Any

import asyncpg
import structlog

from cordon_contracts.registry import PlaceAdded
from cordon_core.envelope import PendingEvent
from cordon_registry.adapters.places_table import ancestry_of
from cordon_registry.domain.errors import InvalidInput, NotFound
from cordon_registry.domain.importing import (
    ImportedResident,
    RowError,
    missing_columns,
    parse_rows,
    place_id,
)
from cordon_registry.domain.places import Ancestry, place_stream
from cordon_registry.domain.residents import Household
from cordon_registry.service.registration import (
    NewResident,
    PendingStream,
    document_hash,
    prepare,
    write_registrations,
)
from cordon_registry.service.unit import Caller, Registry

log = structlog.get_logger(__name__)
PLACE_EVENT_IDS = uuid.UUID("f3a1b6d2-77c4-4e0b-8a9d-1b2c3d4e5f60")
PlaceKey = tuple[str, str, str]
"""(parent id, kind, name): how an existing place is recognised in a spreadsheet."""


@dataclass
class ImportReport:
    rows: int = 0
    registered: int = 0
    already_registered: int = 0
    places_added: int = 0
    events_written: int = 0
    errors: list[RowError] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {
            "rows": self.rows,
            "registered": self.registered,
            "already_registered": self.already_registered,
            "places_added": self.places_added,
            "events_written": self.events_written,
            "errors": [{"row": e.row, "column": e.column, "reason": e.reason} for e in self.errors],
        }


@dataclass
class _PlaceIndex:
    """The community's open places, by (parent, kind, name), with their ancestry."""

    ids: dict[PlaceKey, str]
    ancestry: dict[str, Ancestry]


async def import_rows(
    reg: Registry,
    caller: Caller,
    community_id: str,
    columns: Sequence[str],
    rows: Sequence[tuple[int, Mapping[str, str]]],
) -> ImportReport:
    caller.staff.require("register_residents", community_id)
    report = ImportReport(rows=len(rows), errors=missing_columns(columns))
    if report.errors:
        return report
    good, report.errors = parse_rows(rows, community_id=community_id, today=reg.clock().date())
    index = await _place_index(reg, community_id)
    for start in range(0, len(good), reg.import_batch_size):
        batch = good[start : start + reg.import_batch_size]
        await reg.command(partial(_import_batch, reg, caller, community_id, batch, index, report))
    log.info(
        "import_finished",
        community_id=community_id,
        rows=report.rows,
        registered=report.registered,
        already_registered=report.already_registered,
        bad_rows=len({e.row for e in report.errors}),
    )
    return report


async def _place_index(reg: Registry, community_id: str) -> _PlaceIndex:
    async with reg.connection() as conn:
        community = await reg.places.get(conn, community_id)
        if community is None or community["kind"] != "community":
            raise NotFound("community_id", f"no community {community_id}")
        if community["status"] != "open":
            raise InvalidInput("community_id", f"community {community_id} is {community['status']}")
        rows = await conn.fetch(
            f"SELECT * FROM {reg.store.schema}.places WHERE community_id = $1 AND status = 'open'"
            " AND kind <> 'community'",
            community_id,
        )
    index = _PlaceIndex({}, {community_id: ancestry_of(community)})
    for row in rows:
        index.ids[(row["parent_id"], row["kind"], row["name"])] = row["place_id"]
        index.ancestry[row["place_id"]] = ancestry_of(row)
    return index


async def _import_batch(
    reg: Registry,
    caller: Caller,
    community_id: str,
    batch: Sequence[ImportedResident],
    index: _PlaceIndex,
    report: ImportReport,
    conn: asyncpg.Connection,
) -> None:
    """One transaction: the batch's new places and residents, or (on failure) nothing."""
    at = reg.clock()
    hashes = [document_hash(reg, r.details) for r in batch]
    known = await reg.residents.person_with_document(conn, hashes)
    # Work on a copy: if this transaction fails and is retried, nothing leaked into the index.
    draft = _PlaceIndex(dict(index.ids), dict(index.ancestry))
    place_streams: list[PendingStream] = []
    added: list[tuple[PlaceAdded, Ancestry]] = []
    prepared = []
    for resident, doc_hash in zip(batch, hashes, strict=True):
        if doc_hash in known:
            continue
        household_id = _resolve_places(resident, community_id, draft, at, place_streams, added)
        household = Household(household_id, draft.ancestry[household_id])
        new = NewResident(
            resident.details,
            resident.residence_type,
            resident.categories,
            resident.key_person_reason,
        )
        prepared.append(prepare(reg, household, new, at=at))
    written = await write_registrations(
        reg, conn, prepared, reg.metadata(caller, community_id), place_streams
    )
    await reg.places.add(conn, added)
    index.ids, index.ancestry = draft.ids, draft.ancestry
    report.already_registered += len(batch) - len(prepared)
    report.registered += len(prepared)
    report.places_added += len(added)
    report.events_written += written


def _resolve_places(
    resident: ImportedResident,
    community_id: str,
    index: _PlaceIndex,
    at: datetime,
    streams: list[PendingStream],
    added: list[tuple[PlaceAdded, Ancestry]],
) -> str:
    """The row's household id: existing places found by name, missing ones added."""
    parent, path = community_id, tuple[str, ...]()
    for place in resident.places:
        path = (*path, f"{place.kind}:{place.name}")
        key = (parent, place.kind, place.name)
        the_id = index.ids.get(key)
        if the_id is None:
            the_id = place_id(community_id, place.kind, path)
            event = PlaceAdded(
                place_id=the_id,
                kind=place.kind,
                parent_id=parent,
                community_id=community_id,
                name=place.name,
                added_at=at,
            )
            event_id = uuid.uuid5(PLACE_EVENT_IDS, the_id)
            streams.append(
                PendingStream(place_stream(the_id), the_id, [PendingEvent(event, event_id, at)])
            )
            # A place's row keeps its ancestors' ids: those its parent hands down.
            added.append((event, index.ancestry[parent]))
            index.ids[key] = the_id
            index.ancestry[the_id] = index.ancestry[parent].below(place.kind, the_id)
        parent = the_id
    return parent

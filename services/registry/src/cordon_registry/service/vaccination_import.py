"""Recording a community's spreadsheet of vaccine doses: every row checked, every refused
row reported with its column, the good ones recorded in batches (one transaction each),
and a second import of the same file recording nothing."""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import partial
from typing import Any

import asyncpg
import structlog

from cordon_core.envelope import PendingEvent
from cordon_core.store import StreamAppend
from cordon_registry.domain.errors import NotFound, RegistryError
from cordon_registry.domain.importing import RowError
from cordon_registry.domain.residents import Resident, person_stream
from cordon_registry.domain.vaccination_import import (
    ImportedDose,
    error_order,
    missing_columns,
    parse_dose_rows,
)
from cordon_registry.service.residents import birth_date_in
from cordon_registry.service.unit import Caller, Registry

log = structlog.get_logger(__name__)
DOSE_EVENT_IDS = uuid.UUID("5b0e8f7c-2d7a-4c1e-9f43-0a6d2c8e91b4")
"""Event ids of imported doses derive from person, dose and day: two imports of one file
racing each other record each dose once."""


@dataclass
class VaccinationImportReport:
    rows: int = 0
    recorded: int = 0
    already_recorded: int = 0
    errors: list[RowError] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {
            "rows": self.rows,
            "recorded": self.recorded,
            "already_recorded": self.already_recorded,
            "refused_rows": len({e.row for e in self.errors}),
            "errors": [{"row": e.row, "column": e.column, "reason": e.reason} for e in self.errors],
        }


@dataclass
class _BatchOutcome:
    recorded: int = 0
    already_recorded: int = 0
    errors: list[RowError] = field(default_factory=list)


async def import_doses(
    reg: Registry,
    caller: Caller,
    community_id: str,
    columns: Sequence[str],
    rows: Sequence[tuple[int, Mapping[str, str]]],
) -> VaccinationImportReport:
    caller.staff.require("register_residents", community_id)
    async with reg.connection() as conn:
        community = await reg.places.get(conn, community_id)
    if community is None or community["kind"] != "community":
        raise NotFound("community_id", f"no community {community_id}")
    report = VaccinationImportReport(rows=len(rows), errors=missing_columns(columns))
    if report.errors:
        return report
    good, errors = parse_dose_rows(rows, today=reg.clock().date())
    # Every first dose before any second one: a person's doses may come in any row order,
    # and a dose is only accepted after the one before it.
    good.sort(key=lambda dose: dose.dose_number)
    for start in range(0, len(good), reg.import_batch_size):
        batch = good[start : start + reg.import_batch_size]
        outcome = await reg.command(partial(_record_batch, reg, caller, community_id, batch))
        report.recorded += outcome.recorded
        report.already_recorded += outcome.already_recorded
        errors.extend(outcome.errors)
    report.errors = sorted(errors, key=error_order)
    log.info(
        "vaccination_import_finished",
        community_id=community_id,
        rows=report.rows,
        recorded=report.recorded,
        already_recorded=report.already_recorded,
        refused_rows=len({e.row for e in report.errors}),
    )
    return report


async def _record_batch(
    reg: Registry,
    caller: Caller,
    community_id: str,
    batch: Sequence[ImportedDose],
    conn: asyncpg.Connection,
) -> _BatchOutcome:
    """One transaction: load the batch's people, decide each row, append every new dose.
    Nothing outside the returned outcome changes, so a rerun after a conflict is clean."""
    outcome = _BatchOutcome()
    named = await _people_named(reg, conn, community_id, batch, outcome.errors)
    people = list({person_id for _, person_id in named})
    streams = await reg.store.load_streams([person_stream(p) for p in people], conn=conn)
    residents = {
        p: Resident.from_events([e.payload for e in streams[person_stream(p)]])
        for p in people
        if streams[person_stream(p)]  # an empty stream: no such resident
    }
    versions = {p: r.version for p, r in residents.items()}
    born = {
        row["person_id"]: birth_date_in(reg, row) for row in await reg.residents.many(conn, people)
    }
    at = reg.clock()
    pending: dict[str, list[PendingEvent]] = {}
    doses: list[tuple[str, int, Any, str | None, str]] = []
    for dose, person_id in named:
        resident = residents.get(person_id)
        if resident is None or resident.community_id != community_id:
            # Unknown and "someone else's" read the same: the answer tells nothing about them.
            outcome.errors.append(_not_here(dose, community_id))
            continue
        try:
            recorded = resident.record_dose(
                dose.dose_number, dose.vaccinated_on, vaccine=dose.vaccine, source="registry",
                at=at, born=born.get(person_id),
            )  # fmt: skip
        except RegistryError as refused:
            outcome.errors.append(RowError(dose.row, refused.field, refused.reason))
            continue
        if recorded is None:
            outcome.already_recorded += 1
            continue
        resident.apply(recorded)
        event_id = uuid.uuid5(
            DOSE_EVENT_IDS, f"{person_id}:{dose.dose_number}:{dose.vaccinated_on}"
        )
        pending.setdefault(person_id, []).append(PendingEvent(recorded, event_id, at))
        doses.append(
            (person_id, dose.dose_number, dose.vaccinated_on, recorded.vaccine, "registry")
        )
    metadata = reg.metadata(caller, community_id)
    await reg.store.append_many(
        [
            StreamAppend(person_stream(p), events, versions[p], metadata, p)
            for p, events in pending.items()
        ],
        conn=conn,
    )
    await reg.residents.add_doses(conn, doses)
    outcome.recorded = len(doses)
    return outcome


async def _people_named(
    reg: Registry,
    conn: asyncpg.Connection,
    community_id: str,
    batch: Sequence[ImportedDose],
    errors: list[RowError],
) -> list[tuple[ImportedDose, str]]:
    """Each row with the person id it names; a document is looked up by its keyed hash, and
    a row giving both a person id and a document must name one person by both."""
    hashes = {d.row: reg.vault.blind_index("document", d.document.key) for d in batch if d.document}
    by_document = await reg.residents.person_with_document(conn, list(set(hashes.values())))
    named = []
    for dose in batch:
        found = by_document.get(hashes[dose.row]) if dose.row in hashes else None
        if dose.person_id is not None and dose.row in hashes and found != dose.person_id:
            reason = "does not name the same person as person_id"
            errors.append(RowError(dose.row, "document_number", reason))
            continue
        person_id = dose.person_id or found
        if person_id is None:
            errors.append(_not_here(dose, community_id))
            continue
        named.append((dose, person_id))
    return named


def _not_here(dose: ImportedDose, community_id: str) -> RowError:
    if dose.person_id is not None:
        return RowError(dose.row, "person_id", f"no resident {dose.person_id} in {community_id}")
    return RowError(
        dose.row, "document_number", f"no resident with this document in {community_id}"
    )

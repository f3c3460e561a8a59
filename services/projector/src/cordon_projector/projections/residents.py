"""Projection ``residents``: where each person lives now and how many vaccine doses they
have had, from the registry. The four-colour map and the three-colour card read it."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime

import asyncpg

from cordon_contracts.registry import (
    ResidentLeft,
    ResidentMoved,
    ResidentRegistered,
    VaccinationRecorded,
)
from cordon_core.envelope import Envelope

Residence = tuple[str, str, str, str, str, str, str, str | None, str, bool, datetime]


class ResidentsProjection:
    name = "residents"
    reads_from = ("registry",)
    event_types = tuple(
        m.event_type for m in (ResidentRegistered, ResidentMoved, ResidentLeft, VaccinationRecorded)
    )

    def __init__(self, schema: str) -> None:
        self.schema = schema

    async def apply_batch(self, conn: asyncpg.Connection, envelopes: Sequence[Envelope]) -> None:
        # A person's events share a partition, so within a batch the last one is the newest.
        residences: dict[str, Residence] = {}
        departures: dict[str, datetime] = {}
        doses: dict[str, tuple[int, date]] = {}
        for envelope in envelopes:
            event = envelope.payload
            if isinstance(event, ResidentRegistered | ResidentMoved):
                since = (
                    event.registered_at if isinstance(event, ResidentRegistered) else event.moved_at
                )
                departures.pop(event.person_id, None)
                residences[event.person_id] = (
                    event.person_id,
                    envelope.district,
                    event.sub_district_id,
                    event.community_id,
                    event.grid_id,
                    event.compound_id,
                    event.building_id,
                    event.unit_id,
                    event.household_id,
                    True,
                    since,
                )
            elif isinstance(event, ResidentLeft):
                pending = residences.get(event.person_id)
                if pending is None:
                    departures[event.person_id] = event.left_at
                else:  # registered and gone within this batch: the row must still exist
                    residences[event.person_id] = (*pending[:9], False, event.left_at)
            elif isinstance(event, VaccinationRecorded):
                known = doses.get(event.person_id)
                if known is None or event.dose_number > known[0]:
                    doses[event.person_id] = (event.dose_number, event.vaccinated_on)
        if residences:
            await conn.execute(
                f"""INSERT INTO {self.schema}.resident AS r
                    SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[],
                        $5::text[], $6::text[], $7::text[], $8::text[], $9::text[],
                        $10::boolean[], $11::timestamptz[])
                    ON CONFLICT (person_id) DO UPDATE SET district = EXCLUDED.district,
                        sub_district_id = EXCLUDED.sub_district_id,
                        community_id = EXCLUDED.community_id, grid_id = EXCLUDED.grid_id,
                        compound_id = EXCLUDED.compound_id, building_id = EXCLUDED.building_id,
                        unit_id = EXCLUDED.unit_id, household_id = EXCLUDED.household_id,
                        present = EXCLUDED.present, since = EXCLUDED.since""",
                *map(list, zip(*residences.values(), strict=True)),
            )
        if departures:
            await conn.execute(
                f"""UPDATE {self.schema}.resident r SET present = false, since = d.at
                    FROM unnest($1::text[], $2::timestamptz[]) AS d(person_id, at)
                    WHERE r.person_id = d.person_id""",
                list(departures),
                list(departures.values()),
            )
        if doses:
            await conn.execute(
                f"""INSERT INTO {self.schema}.resident_dose AS d
                    SELECT * FROM unnest($1::text[], $2::int[], $3::date[])
                    ON CONFLICT (person_id) DO UPDATE
                    SET doses = greatest(d.doses, EXCLUDED.doses),
                        last_dose = CASE WHEN EXCLUDED.doses > d.doses
                                         THEN EXCLUDED.last_dose ELSE d.last_dose END""",
                list(doses),
                [d[0] for d in doses.values()],
                [d[1] for d in doses.values()],
            )

    async def reset(self, conn: asyncpg.Connection) -> None:
        await conn.execute(f"TRUNCATE {self.schema}.resident, {self.schema}.resident_dose")

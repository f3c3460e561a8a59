"""The residents read model: where each person lives, their ledgers and doses, and their
sealed personal details with the keyed hashes that find them."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

import asyncpg

from cordon_contracts.registry import ResidentRegistered

RESIDENT_COLUMNS = (
    "person_id",
    "household_id",
    "unit_id",
    "building_id",
    "compound_id",
    "grid_id",
    "community_id",
    "sub_district_id",
    "residence_type",
    "categories",
    "key_person_reason",
    "registered_at",
)
DETAIL_COLUMNS = (
    "person_id",
    "document_type",
    "sealed_name",
    "sealed_document_number",
    "sealed_phone",
    "sealed_address",
)


@dataclass(frozen=True, slots=True)
class RegistrationRows:
    """Everything the read model keeps about one newly registered person."""

    registered: ResidentRegistered
    categories: Sequence[str]
    key_person_reason: str | None
    wrapped_key: bytes
    sealed: tuple[str, str, str, str | None, str | None]
    """document type, name, document number, phone, address (all but the type sealed)."""
    document_hash: bytes
    search_terms: Sequence[tuple[str, bytes]]
    search_tokens: Sequence[bytes] = ()
    """Keyed hashes of the partial, pinyin and last-digits search tokens."""


class ResidentsTable:
    def __init__(self, schema: str, district: str) -> None:
        self.schema = schema
        self.district = district

    async def person_with_document(
        self, conn: asyncpg.Connection, hashes: Sequence[bytes]
    ) -> dict[bytes, str]:
        rows = await conn.fetch(
            f"SELECT document_hash, person_id FROM {self.schema}.documents"
            " WHERE district = $1 AND document_hash = ANY($2::bytea[])",
            self.district,
            list(hashes),
        )
        return {bytes(r["document_hash"]): r["person_id"] for r in rows}

    async def register(self, conn: asyncpg.Connection, rows: Sequence[RegistrationRows]) -> None:
        """Multi-row writes of a batch of registrations (COPY, one per table)."""
        if not rows:
            return
        copy = conn.copy_records_to_table
        s = self.schema
        residents = []
        for r in rows:
            e = r.registered
            residents.append(
                (
                    e.person_id, e.household_id, e.unit_id, e.building_id, e.compound_id, e.grid_id,
                    e.community_id, e.sub_district_id, e.residence_type, list(r.categories),
                    r.key_person_reason, e.registered_at,
                )
            )  # fmt: skip
        await copy("residents", schema_name=s, columns=RESIDENT_COLUMNS, records=residents)
        await copy(
            "residence_history",
            schema_name=s,
            columns=("person_id", "household_id", "community_id", "residence_type", "moved_in_at"),
            records=[
                (e.person_id, e.household_id, e.community_id, e.residence_type, e.registered_at)
                for e in (r.registered for r in rows)
            ],
        )
        await copy(
            "person_keys",
            schema_name=s,
            columns=("person_id", "wrapped_key"),
            records=[(r.registered.person_id, r.wrapped_key) for r in rows],
        )
        await copy(
            "personal_details",
            schema_name=s,
            columns=DETAIL_COLUMNS,
            records=[(r.registered.person_id, *r.sealed) for r in rows],
        )
        await copy(
            "documents",
            schema_name=s,
            columns=("district", "document_hash", "person_id"),
            records=[(self.district, r.document_hash, r.registered.person_id) for r in rows],
        )
        await copy(
            "search_terms",
            schema_name=s,
            columns=("community_id", "field", "term_hash", "person_id"),
            records=[
                (r.registered.community_id, field, term, r.registered.person_id)
                for r in rows
                for field, term in r.search_terms
            ],
        )

    async def get(self, conn: asyncpg.Connection, person_id: str) -> asyncpg.Record | None:
        return await conn.fetchrow(
            f"""SELECT r.*, d.document_type, d.sealed_name, d.sealed_document_number,
                       d.sealed_phone, d.sealed_address, k.wrapped_key
                FROM {self.schema}.residents r
                LEFT JOIN {self.schema}.personal_details d USING (person_id)
                LEFT JOIN {self.schema}.person_keys k USING (person_id)
                WHERE r.person_id = $1""",
            person_id,
        )

    async def many(
        self, conn: asyncpg.Connection, person_ids: Sequence[str]
    ) -> list[asyncpg.Record]:
        rows: list[asyncpg.Record] = await conn.fetch(
            f"""SELECT r.*, d.document_type, d.sealed_name, d.sealed_document_number,
                       d.sealed_phone, d.sealed_address, k.wrapped_key
                FROM {self.schema}.residents r
                LEFT JOIN {self.schema}.personal_details d USING (person_id)
                LEFT JOIN {self.schema}.person_keys k USING (person_id)
                WHERE r.person_id = ANY($1::text[]) ORDER BY r.person_id""",
            list(person_ids),
        )
        return rows

    async def in_household(self, conn: asyncpg.Connection, household_id: str) -> list[str]:
        rows = await conn.fetch(
            f"SELECT person_id FROM {self.schema}.residents"
            " WHERE household_id = $1 AND status = 'active' ORDER BY person_id",
            household_id,
        )
        return [r["person_id"] for r in rows]

    async def in_community(
        self,
        conn: asyncpg.Connection,
        community_id: str,
        *,
        category: str | None,
        key_persons: bool,
        grid_id: str | None = None,
        after: str | None = None,
        limit: int = 100,
    ) -> tuple[list[dict[str, Any]], int]:
        """A page of the community's active residents by person id (those after ``after``),
        and how many the filters keep in all."""
        kept = f"""FROM {self.schema}.residents
                WHERE community_id = $1 AND status = 'active'
                  AND ($2::text IS NULL OR $2 = ANY(categories))
                  AND (NOT $3 OR key_person_reason IS NOT NULL)
                  AND ($4::text IS NULL OR grid_id = $4)"""
        filters = (community_id, category, key_persons, grid_id)
        total: int = await conn.fetchval(f"SELECT count(*) {kept}", *filters)
        rows = await conn.fetch(
            f"""SELECT person_id, household_id, grid_id, residence_type, categories,
                       key_person_reason {kept}
                  AND ($5::text IS NULL OR person_id > $5)
                ORDER BY person_id LIMIT $6""",
            *filters,
            after,
            limit,
        )
        return [dict(r) for r in rows], total

    async def search(
        self, conn: asyncpg.Connection, community_id: str, field: str, term: bytes
    ) -> list[str]:
        rows = await conn.fetch(
            f"SELECT DISTINCT person_id FROM {self.schema}.search_terms"
            " WHERE community_id = $1 AND field = $2 AND term_hash = $3",
            community_id,
            field,
            term,
        )
        return sorted(r["person_id"] for r in rows)

    async def move(
        self,
        conn: asyncpg.Connection,
        person_id: str,
        to: dict[str, str | None],
        residence_type: str,
        at: datetime,
    ) -> None:
        s = self.schema
        await conn.execute(
            f"""UPDATE {s}.residents SET household_id = $2, unit_id = $3, building_id = $4,
                    compound_id = $5, grid_id = $6, community_id = $7, sub_district_id = $8,
                    residence_type = $9 WHERE person_id = $1""",
            person_id,
            to["household_id"],
            to["unit_id"],
            to["building_id"],
            to["compound_id"],
            to["grid_id"],
            to["community_id"],
            to["sub_district_id"],
            residence_type,
        )
        for index in ("search_terms", "search_tokens"):
            await conn.execute(
                f"UPDATE {s}.{index} SET community_id = $2 WHERE person_id = $1",
                person_id,
                to["community_id"],
            )
        await self._end_residence(conn, person_id, at)
        await conn.execute(
            f"INSERT INTO {s}.residence_history (person_id, household_id, community_id,"
            " residence_type, moved_in_at) VALUES ($1, $2, $3, $4, $5)",
            person_id,
            to["household_id"],
            to["community_id"],
            residence_type,
            at,
        )

    async def _end_residence(self, conn: asyncpg.Connection, person_id: str, at: datetime) -> None:
        await conn.execute(
            f"UPDATE {self.schema}.residence_history SET moved_out_at = $2"
            " WHERE person_id = $1 AND moved_out_at IS NULL",
            person_id,
            at,
        )

    async def leave(self, conn: asyncpg.Connection, person_id: str, at: datetime) -> None:
        await conn.execute(
            f"UPDATE {self.schema}.residents SET status = 'left', left_at = $2"
            " WHERE person_id = $1",
            person_id,
            at,
        )
        await self._end_residence(conn, person_id, at)

    async def history(self, conn: asyncpg.Connection, person_id: str) -> list[dict[str, Any]]:
        rows = await conn.fetch(
            f"SELECT household_id, community_id, residence_type, moved_in_at, moved_out_at"
            f" FROM {self.schema}.residence_history WHERE person_id = $1 ORDER BY entry_id",
            person_id,
        )
        return [dict(r) for r in rows]

    async def set_categories(
        self, conn: asyncpg.Connection, person_id: str, categories: list[str]
    ) -> None:
        await conn.execute(
            f"UPDATE {self.schema}.residents SET categories = $2 WHERE person_id = $1",
            person_id,
            categories,
        )

    async def set_key_person(
        self, conn: asyncpg.Connection, person_id: str, reason: str | None
    ) -> None:
        await conn.execute(
            f"UPDATE {self.schema}.residents SET key_person_reason = $2 WHERE person_id = $1",
            person_id,
            reason,
        )

    async def add_dose(
        self,
        conn: asyncpg.Connection,
        person_id: str,
        dose: int,
        on: date,
        vaccine: str | None,
        source: str,
    ) -> None:
        await conn.execute(
            f"INSERT INTO {self.schema}.vaccinations VALUES ($1, $2, $3, $4, $5)",
            person_id,
            dose,
            on,
            vaccine,
            source,
        )

    async def add_doses(
        self, conn: asyncpg.Connection, doses: Sequence[tuple[str, int, date, str | None, str]]
    ) -> None:
        """Many ``add_dose`` rows (person, dose, day, vaccine, source) in one statement."""
        if not doses:
            return
        await conn.execute(
            f"INSERT INTO {self.schema}.vaccinations"
            " SELECT * FROM unnest($1::text[], $2::int[], $3::date[], $4::text[], $5::text[])",
            *(list(column) for column in zip(*doses, strict=True)),
        )

    async def doses(self, conn: asyncpg.Connection, person_id: str) -> list[dict[str, Any]]:
        rows = await conn.fetch(
            f"SELECT dose_number, vaccinated_on, vaccine, source FROM {self.schema}.vaccinations"
            " WHERE person_id = $1 ORDER BY dose_number",
            person_id,
        )
        return [dict(r) for r in rows]

    async def erase(self, conn: asyncpg.Connection, person_id: str, at: datetime) -> None:
        """Shred: the data key goes, and with it every sealed copy; hashes go too."""
        s = self.schema
        for table in (
            "person_keys",
            "personal_details",
            "documents",
            "search_terms",
            "search_tokens",
        ):
            await conn.execute(f"DELETE FROM {s}.{table} WHERE person_id = $1", person_id)
        await conn.execute(
            f"UPDATE {s}.residents SET erased_at = $2 WHERE person_id = $1", person_id, at
        )

    async def counts(self, conn: asyncpg.Connection, community_id: str) -> dict[str, Any]:
        s = self.schema
        row = await conn.fetchrow(
            f"""SELECT count(*) AS residents, count(DISTINCT household_id) AS households,
                       count(*) FILTER (WHERE key_person_reason IS NOT NULL) AS key_persons,
                       count(*) FILTER (WHERE erased_at IS NOT NULL) AS erased
                FROM {s}.residents WHERE community_id = $1 AND status = 'active'""",
            community_id,
        )
        categories = await conn.fetch(
            f"""SELECT c AS category, count(*) AS residents FROM {s}.residents, unnest(categories) c
                WHERE community_id = $1 AND status = 'active' GROUP BY c ORDER BY c""",
            community_id,
        )
        doses = await conn.fetch(
            f"""SELECT doses, count(*) AS residents FROM (
                    SELECT r.person_id, count(v.dose_number) AS doses FROM {s}.residents r
                    LEFT JOIN {s}.vaccinations v USING (person_id)
                    WHERE r.community_id = $1 AND r.status = 'active' GROUP BY r.person_id) d
                GROUP BY doses ORDER BY doses""",
            community_id,
        )
        assert row is not None
        return {
            **dict(row),
            "by_category": {r["category"]: r["residents"] for r in categories},
            "by_doses": {str(r["doses"]): r["residents"] for r in doses},
        }

"""Looking up where people live, who looks after them and how recipients are reached."""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass

import asyncpg

from cordon_notification.domain.contacts import Contact
from cordon_notification.domain.delivery import QuietHours


@dataclass(frozen=True)
class Residence:
    person_id: str
    household_id: str
    building_id: str
    grid_id: str
    community_id: str
    sub_district_id: str
    local_staff: tuple[str, ...]
    """Grid workers of the person's grid and building heads of their building."""


class Directory:
    def __init__(self, schema: str) -> None:
        self.schema = schema

    async def residences(
        self, conn: asyncpg.Connection | asyncpg.Pool, person_ids: Iterable[str]
    ) -> dict[str, Residence]:
        rows = await conn.fetch(
            f"""SELECT r.*, coalesce(
                       (SELECT json_agg(a.staff_id ORDER BY a.staff_id)
                        FROM {self.schema}.assignments a
                        WHERE (a.place_id = r.grid_id AND a.role = 'grid_worker')
                           OR (a.place_id = r.building_id AND a.role = 'building_head')),
                       '[]') AS staff
                FROM {self.schema}.residents r WHERE r.person_id = ANY($1::text[])""",
            list(set(person_ids)),
        )
        return {
            r["person_id"]: Residence(
                **{k: v for k, v in r.items() if k != "staff"},
                local_staff=tuple(dict.fromkeys(json.loads(r["staff"]))),
            )
            for r in rows
        }

    async def isolated_in(
        self, conn: asyncpg.Connection | asyncpg.Pool, person_ids: Iterable[str]
    ) -> dict[str, str]:
        """The community that ordered each person's isolation (their active order's, else
        any): where a person the registry does not know is looked after."""
        rows = await conn.fetch(
            f"""SELECT DISTINCT ON (person_id) person_id, community_id
                FROM {self.schema}.isolation_orders WHERE person_id = ANY($1::text[])
                ORDER BY person_id, active DESC, order_id""",
            list(set(person_ids)),
        )
        return {r["person_id"]: r["community_id"] for r in rows}

    async def sub_districts(
        self, conn: asyncpg.Connection, communities: Iterable[str]
    ) -> dict[str, str]:
        rows = await conn.fetch(
            f"""SELECT community_id, sub_district_id FROM {self.schema}.communities
                WHERE community_id = ANY($1::text[])""",
            list(set(communities)),
        )
        return {r["community_id"]: r["sub_district_id"] for r in rows}

    async def contacts(
        self, conn: asyncpg.Connection | asyncpg.Pool, recipient_ids: Iterable[str]
    ) -> dict[str, Contact]:
        rows = await conn.fetch(
            f"SELECT * FROM {self.schema}.contacts WHERE recipient_id = ANY($1::text[])",
            list(set(recipient_ids)),
        )
        return {r["recipient_id"]: contact(r) for r in rows}

    async def save_contact(self, conn: asyncpg.Connection | asyncpg.Pool, c: Contact) -> None:
        quiet = c.quiet_hours
        await conn.execute(
            f"""INSERT INTO {self.schema}.contacts (recipient_id, language, email, webhook_url,
                    inbox, quiet_start, quiet_end) VALUES ($1, $2, $3, $4, $5, $6, $7)
                ON CONFLICT (recipient_id) DO UPDATE SET language = $2, email = $3,
                    webhook_url = $4, inbox = $5, quiet_start = $6, quiet_end = $7,
                    updated_at = now()""",
            c.recipient_id, c.language, c.email, c.webhook_url, c.inbox,
            quiet.start if quiet else None, quiet.end if quiet else None,
        )  # fmt: skip

    async def remove_contact(self, conn: asyncpg.Connection | asyncpg.Pool, recipient: str) -> bool:
        done: str = await conn.execute(
            f"DELETE FROM {self.schema}.contacts WHERE recipient_id = $1", recipient
        )
        return done.endswith(" 1")

    async def offices(self, conn: asyncpg.Connection) -> list[Contact]:
        rows = await conn.fetch(
            f"""SELECT * FROM {self.schema}.contacts
                WHERE recipient_id LIKE 'office-%' OR recipient_id LIKE 'subdistrict-%'"""
        )
        return [contact(r) for r in rows]


def contact(row: asyncpg.Record) -> Contact:
    quiet = (
        QuietHours(row["quiet_start"], row["quiet_end"])
        if row["quiet_start"] is not None and row["quiet_end"] is not None
        else None
    )
    return Contact(
        recipient_id=row["recipient_id"],
        language=row["language"],
        email=row["email"],
        webhook_url=row["webhook_url"],
        inbox=row["inbox"],
        quiet_hours=quiet,
    )

"""The blind index of partial, pinyin and last-digits search: one keyed hash per search
token of a person, looked up per community. Erasure and moves update it with the other
personal-data tables (``ResidentsTable.erase`` and ``.move``)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import asyncpg


@dataclass(frozen=True, slots=True)
class PersonTokens:
    community_id: str
    person_id: str
    token_hashes: Sequence[bytes]


class SearchTokensTable:
    def __init__(self, schema: str) -> None:
        self.schema = schema

    async def add(self, conn: asyncpg.Connection, people: Sequence[PersonTokens]) -> None:
        """The tokens of newly registered people (COPY: they have none yet)."""
        await conn.copy_records_to_table(
            "search_tokens",
            schema_name=self.schema,
            columns=("community_id", "token_hash", "person_id"),
            records=[
                (p.community_id, token, p.person_id) for p in people for token in p.token_hashes
            ],
        )

    async def replace(self, conn: asyncpg.Connection, person: PersonTokens) -> None:
        """A person's tokens as they are now (the re-index): old ones go, new ones come."""
        await conn.execute(
            f"DELETE FROM {self.schema}.search_tokens"
            " WHERE person_id = $1 AND NOT (token_hash = ANY($2::bytea[]))",
            person.person_id,
            list(person.token_hashes),
        )
        await conn.execute(
            f"INSERT INTO {self.schema}.search_tokens (community_id, token_hash, person_id)"
            " SELECT $1, t, $3 FROM unnest($2::bytea[]) t ON CONFLICT DO NOTHING",
            person.community_id,
            list(person.token_hashes),
            person.person_id,
        )

    async def people_with_all(
        self,
        conn: asyncpg.Connection,
        community_id: str,
        token_hashes: Sequence[bytes],
        *,
        after: str,
        limit: int,
    ) -> list[str]:
        """The people of the community who have every one of the tokens, in person_id
        order after ``after``, at most ``limit``."""
        hashes = sorted(set(token_hashes))
        if len(hashes) == 1:  # the common case, read in order straight off the primary key
            rows = await conn.fetch(
                f"SELECT person_id FROM {self.schema}.search_tokens"
                " WHERE community_id = $1 AND token_hash = $2 AND person_id > $3"
                " ORDER BY person_id LIMIT $4",
                community_id,
                hashes[0],
                after,
                limit,
            )
        else:
            rows = await conn.fetch(
                f"SELECT person_id FROM {self.schema}.search_tokens"
                " WHERE community_id = $1 AND token_hash = ANY($2::bytea[]) AND person_id > $3"
                " GROUP BY person_id HAVING count(*) = $4 ORDER BY person_id LIMIT $5",
                community_id,
                hashes,
                after,
                len(hashes),
                limit,
            )
        return [r["person_id"] for r in rows]

"""Partial-name, pinyin and last-digits search over the blind index: a query is cut into
tokens as a person's details were, each token's keyed hash looked up within the caller's
community, and only the people on the page shown are opened (and audited)."""

from __future__ import annotations

import asyncpg

from cordon_registry.adapters.crypto import KeyUnavailable, PersonalDataVault
from cordon_registry.adapters.search_tokens_table import PersonTokens
from cordon_registry.domain.search_tokens import SearchKind, person_tokens, query_tokens
from cordon_registry.service.personal import ResidentCard, _read
from cordon_registry.service.unit import Caller, Registry


def token_hashes(
    vault: PersonalDataVault, name: str, phone: str | None, document_number: str
) -> list[bytes]:
    """The keyed hashes of a person's search tokens, as the blind index keeps them."""
    return sorted(vault.blind_index(k, t) for k, t in person_tokens(name, phone, document_number))


async def find_residents(
    reg: Registry,
    caller: Caller,
    community_id: str,
    kind: SearchKind,
    value: str,
    *,
    after: str = "",
    limit: int = 20,
) -> list[ResidentCard]:
    """The community's residents whose details hold every token of the query: one page of
    at most ``limit`` in person_id order after ``after``, each one audited."""
    caller.staff.require("read_personal_data", community_id)
    hashes = [reg.vault.blind_index(k, t) for k, t in query_tokens(kind, value)]
    async with reg.transaction() as conn:
        found = await reg.search_tokens.people_with_all(
            conn, community_id, hashes, after=after, limit=limit
        )
        rows = await reg.residents.many(conn, found)
        return await _read(reg, conn, caller, rows, f"search_by_{kind}")


async def reindex_search(reg: Registry, *, batch: int = 500) -> int:
    """Write every readable person's search tokens as this version derives them (residents
    registered before the tokens existed, or after the derivation changed). Idempotent;
    erased people have no key and are skipped. Returns the people indexed."""
    indexed, after = 0, ""
    while True:
        async with reg.transaction() as conn:
            rows = await conn.fetch(
                f"""SELECT r.person_id, r.community_id, k.wrapped_key, d.sealed_name,
                           d.sealed_phone, d.sealed_document_number
                    FROM {reg.storage.schema}.residents r
                    JOIN {reg.storage.schema}.person_keys k USING (person_id)
                    JOIN {reg.storage.schema}.personal_details d USING (person_id)
                    WHERE r.person_id > $1 ORDER BY r.person_id LIMIT $2""",
                after,
                batch,
            )
            for row in rows:
                if (tokens := _opened_tokens(reg.vault, row)) is not None:
                    await reg.search_tokens.replace(
                        conn, PersonTokens(row["community_id"], row["person_id"], tokens)
                    )
                    indexed += 1
        if len(rows) < batch:
            return indexed
        after = rows[-1]["person_id"]


def _opened_tokens(vault: PersonalDataVault, row: asyncpg.Record) -> list[bytes] | None:
    person_id: str = row["person_id"]
    try:
        key = vault.unwrap(person_id, bytes(row["wrapped_key"]))
        name = vault.open(key, person_id, "name", row["sealed_name"])
        number = vault.open(key, person_id, "document_number", row["sealed_document_number"])
        sealed_phone = row["sealed_phone"]
        phone = None if sealed_phone is None else vault.open(key, person_id, "phone", sealed_phone)
    except KeyUnavailable:
        return None
    return token_hashes(vault, name, phone, number)

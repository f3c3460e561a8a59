"""Erasing a person destroys their data key: their personal fields can no longer be read
from the event store or any table, while counts and coverage stay right."""

from __future__ import annotations

import asyncpg
from registry_harness import Registry, resident_id

NAME, PHONE, ADDRESS = "欧阳娜娜", "13700001111", "湖北省武汉市江汉区解放大道 88 号"


async def everything_stored(reg: Registry) -> str:
    """Every row of every table of the registry's schema, as text."""
    pool = reg.service.runtime.pool
    tables = await pool.fetch(
        "SELECT table_name FROM information_schema.tables WHERE table_schema = $1", reg.schema
    )
    dumps = [
        await pool.fetchval(
            f"SELECT coalesce(string_agg(t::text, '\n'), '') FROM {reg.schema}.{t} t"
        )
        for t in (r["table_name"] for r in tables)
    ]
    return "\n".join(dumps)


async def test_after_erasure_personal_fields_cannot_be_read_anywhere_but_counts_stay(
    district: Registry,
) -> None:
    number = resident_id(region="420103", born="19920315", sequence="246")
    erased = await district.register("heping-g1-h101", NAME, number, phone=PHONE, address=ADDRESS)
    kept = await district.register("heping-g1-h101", "陈静", resident_id(sequence="135"))
    stored = await everything_stored(district)
    for clear in (NAME, number, PHONE, ADDRESS):
        assert clear not in stored, "personal fields are sealed at rest, even before erasure"
    assert (await district.call("GET", f"/v1/residents/{erased}"))["phone"] == PHONE

    await district.call(
        "POST", f"/v1/residents/{erased}/erase", json={"reason": "resident's request"}
    )

    card = await district.call("GET", f"/v1/residents/{erased}")
    assert card["erased"] is True
    assert [card[f] for f in ("name", "document_number", "phone", "address")] == [None] * 4
    stored = await everything_stored(district)
    document_hash = district.service.registry.vault.blind_index("document", f"resident_id:{number}")
    for trace in (NAME, number, PHONE, ADDRESS, document_hash.hex()):
        assert trace not in stored
    pool = district.service.runtime.pool
    assert (
        await pool.fetchval(
            f"SELECT count(*) FROM {district.schema}.person_keys WHERE person_id = $1", erased
        )
        == 0
    )
    sealed = await pool.fetchval(
        f"SELECT payload->>'sealed_name' FROM {district.schema}.events"
        " WHERE stream_id = $1 AND event_type = 'PersonalDetailsRecorded'",
        f"person-{erased}",
    )
    assert sealed and NAME not in sealed, "the old event is still there, and unreadable"
    found = await district.call(
        "GET", "/v1/communities/heping/residents/search", params={"field": "phone", "value": PHONE}
    )
    assert found == []

    counts = await district.call("GET", "/v1/communities/heping/counts")
    assert (counts["residents"], counts["households"], counts["erased"]) == (2, 1, 1)
    household = await district.call("GET", "/v1/households/heping-g1-h101/residents")
    assert {(c["person_id"], c["name"]) for c in household} == {(erased, None), (kept, "陈静")}


async def test_the_document_of_an_erased_person_is_kept_only_as_a_keyed_hash(
    district: Registry,
) -> None:
    number = resident_id(sequence="864")
    await district.register("heping-g1-h102", "林涛", number)
    pool: asyncpg.Pool = district.service.runtime.pool
    row = await pool.fetchrow(f"SELECT * FROM {district.schema}.documents")
    assert row is not None and number not in str(dict(row))
    assert len(row["document_hash"]) == 32

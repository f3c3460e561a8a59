"""Partial-name, pinyin and last-digits search through the HTTP API, on the real service with
Kafka and PostgreSQL: scoped to the community, one page at a time, every person shown
audited, erased people gone, and hostile queries refused naming the field."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from typing import Any

from registry_harness import Registry, resident_id

from cordon_registry.settings import RegistrySettings
from cordon_testing.plugin import settings_env

SEARCH = "/v1/communities/{}/residents/search"


async def search(
    reg: Registry, field: str, value: str, community: str = "heping", **kw: Any
) -> list[str]:
    """The names found, in the order shown."""
    who = kw.pop("who", f"{community}-office")
    found = await reg.call(
        "GET", SEARCH.format(community), who=who, params={"field": field, "value": value, **kw}
    )
    return [f["name"] for f in found]


async def people(reg: Registry) -> dict[str, str]:
    return {
        "王小明": await reg.register(
            "heping-g1-h101", "王小明", resident_id(sequence="301"), phone="13912345678"
        ),
        "王芳": await reg.register(
            "heping-g2-h102", "王芳", resident_id(sequence="302"), phone="13800005678"
        ),
        "李晓明": await reg.register("heping-g1-h102", "李晓明", resident_id(sequence="303")),
        "王五": await reg.register("xinhua-g1-h101", "王五", resident_id(sequence="304")),
    }


async def test_a_character_of_the_name_finds_the_communitys_residents_only(
    district: Registry,
) -> None:
    await people(district)

    assert sorted(await search(district, "name_part", "王")) == ["王小明", "王芳"]
    assert await search(district, "name_part", "小明") == ["王小明"]
    assert await search(district, "name_part", "王小明") == ["王小明"]
    assert sorted(await search(district, "name_part", "明")) == ["李晓明", "王小明"]
    assert await search(district, "name_part", "王", community="xinhua") == ["王五"]
    assert await search(district, "name_part", "赵") == []


async def test_pinyin_finds_by_syllables_initials_and_a_syllable_begun(district: Registry) -> None:
    await people(district)

    assert sorted(await search(district, "pinyin", "wang")) == ["王小明", "王芳"]
    assert sorted(await search(district, "pinyin", "xiaoming")) == ["李晓明", "王小明"]
    assert await search(district, "pinyin", "wangxiaoming") == ["王小明"]
    assert await search(district, "pinyin", "wxm") == ["王小明"]
    assert sorted(await search(district, "pinyin", "xiaom")) == ["李晓明", "王小明"]
    assert await search(district, "pinyin", "lxm") == ["李晓明"]
    assert await search(district, "pinyin", "zhang") == []


async def test_the_last_4_digits_of_phone_or_document_find_the_person(district: Registry) -> None:
    await people(district)

    assert sorted(await search(district, "phone_last4", "5678")) == ["王小明", "王芳"]
    assert await search(district, "phone_last4", "0000") == []
    last4 = resident_id(sequence="303")[-4:]
    assert await search(district, "document_last4", last4.lower()) == ["李晓明"]


async def test_results_come_a_page_at_a_time(district: Registry) -> None:
    await people(district)
    url = SEARCH.format("heping")
    params = {"field": "name_part", "value": "王", "limit": 1}

    first = await district.call("GET", url, params=params)
    second = await district.call("GET", url, params={**params, "after": first[0]["person_id"]})
    third = await district.call("GET", url, params={**params, "after": second[0]["person_id"]})

    assert len(first) == len(second) == 1 and third == []
    assert first[0]["person_id"] < second[0]["person_id"]
    assert {first[0]["name"], second[0]["name"]} == {"王小明", "王芳"}


async def test_an_exact_search_is_paged_too_and_audits_only_the_page(district: Registry) -> None:
    ids = await people(district)
    namesake = await district.register("heping-g2-h101", "王芳", resident_id(sequence="305"))

    page = await district.call(
        "GET", SEARCH.format("heping"), params={"field": "name", "value": "王芳", "limit": 1}
    )

    [shown] = [card["person_id"] for card in page]
    [unseen] = {ids["王芳"], namesake} - {shown}
    assert await district.call("GET", "/v1/audit", params={"person_id": unseen}) == []
    assert len(await district.call("GET", "/v1/audit", params={"person_id": shown})) == 1


async def test_every_person_shown_is_audited_and_no_one_else(district: Registry) -> None:
    ids = await people(district)

    await search(district, "pinyin", "wang", who="heping-gw1")

    for name in ("王小明", "王芳"):
        trail = await district.call("GET", "/v1/audit", params={"person_id": ids[name]})
        assert [(a["staff_id"], a["action"], a["community_id"]) for a in trail] == [
            ("heping-gw1", "search_by_pinyin", "heping")
        ]
    for name in ("李晓明", "王五"):
        assert await district.call("GET", "/v1/audit", params={"person_id": ids[name]}) == []


async def test_another_communitys_staff_are_refused(district: Registry) -> None:
    await people(district)

    for field, value in (("name_part", "王"), ("pinyin", "wang"), ("phone_last4", "5678")):
        refused = await district.call(
            "GET",
            SEARCH.format("xinhua"),
            who="heping-office",
            params={"field": field, "value": value},
            expect=403,
        )
        assert refused["detail"][0]["msg"] == "heping-office serves heping, not xinhua"


async def test_an_erased_person_is_no_longer_found_and_a_moved_one_follows_the_move(
    district: Registry,
) -> None:
    ids = await people(district)

    await district.call("POST", f"/v1/residents/{ids['王芳']}/erase", json={"reason": "request"})
    await district.call(
        "POST", f"/v1/residents/{ids['王小明']}/move", json={"household_id": "xinhua-g1-h102"}
    )

    assert await search(district, "name_part", "王") == []
    assert await search(district, "phone_last4", "5678") == []
    assert sorted(await search(district, "pinyin", "wang", community="xinhua")) == [
        "王五",
        "王小明",
    ]
    pool = district.service.runtime.pool
    left = await pool.fetchval(
        f"SELECT count(*) FROM {district.schema}.search_tokens WHERE person_id = $1", ids["王芳"]
    )
    assert left == 0, "an erased person's tokens go with their key"


async def test_hostile_queries_get_a_422_naming_the_value(district: Registry) -> None:
    await people(district)
    hostile = [
        ("name_part", "王\x00"),
        ("name_part", "w" * 10_000),  # httpx refuses a URL of 10,000 Chinese characters
        ("pinyin", "wang" * 2_500),
        ("name_part", resident_id(sequence="301")),
        ("name_part", ""),
        ("name_part", "%"),
        ("pinyin", "w"),
        ("pinyin", "wang'; DROP TABLE residents; --"),
        ("phone_last4", "678"),
        ("phone_last4", "56789"),
        ("document_last4", "12"),
    ]
    for field, value in hostile:
        response = await district.client.get(
            SEARCH.format("heping"),
            headers=district.as_("heping-office"),
            params={"field": field, "value": value},
        )
        assert response.status_code == 422, (field, value, response.text)
        assert response.json()["detail"][0]["loc"][-1] == "value", (field, value, response.text)
    for limit in (0, 101):
        response = await district.client.get(
            SEARCH.format("heping"),
            headers=district.as_("heping-office"),
            params={"field": "name_part", "value": "王", "limit": limit},
        )
        assert response.status_code == 422
        assert response.json()["detail"][0]["loc"][-1] == "limit"


def reindex(settings: RegistrySettings) -> subprocess.CompletedProcess[str]:
    """``cordon-registry reindex-search`` in a process of its own, on the test's database."""
    env = {
        **os.environ,
        **settings_env(settings),
        "CORDON_REGISTRY_INDEX_KEY": "test-index-key",
        "CORDON_REGISTRY_MASTER_KEY": "test-master-key",
    }
    return subprocess.run(
        [sys.executable, "-m", "cordon_registry.cli", "reindex-search"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


async def test_the_reindex_command_writes_the_tokens_of_residents_registered_before_them(
    district: Registry, registry_settings: RegistrySettings
) -> None:
    ids = await people(district)
    await district.call("POST", f"/v1/residents/{ids['王五']}/erase", json={"reason": "request"})
    pool = district.service.runtime.pool
    await pool.execute(f"DELETE FROM {district.schema}.search_tokens")  # as before migration 2
    assert await search(district, "name_part", "王") == []

    first = await asyncio.to_thread(reindex, registry_settings)
    tokens = await pool.fetchval(f"SELECT count(*) FROM {district.schema}.search_tokens")
    again = await asyncio.to_thread(reindex, registry_settings)

    assert first.stdout == again.stdout == "3 residents indexed\n", first.stderr
    assert tokens == await pool.fetchval(f"SELECT count(*) FROM {district.schema}.search_tokens"), (
        "re-indexing again changes nothing"
    )
    assert sorted(await search(district, "name_part", "王")) == ["王小明", "王芳"]
    assert await search(district, "name_part", "王", community="xinhua") == [], "erased stays so"

"""Residents through the HTTP API: identity checks, one document per district, moves with
history, community-scoped access and the audit of personal-data reads."""

from __future__ import annotations

from registry_harness import Registry, resident_id


async def test_a_bad_id_number_is_refused_with_the_field_and_the_reason(district: Registry) -> None:
    body = {
        "household_id": "heping-g1-h101",
        "residence_type": "owner",
        "name": "王芳",
        "document_number": "110105194912310021",
    }
    refused = await district.call("POST", "/v1/residents", json=body, expect=422)

    assert refused["detail"] == [
        {
            "loc": ["body", "document_number"],
            "msg": "check digit 1 is wrong (ISO 7064 MOD 11-2 gives X)",
            "type": "InvalidInput",
        }
    ]
    counts = await district.call("GET", "/v1/communities/heping/counts")
    assert counts["residents"] == 0, "nothing is half-recorded"


async def test_the_same_document_never_registers_two_people_in_the_district(
    district: Registry,
) -> None:
    number = resident_id(sequence="417")
    await district.register("heping-g1-h101", "王芳", number)

    again = {"household_id": "xinhua-g1-h101", "residence_type": "tenant", "name": "王芳"}
    refused = await district.call(
        "POST", "/v1/residents", json={**again, "document_number": number.lower()}, expect=409
    )
    assert refused["detail"][0]["loc"] == ["body", "document_number"]
    assert "already registers a person" in refused["detail"][0]["msg"]

    passport = {**again, "document_type": "passport", "document_number": "E12345678"}
    await district.call("POST", "/v1/residents", json=passport, expect=201)
    await district.call("POST", "/v1/residents", json={**passport, "name": "Other"}, expect=409)


async def test_a_move_between_households_keeps_the_history(district: Registry) -> None:
    person = await district.register("heping-g1-h101", "李明", resident_id(sequence="001"))
    district.clock.advance(days=3)
    moved = await district.call(
        "POST",
        f"/v1/residents/{person}/move",
        json={"household_id": "heping-g2-h102", "residence_type": "tenant"},
    )

    assert (moved["from_household_id"], moved["household_id"]) == (
        "heping-g1-h101",
        "heping-g2-h102",
    )
    assert moved["grid_id"] == "heping-g2"
    record = await district.call("GET", f"/v1/residents/{person}/record")
    assert [(h["household_id"], h["residence_type"]) for h in record["history"]] == [
        ("heping-g1-h101", "owner"),
        ("heping-g2-h102", "tenant"),
    ]
    assert record["history"][0]["moved_out_at"] == record["history"][1]["moved_in_at"]
    stream = await district.service.runtime.store.load_stream(f"person-{person}")
    assert [e.event_type for e in stream] == [
        "PersonalDetailsRecorded",
        "ResidentRegistered",
        "ResidentMoved",
    ]


async def test_staff_see_only_their_own_communitys_residents(district: Registry) -> None:
    xinhua_person = await district.register("xinhua-g1-h101", "赵强", resident_id(sequence="002"))

    denied = await district.call(
        "GET", f"/v1/residents/{xinhua_person}", who="heping-office", expect=403
    )
    assert denied["detail"][0]["msg"] == "heping-office serves heping, not xinhua"
    await district.call(
        "GET",
        "/v1/communities/xinhua/residents/search",
        who="heping-office",
        params={"field": "name", "value": "赵强"},
        expect=403,
    )
    await district.call(
        "GET", "/v1/households/xinhua-g1-h101/residents", who="heping-office", expect=403
    )
    await district.call(
        "POST",
        "/v1/residents",
        who="heping-office",
        json={
            "household_id": "xinhua-g1-h102",
            "residence_type": "owner",
            "name": "钱七",
            "document_number": resident_id(sequence="003"),
        },
        expect=403,
    )
    read = await district.call("GET", f"/v1/residents/{xinhua_person}", who="xinhua-office")
    assert read["name"] == "赵强"
    response = await district.client.get(f"/v1/residents/{xinhua_person}")
    assert response.status_code == 401, "no token, no data"


async def test_grid_workers_read_but_do_not_register_residents(district: Registry) -> None:
    person = await district.register("heping-g1-h101", "孙丽", resident_id(sequence="004"))
    assert (await district.call("GET", f"/v1/residents/{person}", who="heping-gw1"))[
        "name"
    ] == "孙丽"
    body = {"household_id": "heping-g1-h102", "residence_type": "owner", "name": "周杰"}
    body["document_number"] = resident_id(sequence="005")
    refused = await district.call("POST", "/v1/residents", who="heping-gw1", json=body, expect=403)
    assert refused["detail"][0]["msg"] == "a grid_worker may not register residents"


async def test_every_read_of_personal_data_is_audited(district: Registry) -> None:
    person = await district.register(
        "heping-g1-h101", "吴敏", resident_id(sequence="006"), phone="13912345678"
    )
    await district.call(
        "GET", f"/v1/residents/{person}/record", who="heping-office"
    )  # no personal data
    await district.call("GET", f"/v1/residents/{person}", who="heping-office")
    found = await district.call(
        "GET",
        "/v1/communities/heping/residents/search",
        who="heping-gw1",
        params={"field": "phone", "value": "139 1234 5678"},
    )
    assert [f["person_id"] for f in found] == [person]

    trail = await district.call("GET", "/v1/audit", params={"person_id": person})
    assert [(a["staff_id"], a["action"], a["fields"]) for a in trail] == [
        ("heping-gw1", "search_by_phone", ["name", "document_number", "phone"]),
        ("heping-office", "read_resident", ["name", "document_number", "phone"]),
    ]
    assert all(a["person_id"] == person and a["read_at"] for a in trail)
    await district.call("GET", "/v1/audit", who="heping-office", expect=403)


async def test_ledgers_key_persons_and_doses_are_kept_per_resident(district: Registry) -> None:
    person = await district.register(
        "heping-g1-h101", "郑华", resident_id(sequence="007"), categories=["returnee", "student"]
    )
    await district.call(
        "PUT", f"/v1/residents/{person}/key-person", json={"reason": "back from Wuhan"}
    )
    await district.call(
        "POST",
        f"/v1/residents/{person}/vaccinations",
        json={"dose_number": 1, "vaccinated_on": "2021-06-01"},
    )
    skipped = {"dose_number": 3, "vaccinated_on": "2021-09-01"}
    refused = await district.call(
        "POST", f"/v1/residents/{person}/vaccinations", json=skipped, expect=422
    )
    assert refused["detail"][0]["msg"] == "the next dose is number 2"

    ledger = await district.call(
        "GET", "/v1/communities/heping/residents", params={"category": "returnee"}
    )
    assert [(r["person_id"], r["key_person_reason"]) for r in ledger] == [
        (person, "back from Wuhan")
    ]
    counts = await district.call("GET", "/v1/communities/heping/counts")
    assert counts["by_category"] == {"returnee": 1, "student": 1}
    assert counts["key_persons"] == 1 and counts["by_doses"] == {"1": 1}


async def test_places_keep_their_history_and_merging_a_household_moves_its_residents(
    district: Registry,
) -> None:
    person = await district.register("heping-g1-h101", "冯刚", resident_id(sequence="008"))
    await district.call("POST", "/v1/places/heping-g1/rename", json={"name": "Grid One"})
    refused = await district.call(
        "POST", "/v1/places/heping-g1-h101/close", json={"reason": "x"}, expect=409
    )
    assert refused["detail"][0]["msg"] == "heping-g1-h101 still has 1 residents; move them first"

    merged = await district.call(
        "POST", "/v1/places/heping-g1-h101/merge", json={"into_place_id": "heping-g1-h102"}
    )

    assert merged["into_place_id"] == "heping-g1-h102"
    record = await district.call("GET", f"/v1/residents/{person}/record")
    assert record["household_id"] == "heping-g1-h102"
    history = await district.call("GET", "/v1/places/heping-g1/history")
    assert [h["event_type"] for h in history] == ["PlaceAdded", "PlaceRenamed"]
    assert history[1]["event"]["previous_name"] == "Grid 1"
    await district.call("POST", "/v1/places/heping-g1-h101/rename", json={"name": "x"}, expect=409)


async def test_the_resident_ledger_travels_a_page_at_a_time_with_its_total_and_filters(
    district: Registry,
) -> None:
    households = ["heping-g1-h101", "heping-g1-h102", "heping-g2-h101"]
    people = sorted(
        [
            await district.register(
                households[i % 3], f"居民{i}", resident_id(sequence=f"{600 + i}")
            )
            for i in range(7)
        ]
    )
    url = "/v1/communities/heping/residents"

    async def page(**params: str) -> tuple[list[str], int]:
        answer = await district.client.get(url, params=params, headers=district.as_("admin"))
        assert answer.status_code == 200, answer.text
        return [r["person_id"] for r in answer.json()], int(answer.headers["X-Total-Count"])

    first, total = await page(limit="3")
    second, _ = await page(limit="3", after=first[-1])
    rest, _ = await page(limit="3", after=second[-1])
    assert first + second + rest == people and total == 7, "each resident once, in id order"
    in_g2, in_g2_total = await page(grid_id="heping-g2")
    assert in_g2_total == 2 and len(in_g2) == 2
    for params in ({"limit": "0"}, {"limit": "100000"}, {"after": "a\x00b"}):
        refused = await district.client.get(url, params=params, headers=district.as_("admin"))
        assert refused.status_code == 422, (params, refused.text)

"""A screening round: visits recorded by grid workers, travel in risk areas reported,
doses recorded, and coverage per grid and per community at any time."""

from __future__ import annotations

from registry_harness import Registry, resident_id


async def test_coverage_follows_the_visits_per_grid_and_for_the_community(
    district: Registry,
) -> None:
    people = {}
    for n, household in enumerate(("heping-g1-h101", "heping-g1-h102", "heping-g2-h101")):
        people[household] = await district.register(
            household, f"居民{n}", resident_id(sequence=f"{n}50")
        )
    await district.call(
        "PUT",
        "/v1/risk-areas/420103",
        json={
            "area_name": "Jianghan",
            "level": "high",
            "valid_from": "2022-03-25",
            "valid_until": "2022-04-30",
        },
    )
    await district.call(
        "POST",
        "/v1/communities/heping/screening-rounds",
        who="heping-office",
        json={"round_id": "heping-r1", "name": "April round"},
        expect=201,
    )
    empty = await district.call("GET", "/v1/screening-rounds/heping-r1/coverage", who="heping-gw1")
    assert empty["community"] == {"households_registered": 3, "households_visited": 0, "rate": 0.0}

    traveller = people["heping-g1-h101"]
    visit = {
        "visit_id": "v-001",
        "household_id": "heping-g1-h101",
        "visited_at": "2022-04-10T10:00:00+08:00",
        "persons": [
            {
                "person_id": traveller,
                "present": True,
                "stays": [
                    {
                        "area_code": "420103",
                        "stayed_from": "2022-04-01",
                        "stayed_until": "2022-04-03",
                    }
                ],
                "doses": [{"dose_number": 1, "vaccinated_on": "2021-05-01"}],
            }
        ],
    }
    recorded = await district.call(
        "POST", "/v1/screening-rounds/heping-r1/visits", who="heping-gw1", json=visit, expect=201
    )
    assert [e["event_type"] for e in recorded["events"]] == [
        "HouseholdVisited",
        "TravelHistoryReported",
        "VaccinationRecorded",
    ]
    assert recorded["events"][0]["staff_id"] == "heping-gw1"
    again = await district.call(
        "POST", "/v1/screening-rounds/heping-r1/visits", who="heping-gw1", json=visit, expect=201
    )
    assert again["events"] == [], "a retried visit records nothing more"
    other = {**visit, "visit_id": "v-002", "household_id": "heping-g2-h101", "persons": []}
    await district.call(
        "POST", "/v1/screening-rounds/heping-r1/visits", who="heping-gw1", json=other, expect=201
    )
    await district.call(
        "POST", "/v1/screening-rounds/heping-r1/visits", who="xinhua-gw1", json=other, expect=403
    )

    coverage = await district.call(
        "GET", "/v1/screening-rounds/heping-r1/coverage", who="heping-office"
    )
    assert coverage["community"] == {
        "households_registered": 3,
        "households_visited": 2,
        "rate": 0.6667,
    }
    assert [
        (g["grid_id"], g["households_visited"], g["households_registered"])
        for g in coverage["grids"]
    ] == [
        ("heping-g1", 1, 2),
        ("heping-g2", 1, 1),
    ]
    closed = await district.call(
        "POST", "/v1/screening-rounds/heping-r1/close", who="heping-office"
    )
    assert (closed["households_visited"], closed["households_registered"]) == (2, 3)
    late = {**visit, "visit_id": "v-003", "household_id": "heping-g1-h102", "persons": []}
    refused = await district.call(
        "POST", "/v1/screening-rounds/heping-r1/visits", who="heping-gw1", json=late, expect=409
    )
    assert refused["detail"][0]["msg"] == "screening round heping-r1 is closed"
    record = await district.call("GET", f"/v1/residents/{traveller}/record")
    assert record["vaccinations"][0]["source"] == "screening"

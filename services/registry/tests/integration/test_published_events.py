"""What the registry publishes: every event valid against its committed JSON Schema, no
private event, and no ID number, phone or name anywhere in a record."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
from registry_harness import Registry, resident_id

from cordon_testing.kafka import header, read_topic

SCHEMAS = Path(__file__).resolve().parents[4] / "schemas" / "events"
NUMBER, PHONE, NAME = resident_id(sequence="731"), "13655556666", "诸葛亮"


async def test_published_events_match_their_schemas_and_carry_no_personal_data(
    district: Registry,
) -> None:
    person = await district.register(
        "heping-g1-h101",
        NAME,
        NUMBER,
        phone=PHONE,
        categories=["truck_driver"],
        key_person_reason="driver",
    )
    await district.call(
        "POST", f"/v1/residents/{person}/move", json={"household_id": "heping-g1-h102"}
    )
    await district.call(
        "POST",
        f"/v1/residents/{person}/vaccinations",
        json={"dose_number": 1, "vaccinated_on": "2021-07-01"},
    )
    await district.call(
        "POST",
        "/v1/places/heping-g1/staff",
        json={"role": "grid_worker", "staff_id": "gw-7"},
        expect=201,
    )
    area = {
        "area_name": "Yanta",
        "level": "medium",
        "valid_from": "2022-04-01",
        "valid_until": "2022-04-20",
    }
    await district.call("PUT", "/v1/risk-areas/610113", json=area)
    await district.call(
        "POST",
        "/v1/communities/heping/screening-rounds",
        json={"round_id": "r1", "name": "R1"},
        expect=201,
    )
    stay = {"area_code": "610113", "stayed_from": "2022-04-02", "stayed_until": "2022-04-04"}
    visit = {
        "visit_id": "v1",
        "household_id": "heping-g1-h102",
        "visited_at": "2022-04-10T10:00:00+08:00",
        "persons": [{"person_id": person, "present": True, "stays": [stay], "symptoms": ["cough"]}],
    }
    await district.call("POST", "/v1/screening-rounds/r1/visits", json=visit, expect=201)
    await district.call("POST", "/v1/screening-rounds/r1/close")
    await district.call("POST", f"/v1/residents/{person}/erase", json={"reason": "request"})
    await district.call("POST", f"/v1/residents/{person}/leave", json={"reason": "moved away"})

    stored = await district.service.runtime.pool.fetch(
        f"SELECT event_type FROM {district.schema}.events ORDER BY global_position"
    )
    public = [
        r["event_type"]
        for r in stored
        if r["event_type"] not in ("PersonalDetailsRecorded", "PersonalDataErased")
    ]
    records = await read_topic(
        district.service.settings.kafka_bootstrap,
        district.service.runtime.events_topic,
        expect=len(public),
    )

    published = [str(header(r, "ce_type")).removeprefix("cordon.") for r in records]
    assert sorted(published) == sorted(public)
    assert {
        "PlaceAdded",
        "ResidentRegistered",
        "ResidentMoved",
        "ResidentCategorized",
        "KeyPersonFlagged",
    } <= set(published)
    assert {
        "VaccinationRecorded",
        "HouseholdVisited",
        "TravelHistoryReported",
        "ScreeningRoundClosed",
    } <= set(published)
    assert {"StaffAssigned", "RiskAreaDesignated", "ScreeningRoundOpened", "ResidentLeft"} <= set(
        published
    )
    for record in records:
        event_type = str(header(record, "ce_type")).removeprefix("cordon.")
        schema = json.loads(
            (SCHEMAS / f"{event_type}.v{header(record, 'ce_schemaversion')}.json").read_text()
        )
        jsonschema.validate(json.loads(record.value), schema)
        everything = bytes(record.value).decode() + repr(record.headers) + repr(record.key)
        for personal in (NUMBER, NUMBER[:17], PHONE, NAME):
            assert personal not in everything, f"{personal} leaked in {event_type}"

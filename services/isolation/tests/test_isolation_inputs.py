"""Hostile and absurd input at the isolation service, as it runs with its default windows:
each class is refused with a 4xx naming the field, and nothing of it reaches the event store
or the service's topic. An order for a person the registry never named is refused unless
the office says so explicitly."""

from __future__ import annotations

import csv
import io
import json
import uuid
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from cordon_contracts import registry
from cordon_core.settings import ServiceSettings
from cordon_testing import ServiceProcess, wait_until
from cordon_testing.plugin import settings_env
from cordon_testing.refusals import ServiceRecord
from cordon_testing.upstream import Upstream

STAFF = "inputs-isolation-token"
LAB = "inputs-lab-token"


@pytest.fixture(scope="module")
def isolation(
    module_settings: ServiceSettings, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ServiceProcess]:
    env = {
        **settings_env(module_settings),
        "CORDON_ISOLATION_ADMIN_TOKEN": STAFF,
        "CORDON_LAB_TOKENS": f"district-hospital:{LAB}",
    }
    process = ServiceProcess("cordon_isolation", env, tmp_path_factory.mktemp("isolation"))
    yield process.start(ready_timeout=180)
    process.stop()


@pytest.fixture
async def client(isolation: ServiceProcess) -> AsyncIterator[httpx.AsyncClient]:
    headers = {"Authorization": f"Bearer {STAFF}"}
    async with httpx.AsyncClient(base_url=isolation.url, headers=headers, timeout=60) as c:
        yield c


@pytest.fixture
def record(module_settings: ServiceSettings) -> ServiceRecord:
    return ServiceRecord(module_settings, "isolation")


async def resident(registry_service: Upstream, client: httpx.AsyncClient) -> str:
    person, household = f"p{uuid.uuid4().hex[:10]}", f"h{uuid.uuid4().hex[:8]}"
    await registry_service.publish(
        f"household:{household}",
        registry.ResidentRegistered(
            person_id=person, household_id=household, building_id="b1", compound_id="c1",
            grid_id="g1", community_id="maple", sub_district_id="s1", residence_type="owner",
            registered_at=datetime.now(UTC),
        ),
    )  # fmt: skip
    await wait_until(
        lambda: client.get(f"/v1/people/{person}"),
        until=lambda r: r.json()["resident"] is not None,
        timeout=60,
        what=f"the isolation service to hear of {person}",
    )
    return person


def order(person: str, **fields: Any) -> dict[str, Any]:
    return {"person_id": person, "level": "home", "community_id": "maple",
            "reason": "close contact", "days": 14, **fields}  # fmt: skip


def fields(response: httpx.Response) -> list[str]:
    return [".".join(str(p) for p in e["loc"][1:]) for e in response.json()["detail"]]


async def raw(client: httpx.AsyncClient, path: str, body: str) -> httpx.Response:
    return await client.post(path, content=body, headers={"content-type": "application/json"})


async def test_unstorable_text_non_finite_numbers_and_edge_dates_get_a_422_naming_the_field(
    client: httpx.AsyncClient, registry_service: Upstream, record: ServiceRecord
) -> None:
    person = await resident(registry_service, client)
    before = await record.count()
    base = json.dumps(order(person))[:-1]
    check_ins = f"/v1/people/{person}/isolation/check-ins"
    answers = {
        "reason": await raw(client, "/v1/orders", base + ', "reason": "a\\u0000b"}'),
        "surrogate reason": await raw(client, "/v1/orders", base + ', "reason": "\\udc00"}'),
        "starts_at": await client.post(
            "/v1/orders", json=order(person, starts_at="0001-01-01T00:00:00+08:00")
        ),
        "planned_end_at": await client.post(
            "/v1/orders", json=order(person, days=None, planned_end_at="9999-12-31T23:59:59Z")
        ),
        "temperature_c NaN": await raw(
            client, check_ins, '{"recorded_by": "gw-1", "temperature_c": NaN}'
        ),
        "temperature_c 1e999": await raw(
            client, check_ins, '{"recorded_by": "gw-1", "temperature_c": 1e999}'
        ),
        "query": await client.get("/v1/ledger", params={"community_id": "maple\x00"}),
    }

    assert {what: r.status_code for what, r in answers.items()} == dict.fromkeys(answers, 422)
    assert fields(answers["reason"]) == fields(answers["surrogate reason"]) == ["reason"]
    assert fields(answers["starts_at"]) == ["starts_at"]
    assert fields(answers["planned_end_at"]) == ["planned_end_at"]
    assert fields(answers["temperature_c NaN"]) == fields(answers["temperature_c 1e999"])
    assert fields(answers["temperature_c NaN"]) == ["temperature_c"]
    assert await record.count() == before, "nothing recorded"


async def test_an_order_ending_before_it_starts_or_starting_years_ahead_is_refused(
    client: httpx.AsyncClient, registry_service: Upstream, record: ServiceRecord
) -> None:
    person = await resident(registry_service, client)
    now = datetime.now(UTC)
    before = await record.count()

    backwards = await client.post(
        "/v1/orders",
        json=order(person, days=None, starts_at=now.isoformat(),
                   planned_end_at=(now - timedelta(days=1)).isoformat()),
    )  # fmt: skip
    years_ahead = await client.post(
        "/v1/orders", json=order(person, starts_at=(now + timedelta(days=3 * 365)).isoformat())
    )
    too_long = await client.post(
        "/v1/orders",
        json=order(person, days=None, planned_end_at=(now + timedelta(days=400)).isoformat()),
    )
    after = await record.count()
    next_week = await client.post(
        "/v1/orders", json=order(person, starts_at=(now + timedelta(days=7)).isoformat())
    )

    assert backwards.status_code == 422 and fields(backwards) == ["planned_end_at"]
    assert "ends before it starts" in backwards.text
    assert years_ahead.status_code == 422 and fields(years_ahead) == ["starts_at"]
    assert "more than 14 days ahead" in years_ahead.text
    assert too_long.status_code == 422 and fields(too_long) == ["planned_end_at"]
    assert after == before
    assert next_week.status_code == 201, next_week.text


async def test_an_order_for_a_person_never_heard_of_is_refused_unless_explicitly_unregistered(
    client: httpx.AsyncClient, record: ServiceRecord
) -> None:
    stranger = f"visitor-{uuid.uuid4().hex[:8]}"
    before = await record.count()

    refused = await client.post("/v1/orders", json=order(stranger))
    after = await record.count()
    explicit = await client.post("/v1/orders", json=order(stranger, unregistered=True))

    assert refused.status_code == 422 and fields(refused) == ["person_id"]
    assert '"unregistered": true' in refused.json()["detail"][0]["msg"]
    assert after == before
    assert explicit.status_code == 201, explicit.text
    assert explicit.json()["events"] == ["IsolationStarted"]


async def test_a_lab_csv_with_a_huge_field_or_a_nul_is_reported_and_a_huge_upload_is_a_413(
    isolation: ServiceProcess, record: ServiceRecord
) -> None:
    def as_csv(*rows: list[str]) -> str:
        out = io.StringIO()
        csv.writer(out).writerows([["sample_id", "person_id", "collected_at", "result"], *rows])
        return out.getvalue()

    at = datetime.now(UTC).isoformat()
    huge = as_csv(["s-huge", "p-1", at, "x" * (csv.field_size_limit() + 1)])
    nul = as_csv(["s-nul", "p-1\x00", at, "negative"])
    before = await record.count()
    async with httpx.AsyncClient(
        base_url=isolation.url, headers={"Authorization": f"Bearer {LAB}"}, timeout=60
    ) as lab:
        answers = [
            await lab.post("/v1/lab/results/csv", files={"file": ("b.csv", text)})
            for text in (huge, nul, "x" * (5 * 1024 * 1024))
        ]

    assert [a.status_code for a in answers] == [422, 422, 413]
    assert [(e["row"], e["column"]) for e in answers[0].json()["errors"]] == [(2, "*")]
    assert "field larger than field limit" in answers[0].text
    assert [(e["row"], e["column"]) for e in answers[1].json()["errors"]] == [(2, "person_id")]
    assert await record.count() == before

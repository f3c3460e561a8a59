"""Orders for a list of people (``POST /v1/orders/batch``), against the isolation service as
it runs, with real PostgreSQL and Kafka: every order recorded in one transaction and
published, or none; each row refused as the single order would refuse it, naming the row
and the field; a retry, keyed or not, placing nothing twice."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from isolation_harness import STAFF, call, household, isolation_events, new_id

from cordon_core.settings import ServiceSettings
from cordon_testing import ServiceProcess, read_topic
from cordon_testing.kafka import header
from cordon_testing.refusals import ServiceRecord
from cordon_testing.upstream import Upstream

BATCH = "/v1/orders/batch"


@pytest.fixture
def record(module_settings: ServiceSettings) -> ServiceRecord:
    return ServiceRecord(module_settings, "isolation")


def row(person: str, community: str, **fields: Any) -> dict[str, Any]:
    return {"person_id": person, "level": "home", "community_id": community,
            "reason_code": "close_contact", "days": 14, **fields}  # fmt: skip


async def send(
    isolation: ServiceProcess, rows: list[dict[str, Any]], key: str | None = None
) -> httpx.Response:
    headers = {"Idempotency-Key": key} if key else None
    return await call(isolation, STAFF, "POST", BATCH, headers, json={"orders": rows})


def refused_fields(response: httpx.Response) -> list[str]:
    """Each refusal's place as ``orders[17].starts_at``."""
    named = []
    for error in response.json()["detail"]:
        _, *path = error["loc"]
        named.append("".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in path)[1:])
    return named


async def active_level(isolation: ServiceProcess, person: str) -> str | None:
    found = (await call(isolation, STAFF, "GET", f"/v1/people/{person}")).json()
    return found["order"]["level"] if found["order"] else None


async def test_a_list_places_every_order_in_one_go_answered_in_row_order_and_published(
    isolation: ServiceProcess, registry_service: Upstream, module_settings: ServiceSettings
) -> None:
    community = new_id("c")
    people = await household(registry_service, isolation, community, 3)

    answer = await send(isolation, [row(p, community) for p in people])

    assert answer.status_code == 201, answer.text
    placed = answer.json()["orders"]
    assert [p["person_id"] for p in placed] == people
    assert all(p["events"] == ["IsolationStarted"] and p["level"] == "home" for p in placed)
    for person, p in zip(people, placed, strict=True):
        [(kind, started)] = await isolation_events(module_settings, f"isolation:{person}")
        assert (kind, started["order_id"]) == ("IsolationStarted", p["order_id"])
        assert started["reason_code"] == "close_contact"
        assert await active_level(isolation, person) == "home"
    topic = f"{module_settings.topic_prefix}.isolation.events"
    on_topic = {
        json.loads(r.value)["order_id"]
        for r in await read_topic(module_settings.kafka_bootstrap, topic, timeout=30)
        if header(r, "ce_type") == "cordon.IsolationStarted"
    }
    assert {p["order_id"] for p in placed} <= on_topic


async def test_one_bad_row_refuses_the_list_naming_row_and_field_and_records_nothing(
    isolation: ServiceProcess, registry_service: Upstream, record: ServiceRecord
) -> None:
    community = new_id("c")
    people = await household(registry_service, isolation, community, 4)
    rows = [row(p, community) for p in people]
    rows[2]["note"] = "a\x00b"  # PostgreSQL cannot store NUL: the single order refuses it too
    before = await record.count()

    answer = await send(isolation, rows)

    assert answer.status_code == 422, answer.text
    assert refused_fields(answer) == ["orders[2].note"]
    assert await record.count() == before, "nothing recorded, nothing published"
    assert [await active_level(isolation, p) for p in people] == [None] * 4


async def test_a_row_starting_in_2099_is_refused_by_the_single_orders_start_window(
    isolation: ServiceProcess, registry_service: Upstream, record: ServiceRecord
) -> None:
    community = new_id("c")
    first, second = await household(registry_service, isolation, community, 2)
    in_2099 = datetime(2099, 1, 1, tzinfo=UTC).isoformat()
    before = await record.count()

    answer = await send(
        isolation, [row(first, community), row(second, community, starts_at=in_2099)]
    )

    assert answer.status_code == 422, answer.text
    assert refused_fields(answer) == ["orders[1].starts_at"]
    assert "more than 14 days ahead" in answer.text
    assert await record.count() == before
    assert await active_level(isolation, first) is None


async def test_a_list_sent_again_with_its_idempotency_key_gets_the_first_answer_and_records_nothing(
    isolation: ServiceProcess, registry_service: Upstream, record: ServiceRecord
) -> None:
    community = new_id("c")
    people = await household(registry_service, isolation, community, 3)
    rows = [row(p, community) for p in people]
    key = str(uuid.uuid4())

    first = await send(isolation, rows, key)
    after_first = await record.count()
    again = await send(isolation, rows, key)
    other_list = await send(isolation, rows[:1], key)

    assert first.status_code == again.status_code == 201, first.text
    assert again.json() == first.json()
    assert again.headers.get("Idempotent-Replayed") == "true"
    assert other_list.status_code == 409, "the same key with another list is refused"
    assert await record.count() == after_first


async def test_a_list_sent_again_without_a_key_opens_no_second_order(
    isolation: ServiceProcess, registry_service: Upstream, record: ServiceRecord
) -> None:
    community = new_id("c")
    people = await household(registry_service, isolation, community, 3)
    ends = (datetime.now(UTC) + timedelta(days=14)).isoformat()
    rows = [row(p, community, days=None, planned_end_at=ends) for p in people]

    first = await send(isolation, rows)
    after_first = await record.count()
    again = await send(isolation, rows)

    assert first.status_code == again.status_code == 201, again.text
    assert [p["order_id"] for p in again.json()["orders"]] == [
        p["order_id"] for p in first.json()["orders"]
    ]
    assert [p["events"] for p in again.json()["orders"]] == [[], [], []]
    assert await record.count() == after_first


async def test_a_person_under_an_active_order_is_upgraded_as_a_single_order_would(
    isolation: ServiceProcess, registry_service: Upstream, module_settings: ServiceSettings
) -> None:
    community = new_id("c")
    isolated, fresh = await household(registry_service, isolation, community, 2)
    single = await call(
        isolation, STAFF, "POST", "/v1/orders", json=row(isolated, community, level="monitoring")
    )
    assert single.status_code == 201, single.text

    answer = await send(isolation, [row(isolated, community), row(fresh, community)])

    assert answer.status_code == 201, answer.text
    upgraded, started = answer.json()["orders"]
    assert upgraded["order_id"] == single.json()["order_id"]
    assert upgraded["events"] == ["IsolationLevelChanged", "IsolationExtended"]
    assert started["events"] == ["IsolationStarted"]
    kinds = [k for k, _ in await isolation_events(module_settings, f"isolation:{isolated}")]
    assert kinds == ["IsolationStarted", "IsolationLevelChanged", "IsolationExtended"]


async def test_a_row_of_another_community_refuses_the_list(
    isolation: ServiceProcess, registry_service: Upstream, record: ServiceRecord
) -> None:
    ours, theirs = new_id("c"), new_id("c")
    [neighbour] = await household(registry_service, isolation, ours, 1)
    [outsider] = await household(registry_service, isolation, theirs, 1)
    before = await record.count()

    answer = await send(isolation, [row(neighbour, ours), row(outsider, theirs)])

    assert answer.status_code == 422, answer.text
    assert refused_fields(answer) == ["orders[1].community_id"]
    assert f"a list is one community's: {ours}" in answer.text
    assert await record.count() == before


async def test_the_same_person_twice_in_a_list_refuses_it_naming_the_second_row(
    isolation: ServiceProcess, registry_service: Upstream, record: ServiceRecord
) -> None:
    community = new_id("c")
    first, second = await household(registry_service, isolation, community, 2)
    before = await record.count()

    answer = await send(
        isolation,
        [row(first, community), row(second, community), row(first, community, level="centralized")],
    )

    assert answer.status_code == 422, answer.text
    assert refused_fields(answer) == ["orders[2].person_id"]
    assert "the same person as row 0" in answer.text
    assert await record.count() == before


async def test_hostile_lists_get_a_4xx_naming_the_field_and_record_nothing(
    isolation: ServiceProcess, registry_service: Upstream, record: ServiceRecord
) -> None:
    community = new_id("c")
    [person] = await household(registry_service, isolation, community, 1)
    good = row(person, community)
    many = [row(f"p{i:05d}", community, unregistered=True) for i in range(1001)]
    before = await record.count()

    answers = {
        "empty": await send(isolation, []),
        "too many": await send(isolation, many),
        "ID number as person": await send(isolation, [good, row("110101199003077777", community)]),
        "never heard of": await send(isolation, [good, row(new_id("stranger"), community)]),
        "not a list": await call(isolation, STAFF, "POST", BATCH, json=[good]),
    }
    oversized = await call(
        isolation, STAFF, "POST", BATCH,
        content=b'{"orders": [' + b" " * (5 * 1024 * 1024) + b"]}",
        headers={"content-type": "application/json"},
    )  # fmt: skip

    assert {k: a.status_code for k, a in answers.items()} == dict.fromkeys(answers, 422)
    assert refused_fields(answers["empty"]) == refused_fields(answers["too many"]) == ["orders"]
    assert refused_fields(answers["ID number as person"]) == ["orders[1].person_id"]
    assert refused_fields(answers["never heard of"]) == ["orders[1].person_id"]
    assert '"unregistered": true' in answers["never heard of"].json()["detail"][0]["msg"]
    assert oversized.status_code == 413
    assert await record.count() == before
    assert await active_level(isolation, person) is None

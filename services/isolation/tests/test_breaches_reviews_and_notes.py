"""Rules that hold for the person, with the isolation service's own process, real Kafka and
PostgreSQL: a denied exit at the gate is one breach however often its record is delivered,
a staff report of the same breach does not double it, a retried command records nothing
new, a corrected positive sends its orders to the office (or ends them, by policy), and
what staff write in their own words never reaches the topic."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from aiokafka import AIOKafkaProducer
from isolation_harness import (
    LAB,
    STAFF,
    TIMEOUT,
    call,
    household,
    isolation_events,
    known,
    new_id,
    order_level,
)

from cordon_contracts.gate import ExitDenied
from cordon_core.envelope import EventMetadata, PendingEvent
from cordon_core.privacy import personal_numbers
from cordon_core.settings import ServiceSettings
from cordon_testing import ServiceProcess, read_topic, wait_until
from cordon_testing.kafka import header
from cordon_testing.upstream import Upstream

HOSTILE = "王五身份证110101199003071234 电话13800138000 住3号楼"


async def place_home_order(isolation: ServiceProcess, person: str, **extra: Any) -> str:
    placed = await call(
        isolation, STAFF, "POST", "/v1/orders",
        json={"person_id": person, "level": "home", "community_id": "maple", "days": 14,
              "reason_code": "close_contact", "unregistered": True, **extra},
    )  # fmt: skip
    assert placed.status_code == 201, placed.text
    order_id: str = placed.json()["order_id"]
    return order_id


async def deny_exit(gate: Upstream, person: str, checkpoint: str, at: datetime) -> uuid.UUID:
    """The gate's ExitDenied for ``person`` (isolated), published on the gate topic."""
    event_id = uuid.uuid4()
    denial = ExitDenied.model_validate(
        {"scan_id": new_id("scan"), "checkpoint_id": checkpoint, "community_id": "maple",
         "compound_id": "maple-1", "direction": "out", "scanned_at": at,
         "subject_kind": "resident", "person_id": person, "temperature_c": 36.5,
         "health_code": "green", "itinerary_risk": False, "policy_version": 0,
         "status_as_of": at, "reasons": ["isolated"], "alerts": ["isolated_exit_attempt"]}
    )  # fmt: skip
    await gate.runtime.store.append(
        f"scan:{checkpoint}:{denial.scan_id}",
        [PendingEvent(denial, event_id=event_id)],
        expected_version=None,
        metadata=EventMetadata.new(actor=f"device:{checkpoint}-pad", district="d"),
        partition_key=checkpoint,
    )
    return event_id


async def breaches_of(settings: ServiceSettings, person: str) -> list[dict[str, Any]]:
    return [p for k, p in await isolation_events(settings, f"isolation:{person}")
            if k == "IsolationBreached"]  # fmt: skip


async def test_a_denied_exit_is_one_breach_even_when_its_record_is_delivered_twice(
    isolation: ServiceProcess, gate_stand_in: Upstream, module_settings: ServiceSettings
) -> None:
    person, marker = new_id("p"), new_id("p")
    checkpoint = new_id("cp")
    await place_home_order(isolation, person)
    await place_home_order(isolation, marker)
    gate_topic = f"{module_settings.topic_prefix}.gate.events"

    denied = await deny_exit(gate_stand_in, person, checkpoint, datetime.now(UTC))
    first = await wait_until(
        lambda: breaches_of(module_settings, person), until=lambda b: len(b) == 1,
        timeout=TIMEOUT, what="the breach recorded from the gate's denial",
    )  # fmt: skip
    [record] = [
        r for r in await read_topic(module_settings.kafka_bootstrap, gate_topic, timeout=20)
        if header(r, "ce_id") == str(denied)
    ]  # fmt: skip
    producer = AIOKafkaProducer(bootstrap_servers=module_settings.kafka_bootstrap)
    await producer.start()
    try:  # the very same record again, as a relay republishing after a crash would
        await producer.send_and_wait(
            gate_topic, record.value, key=record.key, headers=list(record.headers)
        )
    finally:
        await producer.stop()
    # A later denial on the same checkpoint (same partition, after the duplicate): once it
    # is recorded, the duplicate has been consumed.
    await deny_exit(gate_stand_in, marker, checkpoint, datetime.now(UTC))
    await wait_until(
        lambda: breaches_of(module_settings, marker), until=lambda b: len(b) == 1,
        timeout=TIMEOUT, what="the marker's breach",
    )  # fmt: skip

    assert await breaches_of(module_settings, person) == first
    [breach] = first
    assert breach["breach_id"] == f"gate:{denied}" and breach["gate_event_id"] == str(denied)
    assert (breach["kind"], breach["escalated_to"], breach["checkpoint_id"]) == (
        "exit_denied_at_gate", "sub_district", checkpoint,
    )  # fmt: skip


async def test_a_staff_report_of_the_gate_breach_does_not_double_it(
    isolation: ServiceProcess, gate_stand_in: Upstream, module_settings: ServiceSettings
) -> None:
    by_time, by_event = new_id("p"), new_id("p")
    at = datetime.now(UTC)
    for person in (by_time, by_event):
        await place_home_order(isolation, person)
    denials = {p: await deny_exit(gate_stand_in, p, new_id("cp"), at) for p in (by_time, by_event)}
    for person in (by_time, by_event):
        await wait_until(
            lambda person=person: breaches_of(module_settings, person),  # type: ignore[misc]
            until=lambda b: len(b) == 1, timeout=TIMEOUT, what="the automatic breach",
        )  # fmt: skip

    near = await call(
        isolation, STAFF, "POST", f"/v1/people/{by_time}/isolation/breaches",
        json={"kind": "left_home", "reported_by": "cadre-1",
              "observed_at": (at + timedelta(minutes=10)).isoformat()},
    )  # fmt: skip
    named = await call(
        isolation, STAFF, "POST", f"/v1/people/{by_event}/isolation/breaches",
        json={"kind": "left_home", "reported_by": "cadre-1",
              "gate_event_id": str(denials[by_event])},
    )  # fmt: skip

    assert near.json()["already_recorded_as"] == f"gate:{denials[by_time]}", near.text
    assert named.json()["already_recorded_as"] == f"gate:{denials[by_event]}", named.text
    assert near.json()["events"] == named.json()["events"] == []
    assert len(await breaches_of(module_settings, by_time)) == 1
    assert len(await breaches_of(module_settings, by_event)) == 1


async def test_the_same_breach_report_three_times_is_one_breach(
    isolation: ServiceProcess, module_settings: ServiceSettings
) -> None:
    person = new_id("p")
    await place_home_order(isolation, person)
    body = {"breach_id": new_id("b"), "kind": "received_visitor", "reported_by": "cadre-1",
            "escalated_to": "sub_district"}  # fmt: skip
    path = f"/v1/people/{person}/isolation/breaches"
    key = {"Idempotency-Key": str(uuid.uuid4())}

    first = await call(isolation, STAFF, "POST", path, json=body, headers=key)
    replayed = await call(isolation, STAFF, "POST", path, json=body, headers=key)
    new_key = await call(
        isolation, STAFF, "POST", path, json=body, headers={"Idempotency-Key": "another"}
    )

    assert first.status_code == 201 and first.json()["events"] == ["IsolationBreached"]
    assert (replayed.json(), replayed.headers.get("Idempotent-Replayed")) == (first.json(), "true")
    assert new_key.json()["events"] == []
    assert new_key.json()["already_recorded_as"] == body["breach_id"]
    assert len(await breaches_of(module_settings, person)) == 1


async def test_a_retried_order_with_its_key_records_nothing_new(
    isolation: ServiceProcess, module_settings: ServiceSettings
) -> None:
    person = new_id("p")
    body = {"person_id": person, "level": "home", "community_id": "maple", "days": 14,
            "unregistered": True}  # fmt: skip
    key = {"Idempotency-Key": str(uuid.uuid4())}

    answers = [
        await call(isolation, STAFF, "POST", "/v1/orders", json=body, headers=key) for _ in range(3)
    ]

    assert [a.status_code for a in answers] == [201, 201, 201]
    assert answers[1].json() == answers[2].json() == answers[0].json()
    assert [k for k, _ in await isolation_events(module_settings, f"isolation:{person}")] == [
        "IsolationStarted"
    ]


async def positive_then_corrected(
    isolation: ServiceProcess, registry_service: Upstream, community: str
) -> tuple[str, str, str]:
    """A household of two; the first tests positive (both isolated), then the lab corrects
    the result to negative. Returns the two people and the sample."""
    positive, partner = await household(registry_service, isolation, community, 2)
    sample = new_id("s")
    row = {"sample_id": sample, "person_id": positive,
           "collected_at": datetime.now(UTC).isoformat()}  # fmt: skip
    sent = await call(
        isolation, LAB, "POST", "/v1/lab/results", json={"results": [{**row, "result": "positive"}]}
    )
    assert sent.status_code == 200, sent.text
    await order_level(isolation, positive, "centralized")
    await order_level(isolation, partner, "home")
    fixed = await call(
        isolation, LAB, "POST", "/v1/lab/results", json={"results": [{**row, "result": "negative"}]}
    )
    assert fixed.json()["corrected"] == 1, fixed.text
    return positive, partner, sample


async def test_a_corrected_positive_puts_its_orders_on_the_offices_list_to_confirm(
    isolation: ServiceProcess, registry_service: Upstream, module_settings: ServiceSettings
) -> None:
    review = {"corrected_positive": "review"}
    policy = await call(isolation, STAFF, "PUT", "/v1/policy", json=review)
    assert policy.status_code == 200, policy.text
    community = new_id("c")
    positive, partner, sample = await positive_then_corrected(
        isolation, registry_service, community
    )

    listed = await wait_until(
        lambda: call(isolation, STAFF, "GET", f"/v1/reviews?community_id={community}"),
        until=lambda r: len(r.json()) == 2, timeout=TIMEOUT, what="two orders to review",
    )  # fmt: skip
    reviews = {r["person_id"]: r for r in listed.json()}
    ended = await call(
        isolation, STAFF, "POST", f"/v1/reviews/{reviews[positive]['review_id']}/settle",
        json={"outcome": "ended", "settled_by": "office-1", "note": HOSTILE},
    )  # fmt: skip
    kept = await call(
        isolation, STAFF, "POST", f"/v1/reviews/{reviews[partner]['review_id']}/settle",
        json={"outcome": "kept", "settled_by": "office-1"},
    )  # fmt: skip
    again = await call(
        isolation, STAFF, "POST", f"/v1/reviews/{reviews[partner]['review_id']}/settle",
        json={"outcome": "ended", "settled_by": "office-1"},
    )  # fmt: skip

    assert {r["sample_id"] for r in reviews.values()} == {sample}
    assert {r["reason_code"] for r in reviews.values()} == {"positive_corrected"}
    assert ended.json()["events"] == ["IsolationReviewSettled", "IsolationEnded"], ended.text
    assert (ended.json()["status"], kept.json()["status"]) == ("ended", "kept")
    assert (again.json()["events"], again.json()["status"]) == ([], "kept")
    assert (await known(isolation, positive))["order"] is None
    assert (await known(isolation, partner))["order"]["level"] == "home"
    events = await isolation_events(module_settings, f"isolation:{positive}")
    [end] = [p for k, p in events if k == "IsolationEnded"]
    assert end["reason_code"] == "positive_corrected"
    assert end["review_id"] == reviews[positive]["review_id"]
    open_now = await call(isolation, STAFF, "GET", f"/v1/reviews?community_id={community}")
    assert open_now.json() == []


async def test_by_policy_a_corrected_positive_ends_its_orders_with_the_reason(
    isolation: ServiceProcess, registry_service: Upstream, module_settings: ServiceSettings
) -> None:
    policy = await call(isolation, STAFF, "PUT", "/v1/policy", json={"corrected_positive": "end"})
    community = new_id("c")
    positive, partner, sample = await positive_then_corrected(
        isolation, registry_service, community
    )

    for person in (positive, partner):
        await wait_until(
            lambda person=person: known(isolation, person),  # type: ignore[misc]
            until=lambda p: p["order"] is None, timeout=TIMEOUT, what=f"{person}'s order to end",
        )  # fmt: skip

    for person in (positive, partner):
        [end] = [p for k, p in await isolation_events(module_settings, f"isolation:{person}")
                 if k == "IsolationEnded"]  # fmt: skip
        assert end["reason_code"] == "positive_corrected"
        assert end["policy_version"] == policy.json()["version"]
        assert f"sample {sample} corrected to negative" in end["rule"]
    await call(isolation, STAFF, "PUT", "/v1/policy", json={"corrected_positive": "review"})


async def test_staff_notes_stay_private_and_the_topic_carries_codes(
    isolation: ServiceProcess, module_settings: ServiceSettings
) -> None:
    person = new_id("p")
    placed = await call(
        isolation, STAFF, "POST", "/v1/orders",
        json={"person_id": person, "level": "home", "community_id": "maple", "days": 14,
              "reason_code": "close_contact", "note": HOSTILE, "unregistered": True,
              "place": {"kind": "facility", "place_id": "hotel-3", "room": f"房间{HOSTILE}"}},
    )  # fmt: skip
    checked = await call(
        isolation, STAFF, "POST", f"/v1/people/{person}/isolation/check-ins",
        json={"recorded_by": "doctor-1", "symptoms": ["咳嗽13800138000"]},
    )  # fmt: skip
    cancelled = await call(
        isolation, STAFF, "POST", f"/v1/people/{person}/isolation/cancel",
        json={"reason_code": "wrong_person", "reason": HOSTILE},
    )  # fmt: skip
    assert (placed.status_code, checked.status_code, cancelled.status_code) == (201, 201, 200)

    events = dict(await isolation_events(module_settings, f"isolation:{person}"))
    started, ended = events["IsolationStarted"], events["IsolationCancelled"]
    note = await call(isolation, STAFF, "GET", f"/v1/notes/{started['note_id']}")
    records = await read_topic(
        module_settings.kafka_bootstrap, f"{module_settings.topic_prefix}.isolation.events",
        timeout=20,
    )  # fmt: skip
    ours = [r for r in records if json.loads(r.value).get("person_id") == person]

    assert (started["reason_code"], started["reason"]) == ("close_contact", "close contact (密接)")
    assert (ended["reason_code"], ended["reason"]) == ("wrong_person", "wrong person")
    assert note.json()["body"] == HOSTILE
    assert len(ours) == 3
    assert [personal_numbers(r.value.decode()) for r in ours] == [[], [], []]


async def test_publishing_the_policy_in_force_again_records_nothing(
    isolation: ServiceProcess, module_settings: ServiceSettings
) -> None:
    body = {"fever_monitoring_days": 9, "breach_match_minutes": 45}

    first = await call(isolation, STAFF, "PUT", "/v1/policy", json=body)
    again = await call(isolation, STAFF, "PUT", "/v1/policy", json=body)
    await call(isolation, STAFF, "PUT", "/v1/policy", json={})  # back to the defaults

    assert first.status_code == again.status_code == 200
    assert again.json() == first.json() and first.json()["breach_match_minutes"] == 45
    published = await isolation_events(
        module_settings, f"isolation-policy:{module_settings.district}"
    )
    assert [p["version"] for _, p in published].count(first.json()["version"]) == 1

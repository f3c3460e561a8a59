"""The gate as it runs: its own OS process, real Kafka and PostgreSQL, the registry's and
isolation's events arriving on their topics. Every decision rule, idempotent retries,
passes across midnight, bad input, and decisions while the isolation service is down."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections import Counter
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from gate_harness import T0, Community, isolate, resident

from cordon_contracts import isolation, lab
from cordon_core.kafka import make_producer
from cordon_core.runtime import ServiceRuntime
from cordon_core.settings import ServiceSettings
from cordon_testing import ServiceProcess, wait_until
from cordon_testing.kafka import header, read_topic
from cordon_testing.upstream import Upstream


async def test_a_registered_resident_enters_and_exits_and_the_decision_names_its_freshness(
    community: Community, registry_service: Upstream, module_settings: ServiceSettings
) -> None:
    person = await resident(community, registry_service)

    entered = await community.decision(person_id=person)
    exited = await community.decision(person_id=person, direction="out")

    assert (entered["decision"], entered["event_type"]) == ("allow", "PersonEntered")
    assert (exited["decision"], exited["event_type"]) == ("allow", "PersonExited")
    assert entered["status_as_of"] is not None and entered["policy_version"] == 0


async def test_a_fever_is_denied_and_reported_as_fever_detected_on_kafka(
    community: Community, registry_service: Upstream, module_settings: ServiceSettings
) -> None:
    person = await resident(community, registry_service)

    d = await community.decision(person_id=person, temperature_c=37.3)

    assert (d["decision"], d["reasons"], d["alerts"]) == ("deny", ["fever"], ["fever"])
    records = await read_topic(
        module_settings.kafka_bootstrap, f"{module_settings.topic_prefix}.gate.events", timeout=20
    )
    fevers = [
        r
        for r in records
        if header(r, "ce_type") == "cordon.FeverDetected"
        and header(r, "ce_community") == community.id
    ]
    assert len(fevers) == 1


async def test_red_and_yellow_codes_follow_the_community_policy_version(
    community: Community, registry_service: Upstream
) -> None:
    person = await resident(community, registry_service)

    red = await community.decision(person_id=person, health_code="red")
    yellow = await community.decision(person_id=person, health_code="yellow")
    published = await community.admin(
        "PUT", f"/v1/communities/{community.id}/gate-policy", {"yellow_code": "alert"}
    )
    yellow_later = await community.decision(person_id=person, health_code="yellow")

    assert (red["decision"], red["reasons"], red["alerts"]) == ("deny", ["red_code"], ["red_code"])
    assert (yellow["decision"], yellow["policy_version"]) == ("deny", 0)
    assert published.json()["version"] == 1
    assert (yellow_later["decision"], yellow_later["alerts"]) == ("allow", ["yellow_code"])
    assert yellow_later["policy_version"] == 1


async def test_exit_denied_while_home_isolation_is_active_and_allowed_after_release(
    community: Community, registry_service: Upstream, isolation_service: Upstream
) -> None:
    person = await resident(community, registry_service)
    order = await isolate(isolation_service, community, person, "home")

    denied = await community.decision(person_id=person, direction="out")
    await isolation_service.publish(
        f"person:{person}",
        isolation.IsolationEnded(
            order_id=order,
            person_id=person,
            ended_at=T0 + timedelta(days=14),
            rule="14 days, 2 negatives",
        ),
    )
    await wait_until(
        lambda: community.status(person),
        until=lambda s: s is not None and s["isolation_level"] is None,
        what="the release",
    )
    released = await community.decision(person_id=person, direction="out")

    assert (denied["decision"], denied["reasons"]) == ("deny", ["isolated"])
    assert denied["alerts"] == ["isolated_exit_attempt"]
    assert released["decision"] == "allow"


async def test_centralized_isolation_denies_exit_and_monitoring_follows_the_policy(
    community: Community, registry_service: Upstream, isolation_service: Upstream
) -> None:
    centralized = await resident(community, registry_service)
    monitored = await resident(community, registry_service)
    await isolate(isolation_service, community, centralized, "centralized")
    await isolate(isolation_service, community, monitored, "monitoring")

    assert (await community.decision(person_id=centralized, direction="out"))["reasons"] == [
        "isolated"
    ]
    relaxed = await community.decision(person_id=monitored, direction="out")
    await community.admin(
        "PUT", f"/v1/communities/{community.id}/gate-policy", {"health_monitoring_exit": "deny"}
    )
    strict = await community.decision(person_id=monitored, direction="out")

    assert (relaxed["decision"], relaxed["alerts"]) == ("allow", ["health_monitoring_exit"])
    assert (strict["decision"], strict["reasons"]) == ("deny", ["health_monitoring"])


async def test_decisions_go_on_while_the_isolation_service_is_stopped(
    gate: ServiceProcess, module_settings: ServiceSettings, registry_service: Upstream
) -> None:
    community = await Community(gate, f"c{uuid.uuid4().hex[:8]}").register()
    person = await resident(community, registry_service)
    contracts = isolation.registry
    async with ServiceRuntime(
        service="isolation", settings=module_settings, registry=contracts
    ).running() as runtime:
        await isolate(Upstream(runtime), community, person, "home")
    stopped_at = datetime.now(UTC)  # the isolation service is now down

    d = await community.decision(person_id=person, direction="out")

    assert (d["decision"], d["reasons"]) == ("deny", ["isolated"])
    assert datetime.fromisoformat(d["status_as_of"]) < stopped_at


async def test_a_checkpoint_can_require_a_negative_test_within_48_hours(
    gate: ServiceProcess, registry_service: Upstream, isolation_service: Upstream
) -> None:
    community = await Community(gate, f"c{uuid.uuid4().hex[:8]}").register(
        requires_negative_test=True
    )
    person = await resident(community, registry_service)
    scanned = T0 + timedelta(days=3)

    untested = await community.decision(person_id=person, scanned_at=scanned.isoformat())
    await isolation_service.publish(
        f"person:{person}",
        lab.TestResultReceived(
            sample_id=f"s{uuid.uuid4().hex[:8]}",
            person_id=person,
            collected_at=scanned - timedelta(hours=30),
            result="negative",
            lab="district hospital",
        ),
    )
    await wait_until(
        lambda: community.status(person),
        until=lambda s: s is not None and s["last_negative_test_at"] is not None,
        what="the test result",
    )
    tested = await community.decision(person_id=person, scanned_at=scanned.isoformat())
    two_days_later = await community.decision(
        person_id=person, scanned_at=(scanned + timedelta(hours=20)).isoformat()
    )

    assert (untested["decision"], untested["reasons"]) == ("deny", ["no_recent_negative_test"])
    assert tested["decision"] == "allow"
    assert two_days_later["reasons"] == ["no_recent_negative_test"], "50 h old by then"


async def test_a_result_from_the_future_never_hides_a_real_negative_and_a_correction_counts(
    gate: ServiceProcess, registry_service: Upstream, isolation_service: Upstream
) -> None:
    community = await Community(gate, f"c{uuid.uuid4().hex[:8]}").register(
        requires_negative_test=True
    )
    person = await resident(community, registry_service)
    real = T0 + timedelta(days=3)
    scanned = (real + timedelta(hours=2)).isoformat()

    async def result(sample: str, collected: datetime, result: str, previous: str = "") -> None:
        fields = dict(sample_id=sample, person_id=person, collected_at=collected, lab="hospital")
        await isolation_service.publish(
            f"person:{person}",
            lab.TestResultCorrected(
                **fields, previous_result=previous, result=result, reason="re-run"
            )
            if previous
            else lab.TestResultReceived(**fields, result=result),
        )

    async def last_negative(expected: datetime | None) -> None:
        await wait_until(
            lambda: community.status(person),
            until=lambda s: s is not None and _instant(s["last_negative_test_at"]) == expected,
            what=f"the gate's latest negative to be {expected}",
        )

    typo, sample = f"s{uuid.uuid4().hex[:8]}", f"s{uuid.uuid4().hex[:8]}"
    await result(typo, datetime(2099, 4, 3, tzinfo=UTC), "negative")
    await result(sample, real, "negative")
    await last_negative(real)
    with_the_real_one = await community.decision(person_id=person, scanned_at=scanned)
    await result(sample, real, "positive", previous="negative")
    await last_negative(None)
    after_the_correction = await community.decision(person_id=person, scanned_at=scanned)

    assert with_the_real_one["decision"] == "allow", with_the_real_one
    assert after_the_correction["reasons"] == ["no_recent_negative_test"]


async def test_a_non_resident_must_register_as_a_visitor_whose_details_stay_private(
    community: Community, module_settings: ServiceSettings
) -> None:
    visitor = {
        "document_type": "resident_id",
        "document_number": "11010519491231002X",
        "name": "张三",
        "phone": "13800138000",
        "reason": "visiting parents",
    }

    stranger = await community.decision(person_id="nobody-we-know")
    registered = await community.decision(visitor=visitor)
    await community.admin(
        "PUT", f"/v1/communities/{community.id}/gate-policy", {"visitors": "refuse"}
    )
    refused = await community.decision(visitor=visitor)

    assert (stranger["decision"], stranger["reasons"]) == ("deny", ["not_a_resident"])
    assert registered["decision"] == "allow"
    assert (refused["decision"], refused["reasons"]) == ("deny", ["visitors_refused"])
    records = await read_topic(
        module_settings.kafka_bootstrap, f"{module_settings.topic_prefix}.gate.events", timeout=20
    )
    ours = [r for r in records if header(r, "ce_community") == community.id]
    assert any(header(r, "ce_type") == "cordon.VisitorRegistered" for r in ours)
    wire = b"".join(r.value for r in ours)
    assert b"11010519491231002X" not in wire and b"13800138000" not in wire
    assert "张三".encode() not in wire


async def test_a_one_exit_a_day_pass_resets_at_local_midnight(
    community: Community, registry_service: Upstream
) -> None:
    holder = await resident(community, registry_service)
    code = (await community.issue_pass(holder, "temporary", days=7, daily_exit_quota=1))[
        "pass_code"
    ]
    local = "+08:00"
    day2, day3 = ((T0 + timedelta(days=n)).date().isoformat() for n in (1, 2))

    first = await community.decision(
        pass_code=code, direction="out", scanned_at=f"{day2}T23:30:00{local}"
    )
    second = await community.decision(
        pass_code=code, direction="out", scanned_at=f"{day2}T23:50:00{local}"
    )
    back_in = await community.decision(
        pass_code=code, direction="in", scanned_at=f"{day2}T23:55:00{local}"
    )
    next_day = await community.decision(
        pass_code=code, direction="out", scanned_at=f"{day3}T00:10:00{local}"
    )

    assert first["decision"] == "allow"
    assert (second["decision"], second["reasons"]) == ("deny", ["pass_quota_exhausted"])
    assert back_in["decision"] == "allow", "the quota counts exits only"
    assert next_day["decision"] == "allow", "a new local day, a new quota"


async def test_a_pass_revoked_on_the_spot_is_denied_and_an_unknown_one_too(
    community: Community, registry_service: Upstream
) -> None:
    holder = await resident(community, registry_service)
    issued = await community.issue_pass(holder, "service", days=30)

    before = await community.decision(pass_code=issued["pass_code"])
    revoked = await community.admin(
        "POST",
        f"/v1/passes/{issued['pass_id']}/revoke",
        {"reason_code": "pass_lent", "note": "lent to a neighbour"},
    )
    after = await community.decision(pass_code=issued["pass_code"])
    unknown = await community.decision(pass_code="not-a-real-pass-code")

    assert before["decision"] == "allow" and revoked.status_code == 200
    assert (after["decision"], after["reasons"]) == ("deny", ["pass_revoked"])
    assert unknown["reasons"] == ["pass_unknown"]


async def test_a_closed_checkpoint_refuses_scans_until_it_reopens(
    community: Community, registry_service: Upstream
) -> None:
    person = await resident(community, registry_service)

    await community.admin(
        "POST",
        f"/v1/checkpoints/{community.checkpoint}/close",
        {"reason_code": "gates_reduced", "note": "three gates reduced to one"},
    )
    closed = await community.decision(person_id=person)
    await community.admin(
        "POST", f"/v1/checkpoints/{community.checkpoint}/open", {"reason_code": "gates_restored"}
    )
    reopened = await community.decision(person_id=person)

    assert (closed["decision"], closed["reasons"]) == ("deny", ["checkpoint_closed"])
    assert reopened["decision"] == "allow"


async def test_a_retried_scan_gets_the_same_answer_and_records_nothing_more(
    community: Community, registry_service: Upstream, module_settings: ServiceSettings
) -> None:
    person = await resident(community, registry_service)
    scan_id = uuid.uuid4().hex

    first = await community.decision(scan_id=scan_id, person_id=person)
    # The device retries; meanwhile the person's temperature reading changed, yet the
    # scan was already decided: same answer, no second event.
    again = await community.decision(scan_id=scan_id, person_id=person, temperature_c=38.0)

    assert {**first, "duplicate": True} == again
    records = await read_topic(
        module_settings.kafka_bootstrap, f"{module_settings.topic_prefix}.gate.events", timeout=20
    )
    assert [header(r, "ce_id") for r in records].count(first["event_id"]) == 1


async def test_bad_input_is_refused_naming_the_field_and_nothing_is_recorded(
    community: Community, registry_service: Upstream
) -> None:
    person = await resident(community, registry_service)
    future = (datetime.now(UTC) + timedelta(hours=1)).isoformat()

    too_hot = await community.scan(person_id=person, temperature_c=47.0)
    no_subject = await community.scan()
    half_visitor = await community.scan(visitor={"document_type": "passport", "name": "Li"})
    from_the_future = await community.scan(person_id=person, scanned_at=future)
    other_gate = await community.scan(person_id=person, checkpoint_id="someone-elses-gate")
    phone_as_plate = await community.scan(person_id=person, vehicle_plate="电话13912345678")
    no_token = await httpx.AsyncClient(base_url=community.gate.url).post("/v1/scans", json={})

    def fields(response: httpx.Response) -> list[str]:
        return [".".join(str(p) for p in e["loc"][1:]) for e in response.json()["detail"]]

    assert too_hot.status_code == 422 and fields(too_hot) == ["temperature_c"]
    assert no_subject.status_code == 422 and "exactly one of person_id" in no_subject.text
    assert half_visitor.status_code == 422
    assert sorted(fields(half_visitor)) == [
        "visitor.document_number",
        "visitor.phone",
        "visitor.reason",
    ]
    assert from_the_future.status_code == 422 and fields(from_the_future) == ["scanned_at"]
    assert other_gate.status_code == 403
    assert phone_as_plate.status_code == 422 and fields(phone_as_plate) == ["vehicle_plate"]
    assert no_token.status_code == 401


async def test_a_batch_is_decided_in_order_and_with_one_bad_scan_none_is_recorded(
    community: Community, registry_service: Upstream
) -> None:
    holder = await resident(community, registry_service)
    code = (await community.issue_pass(holder, "exit_slip", days=1, daily_exit_quota=1))[
        "pass_code"
    ]

    def scan(scan_id: str, **fields: Any) -> dict[str, Any]:
        return {
            "scan_id": scan_id,
            "checkpoint_id": community.checkpoint,
            "direction": "out",
            "scanned_at": (T0 + timedelta(hours=2)).isoformat(),
            "temperature_c": 36.6,
            "health_code": "green",
            "pass_code": code,
            **fields,
        }

    async with httpx.AsyncClient(
        base_url=community.gate.url, headers={"Authorization": f"Bearer {community.token}"}
    ) as client:
        bad = await client.post(
            "/v1/scans/batch", json={"scans": [scan("b1"), scan("b2", temperature_c=10)]}
        )
        good = await client.post("/v1/scans/batch", json={"scans": [scan("b1"), scan("b2")]})

    assert bad.status_code == 422
    assert bad.json()["detail"][0]["loc"] == ["body", "scans", 1, "temperature_c"]
    assert [d["decision"] for d in good.json()] == ["allow", "deny"], "b1 was not recorded before"
    assert good.json()[1]["reasons"] == ["pass_quota_exhausted"]


async def test_the_kafka_feed_decides_raw_scans_once_and_sets_bad_ones_aside(
    community: Community, registry_service: Upstream, module_settings: ServiceSettings
) -> None:
    person = await resident(community, registry_service)
    prefix = module_settings.topic_prefix

    def raw(scan_id: str, **fields: Any) -> bytes:
        body = {
            "scan_id": scan_id,
            "checkpoint_id": community.checkpoint,
            "direction": "in",
            "scanned_at": T0.isoformat(),
            "temperature_c": 36.4,
            "health_code": "green",
            "person_id": person,
            **fields,
        }
        return json.dumps(body).encode()

    producer = make_producer(module_settings)
    await producer.start()
    try:
        for value in [
            raw("k1"),
            raw("k2", temperature_c=38.1),
            raw("k1"),  # a gateway's retry
            raw("k3", temperature_c="hot"),  # not a scan: dead-lettered
            raw("k4", checkpoint_id="nowhere-gate"),  # recorded as rejected
        ]:
            await producer.send_and_wait(
                f"{prefix}.gate.scans", value, key=community.checkpoint.encode()
            )
    finally:
        await producer.stop()

    async def ours() -> list[Any]:
        records = await read_topic(
            module_settings.kafka_bootstrap, f"{prefix}.gate.events", timeout=20
        )
        return [r for r in records if json.loads(r.value).get("scan_id") in {"k1", "k2", "k4"}]

    decided = await wait_until(
        ours, until=lambda rs: len(rs) >= 4, timeout=60, what="feed decisions"
    )
    dead = await read_topic(
        module_settings.kafka_bootstrap, f"{prefix}.dlq.gate-scan-feed", expect=1
    )

    kinds = sorted((json.loads(r.value)["scan_id"], header(r, "ce_type")) for r in decided)
    assert kinds == [
        ("k1", "cordon.PersonEntered"),
        ("k2", "cordon.EntryDenied"),
        ("k2", "cordon.FeverDetected"),
        ("k4", "cordon.ScanRejected"),
    ]
    assert "temperature_c" in (header(dead[0], "cordon_dlq_error") or "")


async def test_the_same_scan_sent_five_times_at_once_is_decided_once(
    community: Community, registry_service: Upstream, module_settings: ServiceSettings
) -> None:
    person = await resident(community, registry_service)
    scan_id = uuid.uuid4().hex

    answers = await asyncio.gather(
        *(community.decision(scan_id=scan_id, person_id=person) for _ in range(5))
    )

    assert len({a["event_id"] for a in answers}) == 1
    assert sorted(a["duplicate"] for a in answers) == [False, True, True, True, True]


async def test_a_one_exit_pass_scanned_five_times_at_once_lets_exactly_one_out(
    community: Community, registry_service: Upstream
) -> None:
    holder = await resident(community, registry_service)
    code = (await community.issue_pass(holder, "exit_slip", days=1, daily_exit_quota=1))[
        "pass_code"
    ]

    answers = await asyncio.gather(
        *(
            community.decision(
                pass_code=code, direction="out", scanned_at=(T0 + timedelta(hours=9)).isoformat()
            )
            for _ in range(5)
        )
    )

    assert sorted(a["decision"] for a in answers) == ["allow"] + ["deny"] * 4
    assert all(a["reasons"] == ["pass_quota_exhausted"] for a in answers if a["decision"] == "deny")


async def test_single_scans_from_two_gates_at_once_are_each_decided_once_in_their_devices_name(
    gate: ServiceProcess, registry_service: Upstream, module_settings: ServiceSettings
) -> None:
    east = await Community(gate, f"c{uuid.uuid4().hex[:8]}").register()
    west = Community(gate, east.id)
    west.checkpoint = f"{east.id}-west"
    await west.register()
    people = [await resident(east, registry_service) for _ in range(3)]

    answers = await asyncio.gather(
        *(
            side.decision(person_id=people[n % 3], temperature_c=37.5 if n % 10 == 0 else 36.5)
            for n in range(30)
            for side in (east, west)
        )
    )

    assert len({a["event_id"] for a in answers}) == 60
    assert sorted(a["decision"] for a in answers) == ["allow"] * 54 + ["deny"] * 6
    records = await read_topic(
        module_settings.kafka_bootstrap, f"{module_settings.topic_prefix}.gate.events", timeout=20
    )
    actors = Counter(
        (header(r, "ce_actor"), header(r, "ce_type"))
        for r in records
        if header(r, "ce_community") == east.id
    )
    for side in (east, west):
        device = f"device:{side.checkpoint}-pad"
        assert actors[(device, "cordon.PersonEntered")] == 27
        assert actors[(device, "cordon.EntryDenied")] == 3
        assert actors[(device, "cordon.FeverDetected")] == 3


async def test_batches_registering_the_same_visitors_in_opposite_orders_all_get_answers(
    gate: ServiceProcess,
) -> None:
    east = await Community(gate, f"c{uuid.uuid4().hex[:8]}").register()
    west = Community(gate, east.id)
    west.checkpoint = f"{east.id}-west"
    await west.register()
    visitors = [
        {
            "document_type": "passport",
            "document_number": f"E{n:08d}",
            "name": f"Visitor {n}",
            "phone": f"1380000{n:04d}",
            "reason": "delivery",
        }
        for n in range(40)
    ]

    async def send(side: Community, round_: int) -> httpx.Response:
        ordered = visitors if (round_ + (side is west)) % 2 else visitors[::-1]
        scans = [
            {
                "scan_id": uuid.uuid4().hex,
                "checkpoint_id": side.checkpoint,
                "direction": "in",
                "scanned_at": (T0 + timedelta(minutes=round_)).isoformat(),
                "temperature_c": 36.5,
                "health_code": "green",
                "visitor": v,
            }
            for v in ordered
        ]
        async with httpx.AsyncClient(
            base_url=gate.url, headers={"Authorization": f"Bearer {side.token}"}, timeout=30
        ) as client:
            return await client.post("/v1/scans/batch", json={"scans": scans})

    responses = await asyncio.gather(*(send(side, r) for r in range(6) for side in (east, west)))

    assert [r.status_code for r in responses] == [200] * 12, [r.text[:200] for r in responses]
    assert all(d["decision"] == "allow" for r in responses for d in r.json())


def _instant(text: str | None) -> datetime | None:
    return datetime.fromisoformat(text) if text else None

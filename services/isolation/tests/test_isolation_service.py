"""The isolation service as it runs: its own OS process beside a real gate process, real
Kafka and PostgreSQL, the registry's events published by a stand-in. Travel reports,
positive results and households, the gate's denial, release, lab intake, and a check-in
deadline that survives a restart."""

from __future__ import annotations

import asyncio
import csv
import io
import json
import os
import sys
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import asyncpg
import httpx
from isolation_harness import (
    GATE_ADMIN,
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

from cordon_contracts import registry
from cordon_core.settings import ServiceSettings
from cordon_testing import ServiceProcess, read_topic, wait_until
from cordon_testing.kafka import header
from cordon_testing.plugin import settings_env
from cordon_testing.upstream import Upstream


async def test_a_high_risk_travel_report_leads_to_home_isolation_by_policy_version_0(
    isolation: ServiceProcess, registry_service: Upstream, module_settings: ServiceSettings
) -> None:
    person = new_id("p")
    reported = datetime.now(UTC)

    await registry_service.publish(
        f"visit:{person}",
        registry.TravelHistoryReported(
            round_id="r1", visit_id=new_id("v"), person_id=person, household_id="h1",
            community_id="maple", area_code="420100", area_name="Wuhan", risk_level="high",
            stayed_from=date.today() - timedelta(days=5), stayed_until=date.today(),
            reported_at=reported,
        ),
    )  # fmt: skip
    found = await order_level(isolation, person, "home")

    assert found["order"]["community_id"] == "maple"
    [(kind, started)] = await isolation_events(module_settings, f"isolation:{person}")
    assert kind == "IsolationStarted" and started["policy_version"] == 0
    assert started["reason"] == "stayed in high-risk area 420100"
    ledger = (await call(isolation, STAFF, "GET", "/v1/ledger?community_id=maple")).json()
    assert any(row["level"] == "home" and person in row["person_ids"] for row in ledger)


async def test_a_positive_result_isolates_the_household_and_the_gate_denies_the_exit(
    isolation: ServiceProcess,
    gate: ServiceProcess,
    registry_service: Upstream,
    module_settings: ServiceSettings,
) -> None:
    community = new_id("c")
    checkpoint = f"{community}-east"
    registered = await call(
        gate, GATE_ADMIN, "POST", "/v1/checkpoints",
        json={"checkpoint_id": checkpoint, "community_id": community,
              "compound_id": f"{community}-compound", "name": "East gate"},
    )  # fmt: skip
    assert registered.status_code == 201, registered.text
    device = await call(
        gate, GATE_ADMIN, "POST", f"/v1/checkpoints/{checkpoint}/devices",
        json={"device_id": f"{checkpoint}-pad"},
    )  # fmt: skip
    positive, partner, child = await household(registry_service, isolation, community, 3)
    sample = new_id("s")
    collected = await call(
        isolation, STAFF, "POST", "/v1/samples",
        json=[{"sample_id": sample, "person_id": positive,
               "collected_at": datetime.now(UTC).isoformat()}],
    )  # fmt: skip
    assert collected.json() == {"recorded": 1, "already_recorded": 0}

    result = await call(
        isolation, LAB, "POST", "/v1/lab/results",
        json={"results": [{"sample_id": sample, "result": "positive"}]},
    )  # fmt: skip
    await order_level(isolation, positive, "centralized")
    await order_level(isolation, partner, "home")
    await order_level(isolation, child, "home")
    await wait_until(
        lambda: call(gate, GATE_ADMIN, "GET", f"/v1/people/{positive}/status"),
        until=lambda r: r.status_code == 200 and r.json()["isolation_level"] == "centralized",
        timeout=TIMEOUT,
        what="the gate to learn of the isolation",
    )
    scan = await call(
        gate, device.json()["token"], "POST", "/v1/scans",
        json={"scan_id": new_id("scan"), "checkpoint_id": checkpoint, "direction": "out",
              "scanned_at": datetime.now(UTC).isoformat(), "temperature_c": 36.5,
              "health_code": "green", "person_id": positive},
    )  # fmt: skip

    assert result.status_code == 200 and result.json()["received"] == 1
    assert (scan.json()["decision"], scan.json()["reasons"]) == ("deny", ["isolated"])
    breaches = await wait_until(
        lambda: isolation_events(module_settings, f"isolation:{positive}"),
        until=lambda events: any(kind == "IsolationBreached" for kind, _ in events),
        timeout=TIMEOUT,
        what="the denied exit recorded as a breach",
    )
    [breach] = [p for kind, p in breaches if kind == "IsolationBreached"]
    assert (breach["kind"], breach["checkpoint_id"]) == ("exit_denied_at_gate", checkpoint)
    assert breach["breach_id"] == f"gate:{breach['gate_event_id']}"


async def test_release_is_refused_without_the_negative_tests_and_granted_with_them(
    isolation: ServiceProcess, registry_service: Upstream
) -> None:
    [person] = await household(registry_service, isolation, "maple", 1)
    now = datetime.now(UTC)
    placed = await call(
        isolation, STAFF, "POST", "/v1/orders",
        json={"person_id": person, "level": "home", "community_id": "maple",
              "reason": "close contact", "starts_at": (now - timedelta(days=15)).isoformat(),
              "days": 14, "place": {"kind": "home", "place_id": "h-77"},
              "team": {"cadre_id": "cadre-1", "police_officer_id": "police-1",
                       "doctor_id": "doctor-1"}},
    )  # fmt: skip
    assert placed.status_code == 201, placed.text

    refused = await call(isolation, STAFF, "POST", f"/v1/people/{person}/isolation/release")
    csv_text = "\n".join(
        [
            "sample_id,person_id,collected_at,result",
            f"a{person},{person},{(now - timedelta(hours=30)).isoformat()},negative",
            f"b{person},{person},{(now - timedelta(hours=2)).isoformat()},negative",
        ]
    )
    uploaded = await call(
        isolation, LAB, "POST", "/v1/lab/results/csv", files={"file": ("batch.csv", csv_text)}
    )
    released = await call(isolation, STAFF, "POST", f"/v1/people/{person}/isolation/release")

    assert refused.status_code == 409
    assert [u["requirement"] for u in refused.json()["unmet"]] == ["negative_tests"]
    assert "found 0" in refused.json()["unmet"][0]["detail"]
    assert uploaded.status_code == 200 and uploaded.json()["received"] == 2
    assert released.status_code == 200, released.text
    assert released.json()["rule"].startswith("home: period ended and 2 negative test(s)")
    assert released.json()["negative_sample_ids"] == [f"a{person}", f"b{person}"]
    assert (await known(isolation, person))["order"] is None


async def test_a_duplicate_result_is_a_no_op_and_a_changed_one_a_correction(
    isolation: ServiceProcess, module_settings: ServiceSettings
) -> None:
    person, sample = new_id("p"), new_id("s")
    row = {"sample_id": sample, "person_id": person, "collected_at": datetime.now(UTC).isoformat()}

    async def post(result: str) -> dict[str, Any]:
        response = await call(
            isolation, LAB, "POST", "/v1/lab/results", json={"results": [{**row, "result": result}]}
        )
        assert response.status_code == 200, response.text
        body: dict[str, Any] = response.json()
        return body

    first = await post("negative")
    again = await post("negative")
    corrected = await post("invalid")

    assert (first["received"], again["duplicates"], corrected["corrected"]) == (1, 1, 1)
    events = await isolation_events(module_settings, f"sample:{sample}")
    assert [kind for kind, _ in events] == ["TestResultReceived", "TestResultCorrected"]
    assert (events[1][1]["previous_result"], events[1][1]["result"]) == ("negative", "invalid")
    records = await read_topic(
        module_settings.kafka_bootstrap, f"{module_settings.topic_prefix}.isolation.events",
        timeout=20,
    )  # fmt: skip
    ours = [header(r, "ce_type") for r in records if json.loads(r.value).get("sample_id") == sample]
    assert ours == ["cordon.TestResultReceived", "cordon.TestResultCorrected"]


async def test_a_csv_with_bad_rows_gets_an_exact_error_report_and_the_good_rows_count(
    isolation: ServiceProcess,
) -> None:
    person = new_id("p")
    at = datetime.now(UTC).isoformat()
    text = io.StringIO()
    writer = csv.writer(text)
    writer.writerows(
        [
            ["sample_id", "person_id", "collected_at", "result"],
            [new_id("s"), person, at, "negative"],  # row 2: fine
            [new_id("s"), person, at, "maybe"],  # row 3
            ["", person, at, "negative"],  # row 4
            [new_id("s"), "", at, "positive"],  # row 5: nobody to match
            [new_id("s"), person, "2022-13-45", "negative"],  # row 6
            [new_id("s"), person, at, "阴性", "extra"],  # row 7
            [new_id("s"), person, "", "negative"],  # row 8
        ]
    )

    response = await call(
        isolation, LAB, "POST", "/v1/lab/results/csv",
        files={"file": ("batch.csv", text.getvalue())},
    )  # fmt: skip

    assert response.status_code == 422
    report = response.json()
    assert (report["rows"], report["received"]) == (7, 1)
    assert report["errors"] == [
        {"row": 3, "column": "result", "reason": "must be negative, positive or invalid"},
        {"row": 4, "column": "sample_id", "reason": "required"},
        {"row": 5, "column": "sample_id", "reason": "unmatched: unknown sample and no person_id"},
        {"row": 6, "column": "collected_at", "reason": "not an ISO 8601 date-time"},
        {"row": 7, "column": "*", "reason": "more fields than the 4 columns"},
        {"row": 8, "column": "collected_at", "reason": "required for a sample not collected here"},
    ]


async def test_a_fever_at_the_gate_means_health_monitoring_and_a_test_request(
    isolation: ServiceProcess,
    gate: ServiceProcess,
    registry_service: Upstream,
    module_settings: ServiceSettings,
) -> None:
    community = new_id("c")
    checkpoint = f"{community}-north"
    await call(
        gate, GATE_ADMIN, "POST", "/v1/checkpoints",
        json={"checkpoint_id": checkpoint, "community_id": community,
              "compound_id": f"{community}-compound", "name": "North gate"},
    )  # fmt: skip
    token = (
        await call(
            gate,
            GATE_ADMIN,
            "POST",
            f"/v1/checkpoints/{checkpoint}/devices",
            json={"device_id": f"{checkpoint}-pad"},
        )
    ).json()["token"]
    [person] = await household(registry_service, isolation, community, 1)
    await wait_until(
        lambda: call(gate, GATE_ADMIN, "GET", f"/v1/people/{person}/status"),
        until=lambda r: r.status_code == 200,
        timeout=TIMEOUT,
        what="the gate to know the resident",
    )

    scan = await call(
        gate, token, "POST", "/v1/scans",
        json={"scan_id": new_id("scan"), "checkpoint_id": checkpoint, "direction": "in",
              "scanned_at": datetime.now(UTC).isoformat(), "temperature_c": 38.2,
              "health_code": "green", "person_id": person},
    )  # fmt: skip
    await order_level(isolation, person, "monitoring")

    assert scan.json()["reasons"] == ["fever"]
    conn = await asyncpg.connect(module_settings.database_url)
    try:
        requested = await conn.fetchval(
            "SELECT count(*) FROM isolation.events WHERE event_type = 'TestRequested'"
            " AND payload ->> 'person_id' = $1",
            person,
        )
    finally:
        await conn.close()
    assert requested == 1


async def test_daily_follow_up_of_an_order_that_a_second_reason_upgrades_then_cancelled(
    isolation: ServiceProcess, registry_service: Upstream
) -> None:
    [person] = await household(registry_service, isolation, "maple", 1)
    base = f"/v1/people/{person}/isolation"
    order = {"person_id": person, "community_id": "maple", "reason": "close contact", "days": 7}

    async def staff(method: str, path: str, body: Any = None) -> httpx.Response:
        return await call(isolation, STAFF, method, path, json=body)

    started = await staff("POST", "/v1/orders", {**order, "level": "home"})
    upgraded = await staff("POST", "/v1/orders", {**order, "level": "centralized", "days": 14})
    steps = [
        await staff("POST", f"{base}/check-ins",
                    {"temperature_c": 36.6, "symptoms": ["cough"], "mood_call": "ok",
                     "recorded_by": "doctor-1"}),
        await staff("POST", f"{base}/support-requests", {"request_id": "r1", "kind": "medicine"}),
        await staff("POST", f"{base}/support-requests/r1/delivered", {"delivered_by": "vol-1"}),
        await staff("POST", f"{base}/breaches",
                    {"kind": "left_home", "reported_by": "cadre-1", "escalated_to": "police"}),
        await staff("POST", f"{base}/documents/notice/issued", {"issued_by": "cadre-1"}),
        await staff("POST", f"{base}/documents/notice/signed"),
        await staff("PUT", f"{base}/team",
                    {"cadre_id": "cadre-1", "police_officer_id": "police-1",
                     "doctor_id": "doctor-1"}),
    ]  # fmt: skip
    unknown_delivery = await staff(
        "POST", f"{base}/support-requests/r9/delivered", {"delivered_by": "v"}
    )
    unissued = await staff("POST", f"{base}/documents/door_sign/signed")
    during = await known(isolation, person)
    cancelled = await staff("POST", f"{base}/cancel", {"reason": "entered in error"})
    no_order = await staff("POST", f"{base}/check-ins", {"recorded_by": "doctor-1"})

    assert started.json()["events"] == ["IsolationStarted"]
    assert upgraded.json()["events"] == ["IsolationLevelChanged", "IsolationExtended"]
    assert upgraded.json()["order_id"] == started.json()["order_id"], "one order per person"
    assert [r.status_code for r in steps] == [201, 201, 200, 201, 200, 200, 200]
    assert (unknown_delivery.status_code, unissued.status_code) == (404, 409)
    assert during["order"]["level"] == "centralized"
    assert during["order"]["documents_signed"] == ["notice"]
    assert during["order"]["open_support_requests"] == {}
    assert during["order"]["team"]["doctor_id"] == "doctor-1"
    assert cancelled.json()["events"] == ["IsolationCancelled"]
    assert no_order.status_code == 404


async def test_the_cli_records_a_lab_csv_and_exits_1_naming_the_bad_row(
    isolation: ServiceProcess, module_settings: ServiceSettings, tmp_path: Path
) -> None:
    person = new_id("p")
    batch = tmp_path / "batch.csv"
    batch.write_text(
        "sample_id,person_id,collected_at,result\n"
        f"{new_id('s')},{person},{datetime.now(UTC).isoformat()},positive\n"
        f"{new_id('s')},{person},,negative\n",
        encoding="utf-8",
    )

    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "cordon_isolation.cli", "results", str(batch), "--lab", "cdc",
        env={**os.environ, **settings_env(module_settings)},
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    stdout, stderr = await asyncio.wait_for(process.communicate(), TIMEOUT)
    report = json.loads(stdout)

    assert process.returncode == 1, stderr.decode()
    assert (report["received"], report["errors"]) == (
        1,
        [
            {
                "row": 3,
                "column": "collected_at",
                "reason": "required for a sample not collected here",
            }
        ],
    )
    await order_level(isolation, person, "centralized")


async def test_a_missed_check_in_fires_once_after_a_restart(
    isolation: ServiceProcess, module_settings: ServiceSettings, registry_service: Upstream
) -> None:
    """Runs last: it restarts the module's process and shortens the check-in period."""
    policy = await call(isolation, STAFF, "PUT", "/v1/policy", json={"check_in_interval_s": 10})
    [person] = await household(registry_service, isolation, "maple", 1)
    placed = await call(
        isolation, STAFF, "POST", "/v1/orders",
        json={"person_id": person, "level": "home", "community_id": "maple",
              "reason": "close contact", "days": 14},
    )  # fmt: skip
    assert placed.status_code == 201, placed.text
    isolation.stop()
    db = await asyncpg.connect(module_settings.database_url)
    try:

        async def timer() -> asyncpg.Record:
            row: asyncpg.Record = await db.fetchrow(
                "SELECT timer_id, due_at, fired_at, outcome FROM isolation.timers"
                " WHERE payload ->> 'person_id' = $1 ORDER BY due_at LIMIT 1",
                person,
            )
            return row

        pending = await timer()
        assert pending["fired_at"] is None and pending["due_at"] > datetime.now(UTC), "too slow"
        await wait_until(
            lambda: _now(),
            until=lambda now: now > pending["due_at"],
            timeout=TIMEOUT,
            what="the deadline to pass while the service is down",
        )
        assert (await timer())["fired_at"] is None
        isolation.start()
        fired = await wait_until(
            timer, until=lambda t: t["fired_at"] is not None, timeout=TIMEOUT, what="the timer"
        )
    finally:
        await db.close()

    assert policy.json()["version"] == 1 and fired["outcome"] == "missed"
    missed = [
        p
        for kind, p in await isolation_events(module_settings, f"isolation:{person}")
        if kind == "CheckInMissed"
    ]
    assert [datetime.fromisoformat(p["due_at"]) for p in missed][:1] == [pending["due_at"]]
    assert sum(datetime.fromisoformat(p["due_at"]) == pending["due_at"] for p in missed) == 1
    assert missed[0]["policy_version"] == 1


async def _now() -> datetime:
    return datetime.now(UTC)

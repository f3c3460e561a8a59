"""`cordon reconcile` against a real gate and projector: a clean run exits 0; an event
taken out of a read model, applied twice, or never applied is listed and exits 1."""

from __future__ import annotations

import json
import subprocess
import sys
import uuid
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import asyncpg
import httpx
import pytest

from cordon_core.settings import ServiceSettings
from cordon_ops.ledger import GateEvent, Observed, gate_read_models, reconcile
from cordon_testing import ServiceProcess, wait_until
from cordon_testing.devices import register_gate, visitor_scan
from cordon_testing.plugin import settings_env

ADMIN = "reconcile-admin-token"
TIMEZONE = "Asia/Shanghai"
DAY = datetime(2022, 4, 1, 8, 0, tzinfo=UTC)


@pytest.fixture(scope="module")
def env(module_settings: ServiceSettings) -> dict[str, str]:
    # The scans replay a fixed day of April 2022: open the gate's late-scan window to it.
    return {**settings_env(module_settings), "CORDON_GATE_ADMIN_TOKEN": ADMIN,
            "CORDON_TIMEZONE": TIMEZONE,
            "CORDON_MAX_SCAN_AGE_S": str(10 * 366 * 86400)}  # fmt: skip


@pytest.fixture(scope="module")
def services(
    env: dict[str, str], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[ServiceProcess, ServiceProcess]]:
    logs = tmp_path_factory.mktemp("reconcile-logs")
    gate = ServiceProcess("cordon_gate", env, logs).start(ready_timeout=180)
    projector = ServiceProcess("cordon_projector", env, logs).start(ready_timeout=180)
    yield gate, projector
    projector.stop()
    gate.stop()


@pytest.fixture(scope="module")
async def scans(
    services: tuple[ServiceProcess, ServiceProcess], module_settings: ServiceSettings
) -> dict[str, Any]:
    """Six visitors' scans at maple's gate (four in, two out), all shown by the projector."""
    gate, projector = services
    since = datetime.now(UTC) - timedelta(seconds=5)
    checkpoint, token = await register_gate(gate.url, ADMIN, "maple")
    bodies = [
        visitor_scan(f"s{n}", checkpoint, DAY + timedelta(minutes=n), "in" if n < 4 else "out")
        for n in range(6)
    ]
    async with httpx.AsyncClient(base_url=gate.url) as client:
        for body in bodies:
            answer = await client.post(
                "/v1/scans", json=body, headers={"Authorization": f"Bearer {token}"}
            )
            assert answer.status_code == 200, answer.text

    async def traffic() -> dict[str, Any]:
        async with httpx.AsyncClient(base_url=projector.url) as client:
            got = await client.get(
                "/v1/communities/maple/gate-traffic", params={"day": "2022-04-01"}
            )
            body: dict[str, Any] = got.json()
            return body

    await wait_until(traffic, until=lambda t: t["entries"] == 4 and t["exits"] == 2,
                     timeout=60, what="maple's passages in the projector")  # fmt: skip
    return {"since": since, "until": datetime.now(UTC) + timedelta(seconds=1)}


def run_reconcile(env: dict[str, str], scans: dict[str, Any]) -> tuple[int, dict[str, Any]]:
    result = subprocess.run(
        [sys.executable, "-m", "cordon_ops", "--since", scans["since"].isoformat(),
         "--until", scans["until"].isoformat(), "--json"],
        env=env, capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert result.stdout, result.stderr
    return result.returncode, json.loads(result.stdout)


@pytest.fixture
async def projector_db(module_settings: ServiceSettings) -> AsyncIterator[asyncpg.Connection]:
    conn = await asyncpg.connect(module_settings.database_url)
    yield conn
    await conn.close()


async def test_a_clean_run_counts_every_stage_and_exits_0(
    env: dict[str, str], scans: dict[str, Any]
) -> None:
    status, report = run_reconcile(env, scans)

    assert status == 0, report
    stages = {s["name"]: (s["count"], s["of"]) for s in report["stages"]}
    assert stages["accepted by the gate (its event store)"] == (10, 10)  # + 4 VisitorRegistered
    assert stages["applied by gate-traffic"] == (6, 6)
    assert stages["applied by live-gates"] == (10, 10)
    assert stages["shown in gate-traffic (whole buckets)"] == (6, 6)
    assert report["findings"] == []


async def test_a_passage_deleted_from_a_read_model_is_listed_and_exits_1(
    env: dict[str, str], scans: dict[str, Any], projector_db: asyncpg.Connection
) -> None:
    tamper = (
        "UPDATE projector.gate_traffic_daily SET exits = exits + $1 WHERE community_id = 'maple'"
    )
    await projector_db.execute(tamper, -1)
    try:
        status, report = run_reconcile(env, scans)
    finally:
        await projector_db.execute(tamper, 1)

    assert status == 1
    assert report["findings"] == [
        {"kind": "missing_from_read_model", "projection": "gate-traffic",
         "bucket": ["maple", "2022-04-01"], "column": "exits", "shown": 1, "expected": 2}
    ]  # fmt: skip


async def test_a_passage_applied_twice_is_listed_and_exits_1(
    env: dict[str, str], scans: dict[str, Any], projector_db: asyncpg.Connection
) -> None:
    minute = DAY + timedelta(minutes=2)
    tamper = ("UPDATE projector.gate_minute SET entries = entries + $1"
              " WHERE community_id = 'maple' AND minute = $2")  # fmt: skip
    await projector_db.execute(tamper, 1, minute)
    try:
        status, report = run_reconcile(env, scans)
    finally:
        await projector_db.execute(tamper, -1, minute)

    assert status == 1
    assert report["findings"] == [
        {"kind": "counted_twice", "projection": "live-gates",
         "bucket": ["maple", minute.isoformat(), "maple-east-gate"], "column": "entries",
         "shown": 2, "expected": 1}
    ]  # fmt: skip


async def test_an_event_the_projection_never_applied_is_named(
    env: dict[str, str], scans: dict[str, Any], projector_db: asyncpg.Connection
) -> None:
    row = await projector_db.fetchrow(
        "DELETE FROM projector.inbox WHERE consumer = 'projection-gate-traffic'"
        " AND event_id = (SELECT event_id FROM projector.inbox"
        "                 WHERE consumer = 'projection-gate-traffic' LIMIT 1)"
        " RETURNING event_id, processed_at"
    )
    try:
        status, report = run_reconcile(env, scans)
    finally:
        await projector_db.execute(
            "INSERT INTO projector.inbox (consumer, event_id, processed_at)"
            " VALUES ('projection-gate-traffic', $1, $2)",
            row["event_id"],
            row["processed_at"],
        )

    assert status == 1
    kinds = [(f["kind"], f.get("event_id")) for f in report["findings"]]
    assert ("not_applied", str(row["event_id"])) in kinds
    # Its passage is still counted, so the counter now shows one more than it applied.
    assert [f["kind"] for f in report["findings"] if "bucket" in f] == ["counted_twice"]


def test_an_event_that_never_reached_the_topic_is_named_once() -> None:
    at = DAY
    stored = GateEvent(uuid.uuid4(), "PersonEntered", "maple", "maple-east-gate", at)
    [traffic, live] = gate_read_models(ZoneInfo(TIMEZONE))
    observed = Observed(accepted=[stored], on_topic={}, inbox={}, bucket_events={}, shown={})

    report = reconcile(at, at + timedelta(hours=1), "t.gate.events", [traffic, live], observed)

    assert [(f.kind, f.event_id) for f in report.findings] == [
        ("not_published", str(stored.event_id))
    ]
    assert not report.clean


def test_a_record_published_twice_is_counted_but_not_a_finding() -> None:
    stored = GateEvent(uuid.uuid4(), "PersonExited", "maple", "maple-east-gate", DAY)
    [traffic] = gate_read_models(ZoneInfo(TIMEZONE))[:1]
    observed = Observed(
        accepted=[stored],
        on_topic={stored.event_id: 2},
        inbox={"gate-traffic": {stored.event_id: "applied"}},
        bucket_events={"gate-traffic": [stored]},
        shown={"gate-traffic": {("maple", "2022-04-01"): {"entries": 0, "exits": 1}}},
    )

    report = reconcile(DAY, DAY + timedelta(hours=1), "t.gate.events", [traffic], observed)

    assert report.clean, report.findings
    assert report.republished == 1

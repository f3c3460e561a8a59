"""The lab boundary with real processes: a result collected in the future beyond the skew,
or absurdly long ago, is refused by the HTTP intake, the CSV upload and the operator CLI,
naming collected_at, and nothing about it is recorded."""

from __future__ import annotations

import asyncio
import json
import os
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

from isolation_harness import LAB, STAFF, TIMEOUT, call, isolation_events, new_id

from cordon_core.settings import ServiceSettings
from cordon_testing import ServiceProcess
from cordon_testing.plugin import settings_env

FUTURE = "in the future (more than 300 s after the time of intake)"


async def test_a_result_collected_in_2099_is_refused_and_nothing_is_recorded(
    isolation: ServiceProcess, module_settings: ServiceSettings
) -> None:
    person, future, old, fine = new_id("p"), new_id("s"), new_id("s"), new_id("s")
    now = datetime.now(UTC)
    rows = [
        {"sample_id": future, "person_id": person, "collected_at": "2099-01-01T08:00:00+08:00",
         "result": "negative"},
        {"sample_id": old, "person_id": person, "collected_at": "1970-01-01T00:00:00+00:00",
         "result": "negative"},
        {"sample_id": fine, "person_id": person, "collected_at": now.isoformat(),
         "result": "negative"},
    ]  # fmt: skip

    response = await call(isolation, LAB, "POST", "/v1/lab/results", json={"results": rows})

    assert response.status_code == 422
    report = response.json()
    assert report["errors"] == [
        {"row": 1, "column": "collected_at", "reason": FUTURE},
        {"row": 2, "column": "collected_at", "reason": "more than 30 days ago"},
    ]
    assert report["received"] == 1
    assert await isolation_events(module_settings, f"sample:{future}") == []
    assert await isolation_events(module_settings, f"sample:{old}") == []
    results = (await call(isolation, STAFF, "GET", f"/v1/people/{person}")).json()["results"]
    assert [r["sample_id"] for r in results] == [fine]


async def test_a_swab_recorded_in_the_future_is_refused_naming_its_index(
    isolation: ServiceProcess, module_settings: ServiceSettings
) -> None:
    person, ok, future = new_id("p"), new_id("s"), new_id("s")
    body = [
        {"sample_id": ok, "person_id": person, "collected_at": datetime.now(UTC).isoformat()},
        {"sample_id": future, "person_id": person,
         "collected_at": (datetime.now(UTC) + timedelta(hours=2)).isoformat()},
    ]  # fmt: skip

    response = await call(isolation, STAFF, "POST", "/v1/samples", json=body)

    assert response.status_code == 422
    assert [e["loc"] for e in response.json()["detail"]] == [["body", 1, "collected_at"]]
    assert await isolation_events(module_settings, f"sample:{ok}") == []


async def test_the_cli_refuses_a_future_row_and_records_the_others(
    isolation: ServiceProcess, module_settings: ServiceSettings, tmp_path: Path
) -> None:
    person, future, fine = new_id("p"), new_id("s"), new_id("s")
    batch = tmp_path / "batch.csv"
    batch.write_text(
        "sample_id,person_id,collected_at,result\n"
        f"{future},{person},2099-06-01T00:00:00+00:00,negative\n"
        f"{fine},{person},{datetime.now(UTC).isoformat()},negative\n",
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
    assert report["errors"] == [{"row": 2, "column": "collected_at", "reason": FUTURE}]
    assert report["received"] == 1
    assert await isolation_events(module_settings, f"sample:{future}") == []
    assert [kind for kind, _ in await isolation_events(module_settings, f"sample:{fine}")] == [
        "TestResultReceived"
    ]

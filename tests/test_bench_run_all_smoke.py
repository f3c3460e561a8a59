"""Every benchmark at its small size in one command (``bench/run_all.py --quick``), as CI
runs it, against the test run's Kafka and PostgreSQL: it must exit 0 (no script failed its
own checks and no figure fell past its floor, set well under the targets), its table must
show every figure, and no scan, event or delivery may be lost or doubled on the way."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from cordon_devenv.infra import Infrastructure
from cordon_testing.benchmarks import run_benchmark

FIGURES = (
    "store append, 1 event/append, 4 writers",
    "store append, 100 events/append, 4 writers",
    "store append, 1 event/append, 4 writers vs pyeventsourcing",
    "store append, 100 events/append, 4 writers vs pyeventsourcing",
    "relay to Kafka (batch 1,000, acks=all)",
    "gate Kafka feed, scans/s (steady)",
    "gate single-scan p99",
    "projection rebuild",
    "projection rebuild vs raw Kafka read",
    "scan-to-dashboard lag p99",
    "notification deliveries (burst)",
    "notification paced p50",
    "registry import",
    "lab result ingest (CSV)",
    "gate's full GC pause after settle_heap",
)


@pytest.mark.timeout(720)
def test_every_benchmark_runs_small_within_its_floors_and_loses_or_doubles_nothing(
    infrastructure: Infrastructure, tmp_path: Path
) -> None:
    results = tmp_path / "run_all.json"
    status, stdout, output = run_benchmark(
        "run_all.py", "--quick", "--json", str(results), "--logs", str(tmp_path / "logs"),
        infrastructure=infrastructure, timeout=660,
    )  # fmt: skip

    assert status == 0, output
    report = json.loads(results.read_text())
    measured = {f["name"]: f for f in report["figures"]}
    for name in FIGURES:
        assert name in measured, f"{name}: {output}"
        assert measured[name]["value"] is not None, f"{name}: {output}"
        assert name in stdout, f"{name} missing from the table: {output}"
    assert all(run["exit"] in (0, None) for run in report["runs"]), output

    # The gate: every scan of each feed came out once.
    gate = re.findall(
        r"^gate: RESULT feed=(\w+) scans=(\d+) outcomes=(\d+) lost=(\d+) doubled=(\d+)"
        r" errors=(\d+)$",
        stdout,
        re.MULTILINE,
    )
    assert {"kafka", "batch", "single"} <= {feed for feed, *_ in gate}, output
    for feed, scans, outcomes, lost, doubled, errors in gate:
        assert (lost, doubled, errors) == ("0", "0", "0"), f"{feed}: {output}"
        assert scans == outcomes and int(scans) > 0, feed

    # The projector: every produced event projected, every lag scan seen live.
    projector = re.search(
        r"^projector: RESULT produced=(\d+) rebuild_verified=(\w+) catchup_verified=(\w+)"
        r" lag_scans=(\d+) lag_reflected=(\d+) failures=(\d+)$",
        stdout,
        re.MULTILINE,
    )
    assert projector is not None, output
    produced, rebuild_ok, catchup_ok, scans, reflected, failures = projector.groups()
    assert int(produced) == 20_000
    assert (rebuild_ok, catchup_ok, failures) == ("true", "true", "0"), output
    assert int(scans) > 0 and reflected == scans, output

    # Notification, burst and paced: every event delivered exactly once.
    deliveries = re.findall(
        r"^(notification\w*): RESULT events=(\d+) delivered=(\d+) lost=(\d+)"
        r" doubled_by_source=(\d+) doubled_by_key=(\d+)$",
        stdout,
        re.MULTILINE,
    )
    assert {"notification", "notification_paced"} == {name for name, *_ in deliveries}, output
    for name, events, delivered, *lost_or_doubled in deliveries:
        assert events == delivered and int(events) > 0, f"{name}: {output}"
        assert lost_or_doubled == ["0", "0", "0"], f"{name}: {output}"

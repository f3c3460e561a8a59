"""The example data-platform sink (examples/data_platform/parquet_sink.py) against real
Kafka: Cordon events to Parquet, partitioned by event type and day, resumable."""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pyarrow.dataset as ds
import pytest
from aiokafka import ConsumerRecord, TopicPartition

from cordon_contracts.gate import CheckpointOpened, PersonEntered, registry
from cordon_core.envelope import EventMetadata, PendingEvent
from cordon_core.runtime import ServiceRuntime
from cordon_core.settings import ServiceSettings
from cordon_testing.kafka import read_topic

SINK = Path(__file__).resolve().parents[1] / "examples" / "data_platform" / "parquet_sink.py"


async def publish(gate: ServiceRuntime, *events: tuple[datetime, Any]) -> None:
    await gate.store.append(
        f"stream-{uuid.uuid4().hex[:8]}",
        [PendingEvent(payload, occurred_at=at) for at, payload in events],
        expected_version=None,
        metadata=EventMetadata.new(actor="test", district="d", community="maple"),
        partition_key="maple-east",
    )


def run_sink(settings: ServiceSettings, topic: str, out: Path) -> str:
    result = subprocess.run(
        [
            sys.executable, str(SINK), "--bootstrap", settings.kafka_bootstrap,
            "--topics", topic, "--out", str(out), "--group", f"{settings.topic_prefix}-lake",
            "--exit-when-idle", "1.5",
        ],
        capture_output=True, text=True, timeout=90,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout


def partitions_of(out: Path) -> list[str]:
    return sorted(str(p.relative_to(out).parent) for p in out.rglob("*.parquet"))


def lake(out: Path) -> list[dict[str, Any]]:
    table = ds.dataset(out, format="parquet", partitioning="hive").to_table()
    return sorted(table.to_pylist(), key=lambda r: (r["kafka_partition"], r["kafka_offset"]))


@pytest.mark.infra
async def test_the_sink_writes_events_to_parquet_by_type_and_day_and_resumes(
    settings: ServiceSettings, tmp_path: Path, person_entered: Callable[..., PersonEntered]
) -> None:
    day1, day2 = datetime(2022, 4, 1, 8, tzinfo=UTC), datetime(2022, 4, 2, 9, tzinfo=UTC)
    opened = CheckpointOpened(checkpoint_id="maple-east", community_id="maple", reason="r")
    async with ServiceRuntime(
        service="gate", settings=settings, registry=registry
    ).running() as gate:
        await publish(gate, (day1, opened), (day1, person_entered(1)), (day2, person_entered(2)))
        await read_topic(settings.kafka_bootstrap, gate.events_topic, expect=3)

        first = run_sink(settings, gate.events_topic, tmp_path)

        await publish(gate, (day2, person_entered(3)))
        published = await read_topic(settings.kafka_bootstrap, gate.events_topic, expect=4)
        second = run_sink(settings, gate.events_topic, tmp_path)

    assert "3 events written" in first and "1 events written" in second
    files = partitions_of(tmp_path)
    assert files == [
        "ce_type=cordon.CheckpointOpened/day=2022-04-01",
        "ce_type=cordon.PersonEntered/day=2022-04-01",
        "ce_type=cordon.PersonEntered/day=2022-04-02",
        "ce_type=cordon.PersonEntered/day=2022-04-02",  # the second run's own file
    ]
    rows = lake(tmp_path)
    assert len(rows) == 4 and len({r["ce_id"] for r in rows}) == 4, "each event exactly once"
    by_id = {r["ce_id"]: r for r in rows}
    for record in published:
        headers = {k: bytes(v).decode() for k, v in record.headers}
        row = by_id[headers["ce_id"]]
        assert row["ce_type"] == headers["ce_type"]
        assert str(row["day"]) == headers["ce_time"][:10]
        assert row["ce_time"] == datetime.fromisoformat(headers["ce_time"])
        assert row["ce_schemaversion"] == 1 and row["ce_community"] == "maple"
        assert row["ce_partitionkey"] == "maple-east" and row["ce_source"] == "/cordon/gate"
        assert (row["kafka_partition"], row["kafka_offset"]) == (record.partition, record.offset)
        assert json.loads(row["data"]) == json.loads(record.value)
    scans = sorted(json.loads(r["data"])["scan_id"] for r in rows if "scan_id" in r["data"])
    assert scans == ["s1", "s2", "s3"]


def load_sink() -> Any:
    spec = importlib.util.spec_from_file_location("parquet_sink", SINK)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def record(offset: int, ce_type: str, day: str) -> ConsumerRecord[bytes, bytes]:
    headers = {
        "ce_specversion": "1.0",
        "ce_id": str(uuid.UUID(int=offset)),
        "ce_type": ce_type,
        "ce_time": f"{day}T08:00:00+00:00",
        "ce_schemaversion": "1",
    }
    return ConsumerRecord(
        "t.gate.events", 0, offset, 0, 0, b"k", json.dumps({"n": offset}).encode(), None, 1, 1,
        tuple((k, v.encode()) for k, v in headers.items()),
    )  # fmt: skip


def test_a_batch_read_again_after_a_crash_rewrites_the_same_files(tmp_path: Path) -> None:
    sink = load_sink()
    zone = ZoneInfo("UTC")
    tp = TopicPartition("t.gate.events", 0)
    records = [
        record(0, "cordon.A", "2022-04-01"),
        record(1, "cordon.B", "2022-04-01"),
        record(2, "cordon.A", "2022-04-02"),
        record(3, "cordon.B", "2022-04-01"),
    ]

    sink.write_batch(tmp_path, {tp: records}, zone)  # written, then a crash: no commit
    sink.write_batch(tmp_path, {tp: records[:2]}, zone)  # after restart, smaller batches
    sink.write_batch(tmp_path, {tp: records[2:]}, zone)
    sink.write_batch(tmp_path, {tp: [record(4, "cordon.x/y", "2022-04-01")]}, zone)
    not_a_cloudevent = ConsumerRecord("t.gate.events", 0, 5, 0, 0, None, b"{}", None, 0, 2, ())
    sink.write_batch(tmp_path, {tp: [not_a_cloudevent]}, zone)

    rows = lake(tmp_path)
    assert sorted(r["kafka_offset"] for r in rows) == [0, 1, 2, 3, 4]
    assert {(r["ce_type"], str(r["day"])) for r in rows} == {
        ("cordon.A", "2022-04-01"),
        ("cordon.A", "2022-04-02"),
        ("cordon.B", "2022-04-01"),
        ("cordon.x_y", "2022-04-01"),
    }
    assert not list(tmp_path.rglob("*.tmp"))

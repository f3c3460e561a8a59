"""A real outside consumer: kcat (Debian's Kafka client, no Cordon code) reads a Cordon
topic and gets readable CloudEvents headers and JSON payloads (docs/data-platform.md)."""

from __future__ import annotations

import json
import shutil
import subprocess
from collections.abc import Callable
from datetime import UTC, datetime

import pytest

from cordon_contracts.gate import FeverDetected, PersonEntered, registry
from cordon_core.runtime import ServiceRuntime
from cordon_core.settings import ServiceSettings
from cordon_testing.kafka import header, read_topic
from cordon_testing.upstream import Upstream

KCAT = shutil.which("kcat") or shutil.which("kafkacat")


def fever() -> FeverDetected:
    return FeverDetected(
        scan_id="s9",
        checkpoint_id="maple-east",
        community_id="maple",
        compound_id="maple-1",
        person_id="p-9",
        subject_kind="resident",
        temperature_c=38.4,
        threshold_c=37.3,
        scanned_at=datetime(2022, 4, 1, 0, 9, tzinfo=UTC),
    )


def kcat(*args: str) -> subprocess.CompletedProcess[str]:
    assert KCAT is not None
    return subprocess.run([KCAT, *args], capture_output=True, text=True, timeout=60)


def parse_kcat_line(line: str) -> tuple[dict[str, str], dict[str, object]]:
    """A line of `-f '%h\\t%s\\n'`: headers as name=value CSV, a tab, the payload."""
    raw_headers, _, payload = line.partition("\t")
    headers = dict(item.split("=", 1) for item in raw_headers.split(","))
    return headers, json.loads(payload)


@pytest.mark.infra
@pytest.mark.skipif(
    KCAT is None,
    reason="kcat is not installed (Debian: apt-get install kcat; ./cordon test installs it "
    "when it runs as root)",
)
async def test_kcat_reads_cloudevents_headers_and_json_payloads(
    settings: ServiceSettings, person_entered: Callable[..., PersonEntered]
) -> None:
    assert KCAT is not None
    async with ServiceRuntime(
        service="gate", settings=settings, registry=registry
    ).running() as gate:
        upstream = Upstream(gate)
        await upstream.publish("scan:maple-east:s1", person_entered(1), community="maple")
        await upstream.publish("scan:maple-east:s2", person_entered(2), fever(), community="maple")
        published = await read_topic(settings.kafka_bootstrap, gate.events_topic, expect=3)
    ids = {header(r, "ce_id"): json.loads(r.value) for r in published}

    result = kcat(
        "-b", settings.kafka_bootstrap, "-C", "-t", gate.events_topic,
        "-o", "beginning", "-e", "-q", "-f", "%h\\t%s\\n",
    )  # fmt: skip

    assert result.returncode == 0, result.stderr
    lines = [line for line in result.stdout.splitlines() if line]
    assert len(lines) == 3, result.stdout
    seen = {}
    for line in lines:
        headers, payload = parse_kcat_line(line)
        assert headers["ce_specversion"] == "1.0"
        assert headers["content-type"] == "application/json"
        assert headers["ce_source"] == "/cordon/gate"
        event_type = headers["ce_type"].removeprefix("cordon.")
        assert headers["ce_dataschema"] == f"urn:cordon:schema:{event_type}:v1"
        seen[headers["ce_id"]] = (headers["ce_type"], payload)
    assert {i: p for i, (_, p) in seen.items()} == ids
    assert sorted(t for t, _ in seen.values()) == [
        "cordon.FeverDetected",
        "cordon.PersonEntered",
        "cordon.PersonEntered",
    ]
    assert {p["scan_id"] for _, p in seen.values()} == {"s1", "s2", "s9"}  # type: ignore[index]


@pytest.mark.infra
@pytest.mark.skipif(KCAT is None, reason="kcat is not installed (apt-get install kcat)")
async def test_kcat_json_envelope_mode_gives_headers_as_an_object(
    settings: ServiceSettings, person_entered: Callable[..., PersonEntered]
) -> None:
    assert KCAT is not None
    async with ServiceRuntime(
        service="gate", settings=settings, registry=registry
    ).running() as gate:
        await Upstream(gate).publish("scan:maple-east:s1", person_entered(1), community="maple")
        await read_topic(settings.kafka_bootstrap, gate.events_topic, expect=1)

    result = kcat(
        "-b", settings.kafka_bootstrap, "-C", "-t", gate.events_topic,
        "-o", "beginning", "-e", "-q", "-J"
    )  # fmt: skip

    assert result.returncode == 0, result.stderr
    [envelope] = [json.loads(line) for line in result.stdout.splitlines() if line]
    flat = envelope["headers"]  # kcat 1.7 lists them as [name, value, name, value, ...]
    if isinstance(flat, list):
        envelope["headers"] = dict(zip(flat[::2], flat[1::2], strict=True))
    assert envelope["key"] == envelope["headers"]["ce_partitionkey"] == "scan:maple-east:s1"
    assert envelope["headers"]["ce_type"] == "cordon.PersonEntered"
    assert envelope["headers"]["ce_community"] == "maple"
    assert json.loads(envelope["payload"])["person_id"] == "p-1"

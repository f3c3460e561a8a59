"""`cordon-topics`: the committed topic catalogue, and provisioning a real Kafka with it
idempotently (single broker here: replication 1, min ISR 1)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.admin.config_resource import ConfigResource, ConfigResourceType

from cordon_contracts.schemas import REGISTRIES
from cordon_contracts.topics import catalogue
from cordon_devenv.infra import Infrastructure
from cordon_ops.topics import apply, load, render
from cordon_testing.waiting import wait_until

ROOT = Path(__file__).resolve().parents[1]
COMMITTED = ROOT / "deploy" / "kafka" / "topics.yaml"


def test_the_committed_catalogue_is_what_the_code_generates() -> None:
    assert COMMITTED.read_text(encoding="utf-8") == render(), (
        "deploy/kafka/topics.yaml is stale: uv run cordon-topics render > deploy/kafka/topics.yaml"
    )
    assert load(COMMITTED) == catalogue()


def test_events_are_kept_forever_raw_scans_briefly_and_dead_letters_a_month() -> None:
    topics = {t.address: t for t in catalogue().topics}

    for service in REGISTRIES:
        events = topics[f"{{prefix}}.{service}.events"]
        assert events.configs["retention.ms"] == "-1"
        assert events.configs["cleanup.policy"] == "delete"
        assert "compaction" in events.retention.lower() or "compact" in events.retention.lower()
    assert int(topics["{prefix}.gate.scans"].configs["retention.ms"]) <= 7 * 86_400_000
    assert topics["{prefix}.dlq.gate-scan-feed"].configs["retention.ms"] == str(30 * 86_400_000)
    assert all(t.configs["cleanup.policy"] == "delete" for t in topics.values())


def cordon_topics(bootstrap: str, prefix: str, *extra: str) -> str:
    script = Path(sys.executable).with_name("cordon-topics")  # [project.scripts]
    command = [str(script)] if script.exists() else [sys.executable, "-m", "cordon_ops.topics"]
    result = subprocess.run(
        [
            *command, "apply",
            "--bootstrap", bootstrap, "--prefix", prefix,
            "--replication-factor", "1", "--min-insync-replicas", "1", *extra,
        ],
        capture_output=True, text=True, timeout=120, env=os.environ.copy(),
    )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout


async def apply_in_process(bootstrap: str, prefix: str, *, dry_run: bool = False) -> str:
    lines: list[str] = []
    await apply(
        bootstrap,
        prefix,
        catalogue(),
        replication_factor=1,
        min_insync_replicas=1,
        dry_run=dry_run,
        echo=lines.append,
    )
    return "\n".join(lines) + "\n"


@pytest.fixture
async def admin(infrastructure: Infrastructure) -> AsyncIterator[AIOKafkaAdminClient]:
    client = AIOKafkaAdminClient(bootstrap_servers=infrastructure.kafka_bootstrap)
    await client.start()
    yield client
    await client.close()


async def configs(admin: AIOKafkaAdminClient, topic: str) -> dict[str, str]:
    [response] = await admin.describe_configs([ConfigResource(ConfigResourceType.TOPIC, topic)])
    [resource] = response.to_object()["resources"]
    return {e["config_names"]: e["config_value"] for e in resource["config_entries"]}


async def partitions(admin: AIOKafkaAdminClient, topic: str) -> int:
    [described] = await admin.describe_topics([topic])
    return len(described["partitions"])


@pytest.mark.infra
async def test_apply_provisions_the_catalogue_idempotently_and_repairs_drift(
    infrastructure: Infrastructure, admin: AIOKafkaAdminClient
) -> None:
    bootstrap, prefix = infrastructure.kafka_bootstrap, f"t{uuid.uuid4().hex[:12]}"
    names = [t.name(prefix) for t in catalogue().topics]
    # A service started first and created its topic itself: too few partitions, no configs.
    await admin.create_topics([NewTopic(f"{prefix}.gate.events", 2, 1)])

    first = cordon_topics(bootstrap, prefix)  # the installed command, as an operator runs it

    assert set(names) <= set(await admin.list_topics())
    assert f"partitions   {prefix}.gate.events  2 -> 12" in first
    assert re.search(
        rf"config +{prefix}\.gate\.events  retention\.ms: \d+ \(inherited\) -> -1", first
    )
    for spec in catalogue().topics:
        name = spec.name(prefix)
        if name != f"{prefix}.gate.events":
            assert f"create       {name}" in first
        await wait_until(
            lambda name=name: partitions(admin, name),  # type: ignore[misc]
            until=lambda n, want=spec.partitions: n == want,  # type: ignore[misc]
            timeout=10,
            what=f"{name} to have {spec.partitions} partitions",
        )
        actual = await configs(admin, name)
        wanted = {**spec.configs, "min.insync.replicas": "1"}
        assert {k: actual[k] for k in wanted} == wanted, name

    second = await apply_in_process(bootstrap, prefix)

    assert "nothing to change" in second
    assert not re.search(r"^(create|partitions|config) ", second, re.MULTILINE), second

    # An operator changes a managed setting by hand, and sets one we do not manage.
    events = f"{prefix}.registry.events"
    await admin.alter_configs(
        [
            ConfigResource(
                ConfigResourceType.TOPIC,
                events,
                {"retention.ms": "3600000", "cleanup.policy": "compact", "segment.ms": "86400000"},
            )
        ]
    )
    await wait_until(
        lambda: configs(admin, events),
        until=lambda c: c["retention.ms"] == "3600000",
        timeout=10,
        what="the hand-made change to show",
    )

    third = await apply_in_process(bootstrap, prefix)

    assert f"config       {events}  retention.ms: 3600000 -> -1" in third
    assert f"config       {events}  cleanup.policy: compact -> delete" in third
    restored = await configs(admin, events)
    assert (restored["retention.ms"], restored["cleanup.policy"]) == ("-1", "delete")
    assert restored["segment.ms"] == "86400000", "a setting we do not manage was kept"
    assert "nothing to change" in await apply_in_process(bootstrap, prefix)


@pytest.mark.infra
async def test_a_dry_run_changes_nothing(
    infrastructure: Infrastructure, admin: AIOKafkaAdminClient
) -> None:
    prefix = f"t{uuid.uuid4().hex[:12]}"

    output = await apply_in_process(infrastructure.kafka_bootstrap, prefix, dry_run=True)

    assert f"create       {prefix}.gate.events" in output and "dry run" in output
    assert not [t for t in await admin.list_topics() if t.startswith(prefix)]

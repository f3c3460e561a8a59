"""Tests of cordon-devenv against real servers: Apache Kafka, Tansu and PostgreSQL on loopback."""

from __future__ import annotations

import asyncio
import socket
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import asyncpg  # type: ignore[import-untyped,unused-ignore]
import psutil  # type: ignore[import-untyped,unused-ignore]
import pytest
from aiokafka import (  # type: ignore[import-untyped,unused-ignore]
    AIOKafkaConsumer,
    AIOKafkaProducer,
    TopicPartition,
)
from typer.testing import CliRunner

from cordon_devenv import (
    InfraError,
    Infrastructure,
    infrastructure_status,
    start_infrastructure,
    stop_infrastructure,
)
from cordon_devenv import kafka as kafka_mod
from cordon_devenv import postgres as postgres_mod
from cordon_devenv.cli import app
from cordon_devenv.process import port_answers

ENV_VARS = ("CORDON_KAFKA_BOOTSTRAP", "CORDON_DATABASE_URL", "CORDON_KAFKA_IDEMPOTENCE")
needs_kafka = pytest.mark.skipif(
    not kafka_mod.java_and_maven_available(), reason="Apache Kafka needs java and mvn on PATH"
)
starts_servers = pytest.mark.infra  # our launcher starts its own Kafka, Tansu or PostgreSQL


@pytest.fixture(autouse=True)
def _no_external_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in (*ENV_VARS, "CORDON_USE_TESTCONTAINERS"):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture(scope="module")
def state_dir(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    path = tmp_path_factory.mktemp("cordon-state")
    yield path
    stop_infrastructure(path)


@pytest.fixture(scope="module")
def infra(state_dir: Path) -> Iterator[Infrastructure]:
    if not kafka_mod.java_and_maven_available():
        pytest.skip(reason="Apache Kafka needs java and mvn on PATH")
    # These tests are about our own launcher, so external servers named in the
    # environment (as a developer may have set) must not be picked up.
    with pytest.MonkeyPatch.context() as env:
        for name in (*ENV_VARS, "CORDON_USE_TESTCONTAINERS"):
            env.delenv(name, raising=False)
        yield start_infrastructure(state_dir, broker="kafka", kafka_port=0, postgres_port=0)


async def _round_trip(bootstrap: str, *, idempotent: bool, group: bool = True) -> bytes:
    """Publish one message and read it back through a consumer group."""
    topic, payload = f"devenv-{uuid.uuid4().hex[:8]}", uuid.uuid4().bytes
    producer = AIOKafkaProducer(
        bootstrap_servers=bootstrap,
        enable_idempotence=idempotent,
        acks="all" if idempotent else 1,
    )
    await producer.start()
    try:
        await producer.send_and_wait(topic, payload, key=b"k")
    finally:
        await producer.stop()
    consumer = AIOKafkaConsumer(
        topic,
        bootstrap_servers=bootstrap,
        group_id=f"g-{topic}" if group else None,
        auto_offset_reset="earliest",
    )
    await consumer.start()
    try:
        message = await asyncio.wait_for(consumer.getone(), 45)
    finally:
        await consumer.stop()
    assert message.value == payload
    return payload


# --- cheap checks, no servers -------------------------------------------------------------


def test_pinned_kafka_version_comes_from_the_pom() -> None:
    version = kafka_mod.kafka_version()
    assert version.startswith("4."), version
    assert kafka_mod.find_pom().parts[-4:] == ("deploy", "local", "kafka", "pom.xml")


def test_server_properties_are_single_node_kraft(tmp_path: Path) -> None:
    text = kafka_mod.server_properties(tmp_path, 1111, 2222)
    for line in (
        "process.roles=broker,controller",
        "node.id=1",
        "listeners=PLAINTEXT://127.0.0.1:1111,CONTROLLER://127.0.0.1:2222",
        "offsets.topic.replication.factor=1",
        "transaction.state.log.min.isr=1",
        "group.initial.rebalance.delay.ms=0",
        "num.partitions=3",
        "auto.create.topics.enable=true",
    ):
        assert line in text.splitlines()


def test_external_servers_from_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CORDON_KAFKA_BOOTSTRAP", "kafka.example:9092")
    monkeypatch.setenv("CORDON_DATABASE_URL", "postgresql://u@db.example/cordon")
    monkeypatch.setenv("CORDON_KAFKA_IDEMPOTENCE", "false")
    infra = start_infrastructure(tmp_path)
    assert infra == Infrastructure(
        "kafka.example:9092", "postgresql://u@db.example/cordon", "external", False
    )
    assert not (tmp_path / "kafka").exists() and not (tmp_path / "postgres").exists()


def test_testcontainers_is_imported_lazily() -> None:
    code = (
        "import sys, cordon_devenv, cordon_devenv.cli; "
        "sys.exit(any(m.startswith('testcontainers') for m in sys.modules))"
    )
    assert subprocess.run([sys.executable, "-c", code], check=False).returncode == 0


def test_port_taken_by_a_stranger_fails_clearly(tmp_path: Path) -> None:
    with socket.socket() as stranger:
        stranger.bind(("127.0.0.1", 0))
        stranger.listen()
        port = stranger.getsockname()[1]
        with pytest.raises(InfraError, match=f"port 127.0.0.1:{port} is already in use"):
            postgres_mod.start_postgres(tmp_path / "pg", port=port)


def test_cli_up_prints_exports_and_status_fails_when_nothing_runs(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CORDON_STATE_DIR", str(tmp_path))
    monkeypatch.setenv("CORDON_KAFKA_BOOTSTRAP", "127.0.0.1:1")
    monkeypatch.setenv("CORDON_DATABASE_URL", "postgresql://postgres@127.0.0.1:2/postgres")
    runner = CliRunner()
    result = runner.invoke(app, ["up"])
    assert result.exit_code == 0, result.output
    assert "export CORDON_KAFKA_BOOTSTRAP=127.0.0.1:1" in result.output
    assert "# broker: external" in result.output
    assert runner.invoke(app, ["status"]).exit_code == 1


# --- real servers -------------------------------------------------------------------------


@starts_servers
@needs_kafka
async def test_kafka_idempotent_producer_round_trip(infra: Infrastructure) -> None:
    assert infra.broker_kind == "apache-kafka" and infra.kafka_idempotence
    assert infra.kafka_bootstrap.startswith("127.0.0.1:")
    await _round_trip(infra.kafka_bootstrap, idempotent=True)


@starts_servers
@needs_kafka
async def test_postgres_answers_on_tcp(infra: Infrastructure) -> None:
    assert infra.database_url.startswith("postgresql://postgres@127.0.0.1:")
    conn = await asyncpg.connect(infra.database_url)
    try:
        row = await conn.fetchrow(
            "SELECT inet_server_addr()::text AS addr, current_setting('max_connections') AS mc,"
            " current_setting('fsync') AS fsync, current_setting('server_version_num')::int AS v"
        )
    finally:
        await conn.close()
    assert row["addr"].startswith("127.0.0.1")
    assert (row["mc"], row["fsync"]) == ("200", "on")
    assert row["v"] >= 180000


@starts_servers
@needs_kafka
def test_second_start_reuses_the_same_processes(state_dir: Path, infra: Infrastructure) -> None:
    before = infrastructure_status(state_dir)
    again = start_infrastructure(state_dir, broker="auto", kafka_port=0, postgres_port=0)
    after = infrastructure_status(state_dir)
    assert again == infra
    assert before["apache_kafka"]["pid"] == after["apache_kafka"]["pid"]
    assert before["postgres"]["pid"] == after["postgres"]["pid"]
    assert (state_dir / "infra.json").is_file()


@starts_servers
@needs_kafka
async def test_stop_stops_and_a_restart_keeps_data(state_dir: Path, infra: Infrastructure) -> None:
    payload = await _round_trip(infra.kafka_bootstrap, idempotent=True, group=False)
    pids = [infrastructure_status(state_dir)[key]["pid"] for key in ("apache_kafka", "postgres")]
    kafka_port = int(infra.kafka_bootstrap.rsplit(":", 1)[1])
    stop_infrastructure(state_dir)
    assert not any(psutil.pid_exists(pid) for pid in pids)
    assert not port_answers(kafka_port)
    status = infrastructure_status(state_dir)
    assert status["apache_kafka"] is None and status["postgres"] is None

    restarted = start_infrastructure(state_dir, broker="kafka", kafka_port=0, postgres_port=0)
    assert restarted == infra  # same ports, recorded in infra.json
    consumer = AIOKafkaConsumer(bootstrap_servers=restarted.kafka_bootstrap)
    await consumer.start()
    try:
        topics = [t for t in await consumer.topics() if t.startswith("devenv-")]
        partitions = [TopicPartition(t, p) for t in topics for p in range(3)]
        consumer.assign(partitions)
        await consumer.seek_to_beginning(*partitions)
        batches = await asyncio.wait_for(consumer.getmany(timeout_ms=5000), 30)
    finally:
        await consumer.stop()
    values = {m.value for records in batches.values() for m in records}
    assert payload in values


@starts_servers
async def test_tansu_round_trip_without_idempotence(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CORDON_DATABASE_URL", "postgresql://postgres@127.0.0.1:1/postgres")
    infra = start_infrastructure(tmp_path, broker="tansu", kafka_port=0)
    try:
        assert infra.broker_kind == "tansu" and not infra.kafka_idempotence
        await _round_trip(infra.kafka_bootstrap, idempotent=False)
        pid = infrastructure_status(tmp_path)["tansu"]["pid"]
        assert start_infrastructure(tmp_path, broker="tansu", kafka_port=0) == infra
        assert infrastructure_status(tmp_path)["tansu"]["pid"] == pid
    finally:
        stop_infrastructure(tmp_path)
    assert not psutil.pid_exists(pid)

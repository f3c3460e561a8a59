"""The entry point: start, reuse, describe and stop Cordon's local Kafka and PostgreSQL."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import shutil
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Literal

from cordon_devenv import containers, kafka, kafka_cluster, postgres, tansu
from cordon_devenv.errors import InfraError
from cordon_devenv.process import file_lock, free_port, port_is_free

log = logging.getLogger(__name__)

BrokerKind = Literal["apache-kafka", "tansu", "external"]
BrokerChoice = Literal["auto", "kafka", "tansu"]
STATE_FILE = "infra.json"
DEFAULT_KAFKA_PORT = kafka.DEFAULT_PORT
DEFAULT_KAFKA_CONTROLLER_PORT = kafka.DEFAULT_CONTROLLER_PORT
DEFAULT_POSTGRES_PORT = postgres.DEFAULT_PORT


@dataclass(frozen=True)
class Infrastructure:
    """Where Cordon's services find their broker and database."""

    kafka_bootstrap: str  # "127.0.0.1:PORT"
    database_url: str  # "postgresql://postgres@127.0.0.1:PORT/postgres"
    broker_kind: BrokerKind
    kafka_idempotence: bool  # False only for tansu
    brokers: int = 1
    """Kafka nodes; with more than one, topics get ``brokers`` replicas (the catalogue's 3)."""

    def env(self) -> dict[str, str]:
        """The environment variables that point a Cordon service at this infrastructure."""
        env = {
            "CORDON_KAFKA_BOOTSTRAP": self.kafka_bootstrap,
            "CORDON_DATABASE_URL": self.database_url,
            "CORDON_KAFKA_IDEMPOTENCE": "true" if self.kafka_idempotence else "false",
        }
        if self.brokers > 1:
            env["CORDON_TOPIC_REPLICATION"] = str(self.brokers)
        return env


def start_infrastructure(
    state_dir: Path,
    *,
    broker: BrokerChoice = "auto",
    kafka_port: int | None = None,
    postgres_port: int | None = None,
    brokers: int = 1,
) -> Infrastructure:
    """Start (or reuse) a broker and PostgreSQL for ``state_dir``; record them in infra.json.

    ``brokers`` > 1 runs a cluster of that many Apache Kafka nodes (any free ports unless
    ``kafka_port`` is set: the first node takes it, the next ones the ports after it).

    Ports: None = the port recorded in infra.json, else the fixed default; 0 = the recorded
    port if still usable, else any free port; N = exactly N. A port held by a process that
    is not ours raises :class:`InfraError`. ``CORDON_KAFKA_BOOTSTRAP`` / ``CORDON_DATABASE_URL``
    select external servers instead.
    """
    state_dir = Path(state_dir).resolve()
    state_dir.mkdir(parents=True, exist_ok=True)
    with file_lock(state_dir / ".lock"):
        saved = _load(state_dir)
        ports: dict[str, int] = dict(saved.get("ports", {}))
        ids: dict[str, str] = dict(saved.get("containers", {}))
        ext_kafka = os.environ.get("CORDON_KAFKA_BOOTSTRAP", "").strip()
        ext_db = os.environ.get("CORDON_DATABASE_URL", "").strip()
        use_docker = _use_containers() and not (ext_kafka and ext_db)

        kind: BrokerKind
        if brokers > 1 and (ext_kafka or use_docker):
            raise InfraError("--brokers needs the project's own Kafka (not external or Docker)")
        if ext_kafka:
            bootstrap, kind = ext_kafka, "external"
            idempotence = os.environ.get("CORDON_KAFKA_IDEMPOTENCE", "").strip().lower() != "false"
        elif use_docker:
            bootstrap, kind, idempotence = _container_kafka(saved, ids), "apache-kafka", True
        else:
            kind = _resolve_broker(broker)
            if brokers > 1:
                if kind != "apache-kafka":
                    raise InfraError(f"a cluster of {brokers} brokers needs Apache Kafka")
                bootstrap = _start_cluster(state_dir, brokers, kafka_port)
            else:
                kafka_cluster.stop_cluster(state_dir / "kafka-cluster")
                bootstrap = _start_broker(state_dir, kind, kafka_port, ports)
            idempotence = kind != "tansu"

        if ext_db:
            database_url = ext_db
        elif use_docker:
            database_url = _container_postgres(saved, ids)
        else:
            base = state_dir / "postgres"
            current = postgres.postgres_running(base)
            port = _pick_port(postgres_port, ports.get("postgres"), DEFAULT_POSTGRES_PORT, current)
            database_url = postgres.start_postgres(base, port=port).url
            ports["postgres"] = port

        infra = Infrastructure(bootstrap, database_url, kind, idempotence, max(1, brokers))
        _save(state_dir, {**asdict(infra), "running": True, "ports": ports, "containers": ids})
        log.info(
            "infra.ready broker=%s kafka=%s database=%s",
            kind, bootstrap, database_url,
        )  # fmt: skip
        return infra


async def start_infrastructure_async(
    state_dir: Path,
    *,
    broker: BrokerChoice = "auto",
    kafka_port: int | None = None,
    postgres_port: int | None = None,
) -> Infrastructure:
    """:func:`start_infrastructure` in a worker thread, for async callers and fixtures."""
    return await asyncio.to_thread(
        start_infrastructure,
        state_dir, broker=broker, kafka_port=kafka_port, postgres_port=postgres_port,
    )  # fmt: skip


@contextlib.contextmanager
def temporary_infrastructure(
    purpose: str, *, keep: bool = False, report: Callable[[str], None] = print
) -> Iterator[Infrastructure]:
    """Servers for one run of a script (a benchmark): the external ones named by
    ``CORDON_KAFKA_BOOTSTRAP`` and ``CORDON_DATABASE_URL`` when both are set, otherwise a
    private Kafka and PostgreSQL on free ports in a new temporary directory, stopped and
    deleted at the end (also on Ctrl-C) unless ``keep``."""
    state_dir = Path(tempfile.mkdtemp(prefix=f"cordon-{purpose}-"))
    external = bool(
        os.environ.get("CORDON_KAFKA_BOOTSTRAP", "").strip()
        and os.environ.get("CORDON_DATABASE_URL", "").strip()
    )
    if not external:
        report(f"starting private Kafka + PostgreSQL in {state_dir} (free ports) ...")
    started = time.perf_counter()
    try:
        infra = start_infrastructure(state_dir, kafka_port=0, postgres_port=0)
        where = f"kafka={infra.kafka_bootstrap} database={infra.database_url}"
        if external:
            report(f"using external servers: {where}")
        else:
            elapsed = time.perf_counter() - started
            report(f"ready in {elapsed:.1f}s: {where} broker={infra.broker_kind}")
        yield infra
    finally:
        if keep and not external:
            report(f"servers left running; stop with: cordon-infra down --state-dir {state_dir}")
        else:
            if not external:
                report("stopping private Kafka + PostgreSQL ...")
            stop_infrastructure(state_dir)
            shutil.rmtree(state_dir, ignore_errors=True)


def stop_infrastructure(state_dir: Path) -> None:
    """Stop every server started for ``state_dir`` (data on disk is kept; Tansu's is lost)."""
    state_dir = Path(state_dir).resolve()
    if not state_dir.exists():
        return
    with file_lock(state_dir / ".lock"):
        saved = _load(state_dir)
        kafka.stop_kafka(state_dir / "kafka")
        kafka_cluster.stop_cluster(state_dir / "kafka-cluster")
        tansu.stop_tansu(state_dir / "tansu")
        postgres.stop_postgres(state_dir / "postgres")
        for container_id in dict(saved.get("containers", {})).values():
            containers.stop_container(container_id)
        if saved:
            _save(state_dir, {**saved, "running": False, "containers": {}})
        log.info("infra.stopped state_dir=%s", state_dir)


def infrastructure_status(state_dir: Path) -> dict[str, Any]:
    """What infra.json records for ``state_dir`` plus which of our processes are alive."""
    state_dir = Path(state_dir).resolve()
    saved = _load(state_dir)
    apache = kafka.kafka_running(state_dir / "kafka")
    fallback = tansu.tansu_running(state_dir / "tansu")
    cluster = kafka_cluster.cluster_running(state_dir / "kafka-cluster")
    database = postgres.postgres_running(state_dir / "postgres")
    return {
        "state_dir": str(state_dir),
        "recorded": saved or None,
        "apache_kafka": apache and {"pid": apache.pid, "bootstrap": apache.bootstrap},
        "kafka_cluster": cluster
        and {
            "pids": [cluster.pid(node.node_id) for node in cluster.nodes],
            "bootstrap": cluster.bootstrap,
        },
        "tansu": fallback and {"pid": fallback.pid, "bootstrap": fallback.bootstrap},
        "postgres": database and {"pid": database.pid, "url": database.url},
    }


def _resolve_broker(broker: BrokerChoice) -> BrokerKind:
    if broker == "kafka":
        return "apache-kafka"
    if broker == "tansu":
        return "tansu"
    if broker != "auto":
        raise InfraError(f"unknown broker {broker!r}; use auto, kafka or tansu")
    if kafka.java_and_maven_available():
        return "apache-kafka"
    log.warning("=" * 78)
    log.warning("java and/or mvn not found on PATH: falling back to the Tansu broker.")
    log.warning(tansu.CAVEATS)
    log.warning("=" * 78)
    return "tansu"


def _start_broker(
    state_dir: Path, kind: BrokerKind, requested: int | None, ports: dict[str, int]
) -> str:
    if kind == "apache-kafka":
        tansu.stop_tansu(state_dir / "tansu")
        current = kafka.kafka_running(state_dir / "kafka")
        port = _pick_port(requested, ports.get("kafka"), DEFAULT_KAFKA_PORT, current)
        if current is not None and current.port == port:
            controller = current.controller_port
        elif requested is None:
            controller = _pick_port(
                None, ports.get("kafka_controller"), DEFAULT_KAFKA_CONTROLLER_PORT, None
            )
        else:
            controller = _pick_port(0, ports.get("kafka_controller"), 0, None)
        if controller == port:
            controller = free_port()
        server = kafka.start_kafka(state_dir / "kafka", port=port, controller_port=controller)
        ports.update(kafka=port, kafka_controller=controller)
        return server.bootstrap
    kafka.stop_kafka(state_dir / "kafka")
    log.warning("broker=tansu: %s", tansu.CAVEATS)
    current_tansu = tansu.tansu_running(state_dir / "tansu")
    port = _pick_port(requested, ports.get("kafka"), DEFAULT_KAFKA_PORT, current_tansu)
    server_t = tansu.start_tansu(state_dir / "tansu", port=port)
    ports["kafka"] = port
    return server_t.bootstrap


def _start_cluster(state_dir: Path, brokers: int, first_port: int | None) -> str:
    kafka.stop_kafka(state_dir / "kafka")
    tansu.stop_tansu(state_dir / "tansu")
    ports = [first_port + i for i in range(brokers)] if first_port else None
    return kafka_cluster.start_cluster(
        state_dir / "kafka-cluster", size=brokers, ports=ports
    ).bootstrap


def _pick_port(requested: int | None, saved: int | None, default: int, running: Any) -> int:
    """Resolve a port request (see :func:`start_infrastructure`); ``running`` has ``.port``."""
    if requested:
        return requested
    if running is not None:
        return int(running.port)
    if saved and (requested is None or port_is_free(saved)):
        return saved
    if requested == 0 or default == 0:
        return free_port()
    return default


def _use_containers() -> bool:
    if not containers.requested():
        return False
    if containers.docker_available():
        return True
    log.warning("CORDON_USE_TESTCONTAINERS=1 but `docker info` fails: using local processes")
    return False


def _container_kafka(saved: dict[str, Any], ids: dict[str, str]) -> str:
    old = ids.get("kafka")
    if old and saved.get("broker_kind") == "apache-kafka" and containers.container_running(old):
        return str(saved["kafka_bootstrap"])
    bootstrap, ids["kafka"] = containers.start_kafka()
    return bootstrap


def _container_postgres(saved: dict[str, Any], ids: dict[str, str]) -> str:
    old = ids.get("postgres")
    if old and containers.container_running(old):
        return str(saved["database_url"])
    url, ids["postgres"] = containers.start_postgres()
    return url


def _load(state_dir: Path) -> dict[str, Any]:
    try:
        data = json.loads((state_dir / STATE_FILE).read_text())
    except FileNotFoundError:
        return {}
    except ValueError:
        log.warning("infra.json in %s is unreadable; ignoring it", state_dir)
        return {}
    return data if isinstance(data, dict) else {}


def _save(state_dir: Path, data: dict[str, Any]) -> None:
    tmp = state_dir / f".{STATE_FILE}.tmp"
    tmp.write_text(json.dumps(data, indent=2, sort_keys=True) + "\n")
    tmp.replace(state_dir / STATE_FILE)

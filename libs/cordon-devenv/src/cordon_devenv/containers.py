"""Optional Docker mode: Kafka and PostgreSQL via the `testcontainers` library (lazy import)."""

from __future__ import annotations

import importlib
import logging
import os
import shutil
import subprocess
from typing import Any

from cordon_devenv.errors import InfraError

log = logging.getLogger(__name__)

KAFKA_IMAGE = os.environ.get("CORDON_KAFKA_IMAGE", "confluentinc/cp-kafka:7.6.0")
POSTGRES_IMAGE = os.environ.get("CORDON_POSTGRES_IMAGE", "postgres:18")


def requested() -> bool:
    """True when the user opted into containers with ``CORDON_USE_TESTCONTAINERS=1``."""
    return os.environ.get("CORDON_USE_TESTCONTAINERS", "").strip().lower() in {"1", "true", "yes"}


def docker_available() -> bool:
    """True when ``docker info`` succeeds (a Docker engine is reachable)."""
    if shutil.which("docker") is None:
        return False
    try:
        result = subprocess.run(["docker", "info"], capture_output=True, timeout=15, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return False
    return result.returncode == 0


def container_running(container_id: str) -> bool:
    """True when the container exists and is running."""
    result = subprocess.run(
        ["docker", "inspect", "-f", "{{.State.Running}}", container_id],
        capture_output=True, text=True, timeout=15, check=False,
    )  # fmt: skip
    return result.returncode == 0 and result.stdout.strip() == "true"


def stop_container(container_id: str) -> None:
    """Remove a container started by :func:`start_kafka` / :func:`start_postgres`."""
    subprocess.run(
        ["docker", "rm", "-f", container_id], capture_output=True, timeout=60, check=False
    )
    log.info("container.removed id=%s", container_id[:12])


def _import(module: str) -> Any:
    """``testcontainers.community.<module>`` (4.13+) or ``testcontainers.<module>`` (older)."""
    for name in (f"testcontainers.community.{module}", f"testcontainers.{module}"):
        try:
            return importlib.import_module(name)
        except ImportError:
            continue
    raise InfraError(
        "CORDON_USE_TESTCONTAINERS=1 needs the optional dependency: "
        "install cordon-devenv[testcontainers]"
    )


def start_kafka() -> tuple[str, str]:
    """Start a KRaft Kafka container; return (bootstrap, container id).

    The container lives as long as the calling process (testcontainers' reaper removes it).
    """
    container = _import("kafka").KafkaContainer(image=KAFKA_IMAGE).with_kraft()
    container.start()
    bootstrap = str(container.get_bootstrap_server())
    container_id = str(container.get_wrapped_container().id)
    log.info("container.kafka bootstrap=%s id=%s", bootstrap, container_id[:12])
    return bootstrap, container_id


def start_postgres() -> tuple[str, str]:
    """Start a PostgreSQL container; return (database url, container id)."""
    container = _import("postgres").PostgresContainer(
        image=POSTGRES_IMAGE, username="postgres", password="postgres", dbname="postgres",
        driver=None,
    )  # fmt: skip
    container.start()
    url = str(container.get_connection_url())
    container_id = str(container.get_wrapped_container().id)
    log.info("container.postgres id=%s", container_id[:12])
    return url, container_id

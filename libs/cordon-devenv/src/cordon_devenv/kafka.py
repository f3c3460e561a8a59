"""Apache Kafka (KRaft, combined broker+controller) fetched with Maven and run on loopback."""

from __future__ import annotations

import base64
import hashlib
import json
import logging
import os
import shutil
import subprocess
import time
import uuid
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from pathlib import Path

from cordon_devenv import probes
from cordon_devenv.errors import InfraError
from cordon_devenv.process import (
    LOOPBACK,
    ensure_port_free,
    file_lock,
    live_process,
    log_tail,
    rotate_log,
    run_sync,
    spawn,
    terminate,
)

log = logging.getLogger(__name__)

POM_RELATIVE = Path("deploy") / "local" / "kafka" / "pom.xml"
DEFAULT_PORT = 19092
DEFAULT_CONTROLLER_PORT = 19093
JVM_HEAP_OPTS = ("-Xms256m", "-Xmx512m")
JVM_OPTS = (
    "-XX:+UseG1GC",
    "-XX:MaxGCPauseMillis=20",
    "-XX:InitiatingHeapOccupancyPercent=35",
    "-XX:+ExplicitGCInvokesConcurrent",
    "-XX:+ExitOnOutOfMemoryError",
    "-Djava.awt.headless=true",
)
_POM_NS = {"m": "http://maven.apache.org/POM/4.0.0"}


@dataclass(frozen=True)
class KafkaServer:
    """A running local Kafka broker."""

    data_dir: Path
    port: int
    controller_port: int
    pid: int

    @property
    def bootstrap(self) -> str:
        return f"{LOOPBACK}:{self.port}"


def cache_root() -> Path:
    """Where fetched runtimes are kept: ``$CORDON_CACHE_DIR`` or ``~/.cache/cordon``."""
    env = os.environ.get("CORDON_CACHE_DIR")
    return Path(env).expanduser() if env else Path.home() / ".cache" / "cordon"


def find_pom() -> Path:
    """Locate the Kafka runtime pom: ``$CORDON_KAFKA_POM``, else ``deploy/local/kafka/pom.xml``."""
    env = os.environ.get("CORDON_KAFKA_POM")
    if env:
        return Path(env).expanduser().resolve()
    for start in (Path(__file__).resolve(), Path.cwd().resolve()):
        for parent in start.parents if start.is_file() else (start, *start.parents):
            if (parent / POM_RELATIVE).is_file():
                return parent / POM_RELATIVE
    raise InfraError(
        f"cannot find the Kafka runtime pom ({POM_RELATIVE}); run from a Cordon checkout "
        "or set CORDON_KAFKA_POM"
    )


def kafka_version(pom: Path | None = None) -> str:
    """The pinned Kafka version: the ``kafka.version`` property of the pom."""
    pom = pom or find_pom()
    node = ET.parse(pom).getroot().find("m:properties/m:kafka.version", _POM_NS)
    if node is None or not (node.text or "").strip():
        raise InfraError(f"{pom} has no <kafka.version> property")
    return (node.text or "").strip()


def java_executable() -> str | None:
    """``$JAVA_HOME/bin/java`` if present, else ``java`` on PATH."""
    home = os.environ.get("JAVA_HOME")
    if home and (Path(home) / "bin" / "java").is_file():
        return str(Path(home) / "bin" / "java")
    return shutil.which("java")


def java_and_maven_available() -> bool:
    """True when both a JVM and Maven are installed (what Apache Kafka mode needs)."""
    return java_executable() is not None and shutil.which("mvn") is not None


def ensure_kafka_libs(pom: Path | None = None) -> Path:
    """Fetch Kafka's runtime jars with Maven into the cache, once; return the ``libs`` dir."""
    pom = pom or find_pom()
    version = kafka_version(pom)
    pom_digest = hashlib.sha256(pom.read_bytes()).hexdigest()
    home = cache_root() / f"kafka-{version}"
    libs, marker = home / "libs", home / ".fetched"
    if _fetched(marker, pom_digest):
        return libs
    home.mkdir(parents=True, exist_ok=True)
    with file_lock(home / ".fetch.lock"):
        if _fetched(marker, pom_digest):
            return libs
        mvn = shutil.which("mvn")
        if mvn is None:
            raise InfraError("Apache Kafka mode needs Maven (`mvn`) on PATH to fetch Kafka jars")
        shutil.copyfile(pom, home / "pom.xml")
        partial = home / "libs.partial"
        shutil.rmtree(partial, ignore_errors=True)
        cmd = [
            mvn, "-q", "-B", "-f", str(home / "pom.xml"), "dependency:copy-dependencies",
            f"-DoutputDirectory={partial}", "-DincludeScope=runtime",
        ]  # fmt: skip
        log.info("kafka.fetch version=%s cache=%s (first run only)", version, home)
        started = time.monotonic()
        result = subprocess.run(cmd, cwd=home, capture_output=True, text=True, check=False)
        if result.returncode != 0 or not (partial / f"kafka_2.13-{version}.jar").is_file():
            output = "\n".join((result.stdout + result.stderr).splitlines()[-30:])
            raise InfraError(
                f"Maven could not fetch Apache Kafka {version} (exit {result.returncode}).\n"
                f"command: {' '.join(cmd)}\n{output}"
            )
        shutil.rmtree(libs, ignore_errors=True)
        partial.replace(libs)
        marker.write_text(json.dumps({"version": version, "pom_sha256": pom_digest}))
        log.info("kafka.fetched version=%s seconds=%.1f", version, time.monotonic() - started)
    return libs


def _fetched(marker: Path, pom_digest: str) -> bool:
    try:
        return bool(json.loads(marker.read_text())["pom_sha256"] == pom_digest)
    except (OSError, ValueError, KeyError, TypeError):
        return False


def server_properties(
    data_dir: Path,
    port: int,
    controller_port: int,
    *,
    node_id: int = 1,
    voters: str | None = None,
    replication: int = 1,
) -> str:
    """A KRaft (broker+controller) node's configuration tuned for a small dev machine: a
    single node by default; in a cluster of ``replication`` nodes (``voters``: every
    controller), internal topics and new topics get ``replication`` copies and writes need
    ``replication - 1`` of them in sync, as deploy/kafka/topics.yaml asks of production."""
    min_isr = str(max(1, replication - 1))
    settings = {
        "process.roles": "broker,controller",
        "node.id": str(node_id),
        "controller.quorum.voters": voters or f"{node_id}@{LOOPBACK}:{controller_port}",
        "listeners": f"PLAINTEXT://{LOOPBACK}:{port},CONTROLLER://{LOOPBACK}:{controller_port}",
        "advertised.listeners": f"PLAINTEXT://{LOOPBACK}:{port}",
        "controller.listener.names": "CONTROLLER",
        "inter.broker.listener.name": "PLAINTEXT",
        "listener.security.protocol.map": "CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT",
        "log.dirs": str(data_dir / "kraft-logs"),
        "num.partitions": "3",
        "default.replication.factor": str(replication),
        "min.insync.replicas": min_isr,
        "auto.create.topics.enable": "true",
        "offsets.topic.replication.factor": str(replication),
        "offsets.topic.num.partitions": "10",
        "transaction.state.log.replication.factor": str(replication),
        "transaction.state.log.min.isr": min_isr,
        "transaction.state.log.num.partitions": "10",
        "share.coordinator.state.topic.replication.factor": str(replication),
        "share.coordinator.state.topic.min.isr": min_isr,
        "group.initial.rebalance.delay.ms": "0",
        "num.network.threads": "2",
        "num.io.threads": "4",
        "num.recovery.threads.per.data.dir": "1",
        "log.retention.hours": "168",
    }
    body = "\n".join(f"{key}={value}" for key, value in settings.items())
    return f"# Written by cordon-devenv; regenerated on every start.\n{body}\n"


LOG4J2_PROPERTIES = """\
# Written by cordon-devenv. Kafka logs to stdout, which is redirected to kafka.log.
status = warn
appender.out.type = Console
appender.out.name = OUT
appender.out.layout.type = PatternLayout
appender.out.layout.pattern = [%d] %p %m (%c)%n
rootLogger.level = INFO
rootLogger.appenderRef.out.ref = OUT
logger.statechange.name = state.change.logger
logger.statechange.level = WARN
logger.request.name = kafka.request.logger
logger.request.level = WARN
logger.cleaner.name = kafka.log.LogCleaner
logger.cleaner.level = WARN
"""


def _paths(data_dir: Path) -> dict[str, Path]:
    return {
        "config": data_dir / "server.properties",
        "log4j": data_dir / "log4j2.properties",
        "log": data_dir / "kafka.log",
        "pid": data_dir / "kafka.pid",
        "endpoint": data_dir / "endpoint.json",
        "cluster_id": data_dir / "cluster.id",
        "meta": data_dir / "kraft-logs" / "meta.properties",
    }


def kafka_running(data_dir: Path) -> KafkaServer | None:
    """The Kafka broker previously started on ``data_dir`` if its process is still alive."""
    paths = _paths(data_dir)
    proc = live_process(paths["pid"])
    if proc is None:
        return None
    try:
        endpoint = json.loads(paths["endpoint"].read_text())
    except (OSError, ValueError):
        return None
    return KafkaServer(data_dir, int(endpoint["port"]), int(endpoint["controller_port"]), proc.pid)


def start_kafka(
    data_dir: Path,
    *,
    port: int = DEFAULT_PORT,
    controller_port: int = DEFAULT_CONTROLLER_PORT,
    timeout: float = 120.0,
) -> KafkaServer:
    """Start (or reuse) a KRaft broker+controller on 127.0.0.1 and wait until it serves metadata."""
    data_dir = data_dir.resolve()
    data_dir.mkdir(parents=True, exist_ok=True)
    paths = _paths(data_dir)
    running = kafka_running(data_dir)
    if running is not None:
        if running.port != port:
            raise InfraError(
                f"Kafka for {data_dir} already runs on port {running.port} (pid {running.pid}), "
                f"not {port}; stop it first"
            )
        log.info("kafka.reuse pid=%d bootstrap=%s", running.pid, running.bootstrap)
        wait_ready(running, paths["log"], timeout)  # it may still be booting
        return running
    ensure_port_free(port, "Apache Kafka")
    ensure_port_free(controller_port, "Apache Kafka controller")
    libs = ensure_kafka_libs()
    java = java_executable()
    if java is None:
        raise InfraError("Apache Kafka mode needs Java 17+ (`java` on PATH or $JAVA_HOME)")
    started = time.monotonic()
    server = launch_node(
        data_dir, libs, java, port, controller_port,
        server_properties(data_dir, port, controller_port),
    )  # fmt: skip
    try:
        wait_ready(server, paths["log"], timeout)
    except InfraError:
        stop_kafka(data_dir, timeout=10)
        raise
    log.info(
        "kafka.started pid=%d bootstrap=%s seconds=%.1f",
        server.pid, server.bootstrap, time.monotonic() - started,
    )  # fmt: skip
    return server


def launch_node(
    data_dir: Path, libs: Path, java: str, port: int, controller_port: int, config: str
) -> KafkaServer:
    """Write a node's configuration, format its storage once (with the cluster id in
    ``data_dir/cluster.id``) and start its JVM; the caller waits until it is ready."""
    paths = _paths(data_dir)
    paths["config"].write_text(config)
    paths["log4j"].write_text(LOG4J2_PROPERTIES)
    classpath = f"{libs}{os.sep}*"
    if not paths["meta"].exists():
        _format_storage(java, classpath, paths)
    rotate_log(paths["log"])
    cmd = [
        java, *JVM_HEAP_OPTS, *JVM_OPTS,
        f"-Dlog4j2.configurationFile={paths['log4j']}", f"-Dkafka.logs.dir={data_dir}",
        "-cp", classpath, "kafka.Kafka", str(paths["config"]),
    ]  # fmt: skip
    proc = spawn(cmd, log_path=paths["log"], pidfile=paths["pid"], cwd=data_dir)
    paths["endpoint"].write_text(json.dumps({"port": port, "controller_port": controller_port}))
    return KafkaServer(data_dir, port, controller_port, proc.pid)


def _format_storage(java: str, classpath: str, paths: dict[str, Path]) -> None:
    cluster_id = _cluster_id(paths["cluster_id"])
    cmd = [
        java, *JVM_HEAP_OPTS, f"-Dlog4j2.configurationFile={paths['log4j']}",
        "-cp", classpath, "kafka.tools.StorageTool", "format", "--ignore-formatted",
        "-t", cluster_id, "-c", str(paths["config"]),
    ]  # fmt: skip
    result = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise InfraError(
            f"formatting Kafka storage failed (exit {result.returncode}):\n"
            f"{result.stdout}{result.stderr}"
        )
    log.info("kafka.formatted cluster_id=%s", cluster_id)


def _cluster_id(path: Path) -> str:
    """A persistent Kafka cluster id (22-char url-safe base64 of a random UUID)."""
    if path.exists():
        return path.read_text().strip()
    while True:
        value = base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("=")
        if not value.startswith("-"):
            path.write_text(value)
            return value


def wait_ready(server: KafkaServer, log_path: Path, timeout: float) -> None:
    def alive() -> bool:
        return live_process(log_path.with_name("kafka.pid")) is not None

    ok = run_sync(
        lambda: probes.poll(
            lambda: probes.kafka_metadata_ok(server.bootstrap), budget=timeout, alive=alive
        )
    )
    if not ok:
        state = "exited" if not alive() else f"did not become ready within {timeout:.0f}s"
        raise InfraError(
            f"Apache Kafka on {server.bootstrap} {state}. Last lines of {log_path}:\n"
            f"{log_tail(log_path)}"
        )


def stop_kafka(data_dir: Path, timeout: float = 30.0) -> bool:
    """Stop the broker started on ``data_dir`` (SIGTERM, then SIGKILL); True if one was running."""
    proc = live_process(_paths(data_dir.resolve())["pid"])
    if proc is None:
        return False
    terminate(proc, timeout=timeout, what="kafka")
    return True

"""A local Apache Kafka cluster of several KRaft nodes, each broker and controller, from the
same Maven artifacts as the single broker: what `cordon infra up --brokers 3` and the
replication tests run, so that the catalogue's replication 3 and min ISR 2 are real.

Each node has its own ports and data directory (``<data_dir>/node-<id>``) and they share one
cluster id; the layout is recorded in ``<data_dir>/cluster.json`` so that a node can be
killed and started again alone.
"""

from __future__ import annotations

import json
import logging
import shutil
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from cordon_devenv import kafka, probes
from cordon_devenv.errors import InfraError
from cordon_devenv.process import LOOPBACK, ensure_port_free, free_port, run_sync

log = logging.getLogger(__name__)

LAYOUT_FILE = "cluster.json"


@dataclass(frozen=True)
class NodePorts:
    node_id: int
    port: int
    controller_port: int


@dataclass(frozen=True)
class KafkaCluster:
    """A running local Kafka cluster."""

    data_dir: Path
    nodes: tuple[NodePorts, ...]

    @property
    def bootstrap(self) -> str:
        return ",".join(f"{LOOPBACK}:{node.port}" for node in self.nodes)

    @property
    def size(self) -> int:
        return len(self.nodes)

    def node_dir(self, node_id: int) -> Path:
        return self.data_dir / f"node-{node_id}"

    def pid(self, node_id: int) -> int | None:
        running = kafka.kafka_running(self.node_dir(node_id))
        return running.pid if running else None


def _voters(nodes: tuple[NodePorts, ...]) -> str:
    return ",".join(f"{n.node_id}@{LOOPBACK}:{n.controller_port}" for n in nodes)


def _load_layout(data_dir: Path) -> tuple[NodePorts, ...] | None:
    try:
        raw = json.loads((data_dir / LAYOUT_FILE).read_text())
        return tuple(NodePorts(**node) for node in raw["nodes"])
    except (OSError, ValueError, KeyError, TypeError):
        return None


def _new_layout(size: int, ports: list[int] | None) -> tuple[NodePorts, ...]:
    if ports is not None and len(ports) != size:
        raise InfraError(f"{size} brokers need {size} ports, got {ports}")
    return tuple(
        NodePorts(i + 1, ports[i] if ports else free_port(), free_port()) for i in range(size)
    )


def cluster_running(data_dir: Path) -> KafkaCluster | None:
    """The cluster started on ``data_dir`` when every one of its nodes is alive."""
    data_dir = data_dir.resolve()
    layout = _load_layout(data_dir)
    if layout is None:
        return None
    cluster = KafkaCluster(data_dir, layout)
    if all(cluster.pid(node.node_id) for node in layout):
        return cluster
    return None


def start_cluster(
    data_dir: Path, *, size: int = 3, ports: list[int] | None = None, timeout: float = 180.0
) -> KafkaCluster:
    """Start (or reuse, or complete) a cluster of ``size`` nodes and wait until every node
    serves metadata naming all of them."""
    if size < 2:
        raise InfraError("a cluster has 2 or more brokers; use start_kafka for one")
    data_dir = data_dir.resolve()
    data_dir.mkdir(parents=True, exist_ok=True)
    layout = _load_layout(data_dir)
    if layout is None or len(layout) != size:
        if layout is not None:  # another size: its storage would name other voters
            stop_cluster(data_dir)
            for node in layout:
                shutil.rmtree(data_dir / f"node-{node.node_id}", ignore_errors=True)
        layout = _new_layout(size, ports)
        (data_dir / LAYOUT_FILE).write_text(
            json.dumps({"nodes": [node.__dict__ for node in layout]}, indent=2)
        )
    cluster = KafkaCluster(data_dir, layout)
    started = time.monotonic()
    for node in layout:
        if cluster.pid(node.node_id) is None:
            start_node(cluster, node.node_id, wait=False)
    for node in layout:
        server = kafka.kafka_running(cluster.node_dir(node.node_id))
        if server is None:
            raise InfraError(f"Kafka node {node.node_id} exited at start; see its kafka.log")
        kafka.wait_ready(server, cluster.node_dir(node.node_id) / "kafka.log", timeout)
    alive = lambda: cluster_running(data_dir) is not None  # noqa: E731
    if not run_sync(
        lambda: probes.poll(lambda: brokers_visible(cluster, size), budget=timeout, alive=alive)
    ):
        raise InfraError(f"the Kafka cluster on {cluster.bootstrap} never listed {size} brokers")
    log.info(
        "kafka.cluster.started brokers=%d bootstrap=%s seconds=%.1f",
        size, cluster.bootstrap, time.monotonic() - started,
    )  # fmt: skip
    return cluster


def start_node(cluster: KafkaCluster, node_id: int, *, wait: bool = True) -> None:
    """Start one node of the cluster (again, after a kill): same ports, same storage."""
    node = next(n for n in cluster.nodes if n.node_id == node_id)
    node_dir = cluster.node_dir(node_id)
    node_dir.mkdir(parents=True, exist_ok=True)
    shared_id = kafka._cluster_id(cluster.data_dir / "cluster.id")
    (node_dir / "cluster.id").write_text(shared_id)
    ensure_port_free(node.port, f"Kafka node {node_id}")
    ensure_port_free(node.controller_port, f"Kafka controller {node_id}")
    java = kafka.java_executable()
    if java is None:
        raise InfraError("Apache Kafka mode needs Java 17+ (`java` on PATH or $JAVA_HOME)")
    config = kafka.server_properties(
        node_dir, node.port, node.controller_port,
        node_id=node_id, voters=_voters(cluster.nodes), replication=cluster.size,
    )  # fmt: skip
    server = kafka.launch_node(
        node_dir, kafka.ensure_kafka_libs(), java, node.port, node.controller_port, config
    )
    if wait:
        kafka.wait_ready(server, node_dir / "kafka.log", 120.0)


def stop_node(cluster: KafkaCluster, node_id: int) -> bool:
    return kafka.stop_kafka(cluster.node_dir(node_id))


def stop_cluster(data_dir: Path, timeout: float = 15.0) -> bool:
    """Stop every node started on ``data_dir`` at once; True if any was running.

    All together: a node stopped after the others have gone waits for a controller quorum
    that no longer exists, and would only end at the SIGKILL.
    """
    data_dir = data_dir.resolve()
    layout = _load_layout(data_dir) or ()
    with ThreadPoolExecutor(max_workers=max(1, len(layout))) as pool:
        stopped = list(
            pool.map(lambda n: kafka.stop_kafka(data_dir / f"node-{n.node_id}", timeout), layout)
        )
    return any(stopped)


async def brokers_visible(cluster: KafkaCluster, expected: int) -> bool:
    """True when the cluster's metadata names ``expected`` live brokers."""
    from aiokafka import AIOKafkaClient

    if not await probes.kafka_metadata_ok(cluster.bootstrap):
        return False
    client = AIOKafkaClient(bootstrap_servers=cluster.bootstrap, request_timeout_ms=5000)
    try:
        await client.bootstrap()
        return len(client.cluster.brokers()) >= expected
    except Exception as exc:
        log.debug("kafka cluster probe failed error=%r", exc)
        return False
    finally:
        await client.close()

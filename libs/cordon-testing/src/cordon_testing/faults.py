"""Fault injection against real processes: a Kafka and a PostgreSQL that the run owns (so it
may kill, pause and restart them), the services under the `cordon up` supervisor, and the
faults themselves, each timed until the system has recovered.

Used by tests/test_fault_injection.py (short, for CI) and bench/bench_faults.py (longer).
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import os
import signal
import time
from collections.abc import Awaitable, Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from cordon_devenv import kafka as kafka_server
from cordon_devenv import kafka_cluster
from cordon_devenv import postgres as postgres_server
from cordon_devenv.infra import Infrastructure, start_infrastructure, stop_infrastructure
from cordon_devenv.supervisor import Supervisor

EXTERNAL_SERVERS = ("CORDON_KAFKA_BOOTSTRAP", "CORDON_DATABASE_URL", "CORDON_USE_TESTCONTAINERS")


@contextlib.contextmanager
def own_servers(state_dir: Path, *, brokers: int = 1) -> Iterator[OwnServers]:
    """A Kafka (a cluster of ``brokers`` nodes when more than one) and a PostgreSQL of our
    own in ``state_dir`` on free ports, never the servers named by CORDON_KAFKA_BOOTSTRAP /
    CORDON_DATABASE_URL (others use those: we kill ours)."""
    saved = {name: os.environ.pop(name) for name in EXTERNAL_SERVERS if name in os.environ}
    try:
        infra = start_infrastructure(
            state_dir, broker="kafka", kafka_port=0, postgres_port=0, brokers=brokers
        )
    finally:
        os.environ.update(saved)
    try:
        yield OwnServers(state_dir, infra)
    finally:
        stop_infrastructure(state_dir)


@dataclass
class OwnServers:
    state_dir: Path
    infra: Infrastructure
    kafka: kafka_server.KafkaServer = field(init=False)
    """The single broker (with one node); with a cluster, see ``cluster``."""
    cluster: kafka_cluster.KafkaCluster | None = field(init=False, default=None)
    postgres: postgres_server.PostgresServer = field(init=False)

    def __post_init__(self) -> None:
        postgres = postgres_server.postgres_running(self.state_dir / "postgres")
        assert postgres is not None
        self.postgres = postgres
        if self.infra.brokers > 1:
            self.cluster = kafka_cluster.cluster_running(self.state_dir / "kafka-cluster")
            assert self.cluster is not None
            return
        kafka = kafka_server.kafka_running(self.state_dir / "kafka")
        assert kafka is not None
        self.kafka = kafka

    def kill_broker(self, node_id: int) -> None:
        """kill -9 of one node of the cluster."""
        assert self.cluster is not None, "one broker: use kill_kafka"
        pid = self.cluster.pid(node_id)
        assert pid is not None, f"Kafka node {node_id} is not running"
        os.kill(pid, signal.SIGKILL)

    def start_broker(self, node_id: int) -> None:
        """Start a killed node again, on its ports and storage; it rejoins the cluster."""
        assert self.cluster is not None, "one broker: use start_kafka"
        deadline = time.monotonic() + 30
        while self.cluster.pid(node_id) is not None and time.monotonic() < deadline:
            time.sleep(0.1)  # the killed process is being reaped
        kafka_cluster.start_node(self.cluster, node_id)

    def kill_kafka(self) -> None:
        os.kill(self.kafka.pid, signal.SIGKILL)

    def pause_kafka(self) -> None:
        os.kill(self.kafka.pid, signal.SIGSTOP)

    def resume_kafka(self) -> None:
        os.kill(self.kafka.pid, signal.SIGCONT)

    def start_kafka(self) -> None:
        self.kafka = kafka_server.start_kafka(
            self.kafka.data_dir, port=self.kafka.port, controller_port=self.kafka.controller_port
        )

    def kill_postgres(self) -> None:
        """kill -9 of the postmaster, as a crash of the server would be."""
        os.kill(self.postgres.pid, signal.SIGKILL)

    def start_postgres(self, timeout: float = 60.0) -> None:
        """Start PostgreSQL again; the backends of the killed postmaster may still hold its
        shared memory for a moment, so a refused start is retried."""
        deadline = time.monotonic() + timeout
        while True:
            try:
                self.postgres = postgres_server.start_postgres(
                    self.postgres.base_dir, port=self.postgres.port
                )
                return
            except Exception:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.5)


@dataclass(frozen=True)
class Recovery:
    fault: str
    ready_s: float
    """From the end of the fault until every service answered /health/ready with 200."""
    flowing_s: float
    """From the end of the fault until a scan posted after it showed in the read models."""
    saw_not_ready: bool
    """Whether a service's readiness said 503 while the fault lasted (or right after it)."""


@dataclass
class FaultRun:
    """Runs faults one after another and times each recovery."""

    supervisor: Supervisor
    servers: OwnServers
    probe: Callable[[], Awaitable[None]]
    """Posts a fresh scan and returns once the read models show it."""
    ready_timeout_s: float = 180.0
    recoveries: list[Recovery] = field(default_factory=list)
    say: Callable[[str], None] = print

    async def readiness(self) -> dict[str, bool]:
        async with httpx.AsyncClient(timeout=2) as client:
            ready = {}
            for name, entry in self.supervisor.services.items():
                try:
                    answer = await client.get(f"{entry.url}/health/ready")
                    ready[name] = answer.status_code == 200
                except httpx.HTTPError:
                    ready[name] = False
            return ready

    async def _watch_readiness(self, seen_not_ready: list[bool], stop: asyncio.Event) -> None:
        while not stop.is_set():
            if not all((await self.readiness()).values()):
                seen_not_ready.append(True)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), 0.25)

    async def inject(
        self,
        fault: str,
        begin: Callable[[], None],
        end: Callable[[], None] | None = None,
        *,
        lasting_s: float = 0.0,
    ) -> Recovery:
        """``begin`` the fault, wait ``lasting_s``, ``end`` it (in a thread: a restart
        blocks), then time the way back: every service ready, a new scan shown."""
        self.say(f"fault: {fault}")
        not_ready: list[bool] = []
        stop = asyncio.Event()
        watcher = asyncio.create_task(self._watch_readiness(not_ready, stop))
        try:
            begin()
            await asyncio.sleep(lasting_s)
            if end is not None:
                await asyncio.to_thread(end)
            ended = time.monotonic()
            deadline = ended + self.ready_timeout_s
            while not all((await self.readiness()).values()):
                if time.monotonic() > deadline:
                    raise AssertionError(
                        f"after {fault}: not ready within {self.ready_timeout_s:.0f}s: "
                        f"{await self.readiness()}"
                    )
                await asyncio.sleep(0.2)
            ready_s = time.monotonic() - ended
            await asyncio.wait_for(self.probe(), self.ready_timeout_s)
            flowing_s = time.monotonic() - ended
        finally:
            stop.set()
            await watcher
        recovery = Recovery(fault, ready_s, flowing_s, bool(not_ready))
        self.recoveries.append(recovery)
        self.say(f"  ready again after {ready_s:.1f}s, scans shown again after {flowing_s:.1f}s")
        return recovery

    async def kill_service(self, name: str) -> Recovery:
        def kill() -> None:
            pid = self.supervisor.pid(name)
            assert pid is not None, f"{name} is not running"
            os.kill(pid, signal.SIGKILL)

        return await self.inject(f"kill -9 {name}", kill)

    async def standard_faults(
        self, services: Sequence[str], *, broker_down_s: float, pause_s: float, pg_down_s: float
    ) -> list[Recovery]:
        """kill -9 each service; kill -9 the broker and start it again; SIGSTOP it, SIGCONT;
        kill -9 the postmaster and start PostgreSQL again."""
        for name in services:
            await self.kill_service(name)
        s = self.servers
        await self.inject("kill -9 kafka", s.kill_kafka, s.start_kafka, lasting_s=broker_down_s)
        await self.inject("SIGSTOP kafka", s.pause_kafka, s.resume_kafka, lasting_s=pause_s)
        await self.inject(
            "kill -9 postgres", s.kill_postgres, s.start_postgres, lasting_s=pg_down_s
        )
        return self.recoveries

    async def broker_failures(
        self, *, broker_down_s: float, nodes: int | None = None
    ) -> list[Recovery]:
        """On a cluster, kill -9 the first ``nodes`` nodes (all by default: every partition
        then loses its leader once) one at a time, each started again after
        ``broker_down_s``; the services are left alone."""
        cluster = self.servers.cluster
        assert cluster is not None, "broker failures need a cluster (own_servers(brokers=3))"
        for node in cluster.nodes[:nodes]:
            await self.inject(
                f"kill -9 broker {node.node_id}/{cluster.size}",
                functools.partial(self.servers.kill_broker, node.node_id),
                functools.partial(self.servers.start_broker, node.node_id),
                lasting_s=broker_down_s,
            )
        return self.recoveries

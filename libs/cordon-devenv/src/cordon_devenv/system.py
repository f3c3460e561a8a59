"""`cordon up`: the whole system on one machine, each service its own OS process."""

from __future__ import annotations

import asyncio
import contextlib
import signal
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from cordon_devenv.balancer import Balancer
from cordon_devenv.demo import DemoDistrict, feed_gate, load_residents, open_gates
from cordon_devenv.infra import Infrastructure
from cordon_devenv.process import free_port
from cordon_devenv.supervisor import ServiceSpec, Supervisor

SERVICES = (
    ServiceSpec("registry", "cordon_registry", 8102),
    ServiceSpec("isolation", "cordon_isolation", 8103),
    ServiceSpec("gate", "cordon_gate", 8101),
    ServiceSpec("notification", "cordon_notification", 8104),
    ServiceSpec("projector", "cordon_projector", 8105),
)
"""Ports match docker-compose.yml."""

MAX_REPLICAS = 8


def parse_replicas(text: str) -> dict[str, int]:
    """``gate=2,projector=2`` -> {"gate": 2, "projector": 2}; ValueError says what is wrong."""
    known = {spec.name for spec in SERVICES}
    counts: dict[str, int] = {}
    for part in filter(None, (p.strip() for p in text.split(","))):
        name, _, number = part.partition("=")
        if name not in known:
            raise ValueError(f"no service {name!r}: one of {', '.join(sorted(known))}")
        if not number.isdigit() or not 1 <= int(number) <= MAX_REPLICAS:
            raise ValueError(f"{name}: replicas must be 1 to {MAX_REPLICAS}, not {number!r}")
        counts[name] = int(number)
    return counts


def balancer_for(supervisor: Supervisor, spec: ServiceSpec) -> Balancer:
    """A balancer over the replicas of ``spec``'s service that the supervisor counts ready."""

    def ready() -> list[str]:
        return [
            entry.url
            for entry in supervisor.services.values()
            if entry.spec.module == spec.module and entry.ready
        ]

    return Balancer(spec.name, ready)


def replica_specs(spec: ServiceSpec, count: int) -> list[ServiceSpec]:
    """The processes of one service: itself on its port, or ``count`` replicas named
    ``<name>-1``... on free ports, the service's port being the balancer's."""
    if count == 1:
        return [spec]
    return [ServiceSpec(f"{spec.name}-{i}", spec.module, free_port()) for i in range(1, count + 1)]


@dataclass
class RunningSystem:
    """The services of one `cordon up`, each its own OS process under the supervisor."""

    infra: Infrastructure
    log_dir: Path
    replicas: dict[str, int] = field(default_factory=dict)
    """Processes per service (1 when not named); more than one sit behind a balancer."""
    supervisor: Supervisor = field(init=False)
    balancers: dict[str, Balancer] = field(init=False, default_factory=dict)

    def __post_init__(self) -> None:
        self.supervisor = Supervisor(self.log_dir, self.infra.env(), say=_console)

    def url(self, service: str) -> str:
        """The service's one address (its balancer's, when it has replicas)."""
        spec = next(s for s in SERVICES if s.name == service)
        return f"http://127.0.0.1:{spec.port}"

    def start(self, spec: ServiceSpec) -> None:
        """Start the service's processes one after the other (each runs the schema's
        migrations under a lock; the first does the work, the others find it done)."""
        for replica in replica_specs(spec, self.replicas.get(spec.name, 1)):
            self.supervisor.start(replica)

    async def start_balancers(self) -> None:
        """A balancer on the public port of each service that has replicas."""
        for spec in SERVICES:
            if self.replicas.get(spec.name, 1) > 1:
                balancer = balancer_for(self.supervisor, spec)
                await balancer.start(spec.port)
                self.balancers[spec.name] = balancer

    async def stop_balancers(self) -> None:
        for balancer in self.balancers.values():
            await balancer.stop()

    def stop(self) -> None:
        self.supervisor.stop()


def _console(line: str) -> None:
    print(f"{datetime.now().strftime('%H:%M:%S')} cordon up: {line}", flush=True)


async def run_until_interrupted(system: RunningSystem, *, demo_rate: float) -> None:
    """Feed the demo district (if asked) until Ctrl-C or SIGTERM."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    await system.start_balancers()
    watcher = asyncio.create_task(system.supervisor.supervise(stop))
    feeder = None
    if demo_rate > 0:
        district = DemoDistrict(await load_residents(system.url("registry")))
        await open_gates(system.url("gate"), district)
        feeder = asyncio.create_task(feed_gate(system.url("gate"), district, per_second=demo_rate))
    await stop.wait()
    await watcher  # no restart once stopping
    if feeder is not None:
        feeder.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await feeder
    await system.stop_balancers()

"""`cordon up`: the whole system on one machine, each service its own OS process."""

from __future__ import annotations

import asyncio
import contextlib
import signal
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from cordon_devenv.demo import DemoDistrict, feed_gate, load_residents, open_gates
from cordon_devenv.infra import Infrastructure
from cordon_devenv.supervisor import ServiceSpec, Supervisor

SERVICES = (
    ServiceSpec("registry", "cordon_registry", 8102),
    ServiceSpec("isolation", "cordon_isolation", 8103),
    ServiceSpec("gate", "cordon_gate", 8101),
    ServiceSpec("notification", "cordon_notification", 8104),
    ServiceSpec("projector", "cordon_projector", 8105),
)
"""Ports match docker-compose.yml."""


@dataclass
class RunningSystem:
    """The services of one `cordon up`, each its own OS process under the supervisor."""

    infra: Infrastructure
    log_dir: Path
    supervisor: Supervisor = field(init=False)

    def __post_init__(self) -> None:
        self.supervisor = Supervisor(self.log_dir, self.infra.env(), say=_console)

    def url(self, service: str) -> str:
        spec = next(s for s in SERVICES if s.name == service)
        return f"http://127.0.0.1:{spec.port}"

    def start(self, spec: ServiceSpec) -> None:
        self.supervisor.start(spec)

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

"""`cordon up`: the whole system on one machine, each service its own OS process."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from cordon_devenv.demo import DemoDistrict, feed_gate, load_residents, open_gates
from cordon_devenv.infra import Infrastructure


@dataclass(frozen=True)
class ServiceSpec:
    name: str
    module: str
    port: int


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
    infra: Infrastructure
    log_dir: Path
    processes: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)

    def url(self, service: str) -> str:
        spec = next(s for s in SERVICES if s.name == service)
        return f"http://127.0.0.1:{spec.port}"

    def start(self, spec: ServiceSpec, *, ready_timeout: float = 90.0) -> None:
        env = {**os.environ, **self.infra.env(), "CORDON_HTTP_PORT": str(spec.port)}
        log = (self.log_dir / f"{spec.name}.log").open("ab")
        process = subprocess.Popen(
            [sys.executable, "-m", spec.module],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # Ctrl-C reaches `cordon up`, which stops services in order
        )
        self.processes[spec.name] = process
        deadline = time.monotonic() + ready_timeout
        while time.monotonic() < deadline:
            if process.poll() is not None:
                raise RuntimeError(f"{spec.name} exited; see {self.log_dir / spec.name}.log")
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(f"{self.url(spec.name)}/health/ready", timeout=1).status_code == 200:
                    return
            time.sleep(0.2)
        raise RuntimeError(f"{spec.name} not ready after {ready_timeout:.0f}s")

    def stop(self) -> None:
        for process in self.processes.values():
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        for process in self.processes.values():
            try:
                process.wait(20)
            except subprocess.TimeoutExpired:
                process.kill()


async def run_until_interrupted(system: RunningSystem, *, demo_rate: float) -> None:
    """Feed the demo district (if asked) until Ctrl-C or SIGTERM."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    feeder = None
    if demo_rate > 0:
        district = DemoDistrict(await load_residents(system.url("registry")))
        await open_gates(system.url("gate"), district)
        feeder = asyncio.create_task(feed_gate(system.url("gate"), district, per_second=demo_rate))
    await stop.wait()
    if feeder is not None:
        feeder.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await feeder

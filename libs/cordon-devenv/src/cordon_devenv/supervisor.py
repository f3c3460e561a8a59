"""The supervisor of `cordon up`: notices a service that exits, says so, restarts it.

A service process that dies (a crash, the OOM killer, ``kill -9``, or a background task that
ends the process on purpose so that it is restarted) is reaped at once, so it never lingers
as ``<defunct>``. Its exit is logged on the console and appended to the service's own log;
it is started again after a delay that doubles with each quick failure up to a cap, and
falls back to the first delay once the service has stayed up for a while. A restarted
service counts as back only when its ``/health/ready`` answers 200.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import httpx

log = logging.getLogger("cordon.supervisor")


@dataclass(frozen=True)
class ServiceSpec:
    name: str
    module: str
    port: int


@dataclass(frozen=True)
class RestartPolicy:
    first_delay_s: float = 1.0
    max_delay_s: float = 30.0
    stable_after_s: float = 60.0
    """A service up this long is healthy again: its next failure waits only the first delay."""
    ready_timeout_s: float = 90.0
    """A restarted service not ready by then is killed and counts as another failure."""

    def delay(self, quick_failures: int) -> float:
        """Seconds to wait before the next start, after ``quick_failures`` in a row (>= 1)."""
        return float(min(self.max_delay_s, self.first_delay_s * 2 ** (quick_failures - 1)))


def exit_reason(returncode: int) -> str:
    """``exit code 3`` or ``killed by SIGKILL``, from a Popen return code."""
    if returncode < 0:
        try:
            return f"killed by {signal.Signals(-returncode).name}"
        except ValueError:
            return f"killed by signal {-returncode}"
    return f"exit code {returncode}"


@dataclass
class Supervised:
    """One service under supervision: its current process and its restart history."""

    spec: ServiceSpec
    process: subprocess.Popen[bytes] | None = None
    started_at: float = 0.0
    ready: bool = False
    quick_failures: int = 0
    restarts: int = 0
    down_since: float | None = None
    restart_at: float | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.spec.port}"


@dataclass
class Supervisor:
    """Starts services as OS processes and keeps them running until stopped."""

    log_dir: Path
    env: Mapping[str, str]
    policy: RestartPolicy = field(default_factory=RestartPolicy)
    say: Callable[[str], None] | None = None
    """The console: a line for each exit, restart and return to readiness (else a log line)."""
    services: dict[str, Supervised] = field(default_factory=dict)
    downtimes: list[tuple[str, float]] = field(default_factory=list)
    """(service, seconds from its exit to ready again), for each recovery seen."""

    def url(self, name: str) -> str:
        return self.services[name].url

    def spawn(self, spec: ServiceSpec) -> subprocess.Popen[bytes]:
        """Start ``spec``'s process (without waiting for it to be ready)."""
        entry = self.services.setdefault(spec.name, Supervised(spec))
        env = {**os.environ, **self.env, "CORDON_HTTP_PORT": str(spec.port)}
        with self.log_path(spec.name).open("ab") as out:
            entry.process = subprocess.Popen(
                [sys.executable, "-m", spec.module],
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # Ctrl-C reaches `cordon up`, which stops services in order
            )
        entry.started_at = time.monotonic()
        entry.ready = False
        entry.restart_at = None
        return entry.process

    def start(self, spec: ServiceSpec) -> None:
        """Start ``spec`` and wait until it is ready (the first start: a failure is fatal)."""
        process = self.spawn(spec)
        deadline = time.monotonic() + self.policy.ready_timeout_s
        while time.monotonic() < deadline:
            if process.poll() is not None:
                raise RuntimeError(
                    f"{spec.name} exited ({exit_reason(process.returncode)}); "
                    f"see {self.log_path(spec.name)}"
                )
            if _ready(self.services[spec.name].url):
                self.services[spec.name].ready = True
                return
            time.sleep(0.2)
        raise RuntimeError(f"{spec.name} not ready after {self.policy.ready_timeout_s:.0f}s")

    def log_path(self, name: str) -> Path:
        return self.log_dir / f"{name}.log"

    def pid(self, name: str) -> int | None:
        process = self.services[name].process
        return None if process is None or process.poll() is not None else process.pid

    async def supervise(self, stop: asyncio.Event, *, interval: float = 0.25) -> None:
        """Watch every service until ``stop`` is set: reap and report exits, restart with
        backoff, report the return to readiness."""
        async with httpx.AsyncClient(timeout=1.0) as client:
            while not stop.is_set():
                for entry in self.services.values():
                    await self._check(entry, client)
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), interval)

    async def _check(self, entry: Supervised, client: httpx.AsyncClient) -> None:
        now = time.monotonic()
        process = entry.process
        if process is not None and process.poll() is not None:  # poll() reaps it
            self._exited(entry, process.returncode, now)
        elif process is not None and not entry.ready:
            if await _ready_async(client, entry.url):
                self._back(entry, now)
            elif now - entry.started_at > self.policy.ready_timeout_s:
                self._note(entry, f"not ready after {self.policy.ready_timeout_s:.0f}s; killing")
                with contextlib.suppress(ProcessLookupError):
                    process.kill()
        if entry.process is None and entry.restart_at is not None and now >= entry.restart_at:
            entry.restarts += 1
            restarted = self.spawn(entry.spec)
            self._note(entry, f"restarted (pid {restarted.pid}, restart #{entry.restarts})")

    def _exited(self, entry: Supervised, returncode: int, now: float) -> None:
        uptime = now - entry.started_at
        if uptime >= self.policy.stable_after_s:
            entry.quick_failures = 0
        entry.quick_failures += 1
        delay = self.policy.delay(entry.quick_failures)
        entry.process = None
        entry.ready = False
        entry.down_since = now if entry.down_since is None else entry.down_since
        entry.restart_at = now + delay
        self._note(
            entry,
            f"exited ({exit_reason(returncode)}) after {uptime:.1f}s up; "
            f"restarting in {delay:.1f}s",
            warning=True,
        )

    def _back(self, entry: Supervised, now: float) -> None:
        entry.ready = True
        if entry.down_since is None:
            return
        downtime = now - entry.down_since
        entry.down_since = None
        self.downtimes.append((entry.spec.name, downtime))
        self._note(entry, f"ready again, {downtime:.1f}s after it went down")

    def _note(self, entry: Supervised, what: str, *, warning: bool = False) -> None:
        line = f"{entry.spec.name} {what}"
        if self.say is not None:
            self.say(line)
        else:
            (log.warning if warning else log.info)("supervisor: %s", line)
        stamp = datetime.now(UTC).isoformat(timespec="milliseconds")
        with contextlib.suppress(OSError), self.log_path(entry.spec.name).open("a") as out:
            out.write(f"{stamp} [cordon up] {line}\n")

    def stop(self, names: Iterable[str] | None = None, *, timeout: float = 20.0) -> None:
        """SIGTERM every service (or ``names``), wait, then SIGKILL what is left."""
        chosen = [self.services[n] for n in (names or list(self.services))]
        running = [e.process for e in chosen if e.process is not None]
        for process in running:
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        for process in running:
            try:
                process.wait(timeout)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        for entry in chosen:
            entry.process, entry.restart_at = None, None


def _ready(url: str) -> bool:
    with contextlib.suppress(httpx.HTTPError):
        return httpx.get(f"{url}/health/ready", timeout=1).status_code == 200
    return False


async def _ready_async(client: httpx.AsyncClient, url: str) -> bool:
    with contextlib.suppress(httpx.HTTPError):
        return (await client.get(f"{url}/health/ready")).status_code == 200
    return False

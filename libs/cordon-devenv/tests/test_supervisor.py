"""The supervisor of `cordon up`, with real processes: a killed service is reaped, reported,
restarted with backoff and ready again; once stopping, nothing is restarted."""

from __future__ import annotations

import asyncio
import os
import signal
import time
from collections.abc import AsyncIterator
from pathlib import Path

import psutil  # type: ignore[import-untyped,unused-ignore]
import pytest

from cordon_devenv.process import free_port
from cordon_devenv.supervisor import RestartPolicy, ServiceSpec, Supervisor, exit_reason


class Console:
    def __init__(self) -> None:
        self.lines: list[tuple[float, str]] = []

    def __call__(self, line: str) -> None:
        self.lines.append((time.monotonic(), line))

    def saying(self, words: str) -> list[float]:
        return [at for at, line in self.lines if words in line]


async def eventually(check: object, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():  # type: ignore[operator]
            return
        await asyncio.sleep(0.1)
    raise AssertionError(f"not within {timeout}s: {what}")


@pytest.fixture
async def running(
    service_env: dict[str, str], tmp_path: Path
) -> AsyncIterator[tuple[Supervisor, Console, asyncio.Event]]:
    console = Console()
    policy = RestartPolicy(first_delay_s=0.5, max_delay_s=2.0, stable_after_s=60.0)
    supervisor = Supervisor(tmp_path, service_env, policy=policy, say=console)
    stop = asyncio.Event()
    watcher = asyncio.create_task(supervisor.supervise(stop, interval=0.1))
    yield supervisor, console, stop
    stop.set()
    await watcher
    supervisor.stop()


def test_exit_reasons_name_the_signal_or_the_code() -> None:
    assert exit_reason(-signal.SIGKILL) == "killed by SIGKILL"
    assert exit_reason(3) == "exit code 3"


def test_backoff_doubles_up_to_its_cap() -> None:
    policy = RestartPolicy(first_delay_s=1, max_delay_s=5)
    assert [policy.delay(n) for n in range(1, 6)] == [1, 2, 4, 5, 5]


async def test_a_service_killed_with_sigkill_is_reaped_reported_and_ready_again(
    running: tuple[Supervisor, Console, asyncio.Event],
) -> None:
    supervisor, console, _ = running
    await asyncio.to_thread(supervisor.start, ServiceSpec("gate", "cordon_gate", free_port()))
    first = supervisor.pid("gate")
    assert first is not None

    os.kill(first, signal.SIGKILL)
    await eventually(
        lambda: supervisor.services["gate"].ready and supervisor.pid("gate") not in (None, first),
        timeout=60,
        what="gate restarted and ready",
    )

    assert not psutil.pid_exists(first), "reaped at once, not left <defunct>"
    assert console.saying("gate exited (killed by SIGKILL)")
    assert console.saying("gate restarted")
    assert console.saying("gate ready again")
    assert "[cordon up] gate exited (killed by SIGKILL)" in supervisor.log_path("gate").read_text()
    assert [name for name, _ in supervisor.downtimes] == ["gate"]


async def test_a_service_that_keeps_failing_is_restarted_ever_more_slowly(
    running: tuple[Supervisor, Console, asyncio.Event],
) -> None:
    supervisor, console, _ = running
    supervisor.spawn(ServiceSpec("broken", "no_such_cordon_service", free_port()))

    await eventually(lambda: len(console.saying("broken exited")) >= 5, 40, "five exits")

    exits = console.saying("broken exited (exit code 1)")
    restarts = console.saying("broken restarted")
    waits = [restart - exit for exit, restart in zip(exits, restarts, strict=False)]
    # 0.5 s, 1 s, 2 s, then capped at 2 s (the watcher looks every 0.1 s)
    wanted = (0.5, 1.0, 2.0, 2.0)
    assert len(waits) >= 4
    assert all(want <= wait < want + 0.5 for wait, want in zip(waits, wanted, strict=False)), waits


async def test_once_stopping_nothing_is_restarted_and_every_service_ends(
    running: tuple[Supervisor, Console, asyncio.Event],
) -> None:
    supervisor, console, stop = running
    await asyncio.to_thread(supervisor.start, ServiceSpec("gate", "cordon_gate", free_port()))
    pid = supervisor.pid("gate")
    assert pid is not None

    stop.set()
    await asyncio.sleep(0.3)  # the watcher ends
    os.kill(pid, signal.SIGKILL)
    await asyncio.sleep(supervisor.policy.first_delay_s + 0.5)
    supervisor.stop()

    assert supervisor.pid("gate") is None
    assert not console.saying("gate restarted")

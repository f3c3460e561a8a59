"""Supervision of a service's background tasks: a failed task is started again, after a
capped exponential backoff with jitter, on fresh connections; one that cannot go on ends
the process so that its own supervisor (``cordon up``, systemd, Kubernetes) restarts it.

An outage of PostgreSQL or Kafka is never a reason to give up: the task is restarted for
as long as it lasts. Any other error (a bug, a broken invariant) is retried a few times
in a row; if it keeps failing the task is dead for good: liveness answers 503, the log says
``background_task_fatal`` and, in a service process, the process exits with code 70.
"""

from __future__ import annotations

import asyncio
import os
import random
import sys
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

import structlog
from prometheus_client import Counter, Gauge

from cordon_core.outage import dependency_of, is_outage

log = structlog.get_logger(__name__)

TASK_RESTARTS = Counter(
    "cordon_background_task_restarts_total",
    "Background task restarts after a failure",
    ["task"],
)
TASK_UP = Gauge(
    "cordon_background_task_up",
    "1 while a background task runs; 0 while it waits to restart or after it gave up",
    ["task"],
)

FATAL_EXIT_CODE = 70  # EX_SOFTWARE


@dataclass(frozen=True)
class RestartPolicy:
    first_delay_s: float = 0.2
    max_delay_s: float = 10.0
    give_up_after: int = 5
    """Failures in a row, other than outages, after which the task is dead for good."""
    stable_after_s: float = 30.0
    """A run that lasted this long was healthy: the next failure counts from one again."""

    def delay(self, failures: int) -> float:
        """Capped exponential backoff with jitter: replicas that lost the same server do
        not all come back to it at the same instant."""
        cap = min(self.max_delay_s, self.first_delay_s * 2 ** min(failures - 1, 30))
        return random.uniform(cap / 2, cap)


_exit_grace_s: float | None = None


def exit_process_on_fatal(grace_s: float) -> None:
    """Arm the process-wide policy (called by ``serve``): a task dead for good ends the
    process ``grace_s`` later (time for liveness to be seen and logs to be written).
    Left unarmed, e.g. in tests that run a service inside pytest, only liveness fails."""
    global _exit_grace_s
    _exit_grace_s = grace_s


def _exit_now(task: str) -> None:
    log.critical("process_exiting", reason=f"background task {task} is dead", code=FATAL_EXIT_CODE)
    sys.stdout.flush()
    os._exit(FATAL_EXIT_CODE)


class TaskSupervisor:
    """Runs one service's background tasks and knows which of them are dead for good."""

    def __init__(self, service: str, policy: RestartPolicy | None = None) -> None:
        self.service = service
        self.policy = policy or RestartPolicy()
        self.dead: dict[str, str] = {}
        """Tasks that gave up, with the error that ended them."""
        self._tasks: list[asyncio.Task[None]] = []

    def start(self, name: str, run: Callable[[], Awaitable[None]]) -> asyncio.Task[None]:
        """Run ``run()`` until it returns; start it again each time it raises."""
        task = asyncio.create_task(self._keep_running(name, run), name=f"{self.service}-{name}")
        self._tasks.append(task)
        return task

    @property
    def tasks(self) -> list[asyncio.Task[None]]:
        return list(self._tasks)

    async def _keep_running(self, name: str, run: Callable[[], Awaitable[None]]) -> None:
        task = f"{self.service}-{name}"
        failures = 0
        while True:
            TASK_UP.labels(task).set(1)
            started = time.monotonic()
            try:
                await run()
                TASK_UP.labels(task).set(0)
                return
            except asyncio.CancelledError:
                TASK_UP.labels(task).set(0)
                raise
            except Exception as error:
                TASK_UP.labels(task).set(0)
                if time.monotonic() - started >= self.policy.stable_after_s:
                    failures = 0
                failures += 1
                outage = is_outage(error)
                if not outage and failures >= self.policy.give_up_after:
                    self._give_up(task, error, failures)
                    return
                delay = self.policy.delay(failures)
                TASK_RESTARTS.labels(task).inc()
                log.warning(
                    "background_task_failed",
                    task=task,
                    attempt=failures,
                    restart_in_s=round(delay, 3),
                    dependency=dependency_of(error) if outage else None,
                    error=repr(error),
                    exc_info=None if outage else error,
                )
                await asyncio.sleep(delay)

    def _give_up(self, task: str, error: BaseException, failures: int) -> None:
        self.dead[task] = repr(error)
        log.critical(
            "background_task_fatal",
            task=task,
            attempts=failures,
            error=repr(error),
            exc_info=error,
            exits_in_s=_exit_grace_s,
        )
        if _exit_grace_s is not None:
            asyncio.get_running_loop().call_later(_exit_grace_s, _exit_now, task)

    async def stop(self, timeout: float = 10.0) -> None:
        """Cancel the tasks still running and wait for them."""
        for task in self._tasks:
            task.cancel()
        if self._tasks:
            await asyncio.wait(self._tasks, timeout=timeout)
        self._tasks.clear()

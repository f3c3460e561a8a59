"""Background tasks under the runtime's supervisor: restarted through an outage for as
long as it lasts; dead for good after repeated failures of another kind, which liveness
reports and which, in a service process, ends the process with a non-zero code."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import textwrap

import httpx
from fastapi import FastAPI
from prometheus_client import REGISTRY

from cordon_core.envelope import EventRegistry
from cordon_core.http import operations_router
from cordon_core.runtime import ServiceRuntime
from cordon_core.settings import ServiceSettings
from cordon_core.supervision import FATAL_EXIT_CODE, RestartPolicy, TaskSupervisor

FAST = RestartPolicy(first_delay_s=0.001, max_delay_s=0.01, give_up_after=3)


def restarts(task: str) -> float:
    return REGISTRY.get_sample_value("cordon_background_task_restarts_total", {"task": task}) or 0


async def test_a_task_is_restarted_through_an_outage_for_as_long_as_it_lasts() -> None:
    supervisor = TaskSupervisor("outage-test", FAST)
    runs = 0

    async def connect_until_the_tenth_try() -> None:
        nonlocal runs
        runs += 1
        if runs < 10:
            raise ConnectionRefusedError(111, "Connect call failed")

    await asyncio.wait_for(supervisor.start("relay", connect_until_the_tenth_try), 5)
    assert runs == 10
    assert supervisor.dead == {}
    assert restarts("outage-test-relay") == 9


async def test_a_task_that_keeps_failing_otherwise_is_dead_for_good() -> None:
    supervisor = TaskSupervisor("bug-test", FAST)
    runs = 0

    async def broken() -> None:
        nonlocal runs
        runs += 1
        raise ValueError("a broken invariant")

    await asyncio.wait_for(supervisor.start("timers", broken), 5)
    assert runs == FAST.give_up_after
    assert supervisor.dead == {"bug-test-timers": "ValueError('a broken invariant')"}
    up = REGISTRY.get_sample_value("cordon_background_task_up", {"task": "bug-test-timers"})
    assert up == 0


async def test_liveness_fails_when_a_background_task_is_dead_and_names_it() -> None:
    runtime = ServiceRuntime(
        service="livetest", settings=ServiceSettings(), registry=EventRegistry(), relay=False
    )
    runtime.supervisor.policy = FAST
    app = FastAPI()
    app.include_router(operations_router(runtime))
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        assert (await client.get("/health/live")).status_code == 200

        async def broken() -> None:
            raise RuntimeError("cannot go on")

        await asyncio.wait_for(runtime.supervise("sender", broken), 5)
        response = await client.get("/health/live")
    assert response.status_code == 503
    assert response.json() == {
        "status": "dead",
        "service": "livetest",
        "dead_tasks": {"livetest-sender": "RuntimeError('cannot go on')"},
    }


def test_a_service_process_exits_with_code_70_when_a_task_is_dead_for_good() -> None:
    script = textwrap.dedent(
        """
        import asyncio
        from cordon_core.observability import configure_logging
        from cordon_core.supervision import (
            RestartPolicy, TaskSupervisor, exit_process_on_fatal)

        async def broken():
            raise KeyError("no such thing")

        async def main():
            configure_logging(json_logs=True)
            exit_process_on_fatal(0.05)
            policy = RestartPolicy(first_delay_s=0.001, max_delay_s=0.01, give_up_after=2)
            TaskSupervisor("exit-test", policy).start("relay", broken)
            await asyncio.sleep(30)  # the HTTP side would go on serving here

        asyncio.run(main())
        """
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=60
    )
    assert done.returncode == FATAL_EXIT_CODE, done.stdout + done.stderr
    assert '"event": "background_task_fatal"' in done.stdout, done.stdout
    assert '"task": "exit-test-relay"' in done.stdout
    assert '"event": "process_exiting"' in done.stdout

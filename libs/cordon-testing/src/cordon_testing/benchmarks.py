"""What the scripts of bench/ share, and running one as CI does (a subprocess against the
test run's Kafka and PostgreSQL)."""

from __future__ import annotations

import contextlib
import os
import platform
import re
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from aiokafka.admin import AIOKafkaAdminClient

from cordon_devenv.infra import Infrastructure

ROOT = Path(__file__).resolve().parents[4]
"""The repository (this package is installed editable from libs/cordon-testing/src)."""


def run_benchmark(
    script: str, *args: str, infrastructure: Infrastructure, timeout: float = 240
) -> tuple[int, str, str]:
    """(exit status, stdout, the last 6,000 characters of stdout + stderr for messages)."""
    run = subprocess.run(
        [sys.executable, str(ROOT / "bench" / script), *args],
        cwd=ROOT,
        env={**os.environ, **infrastructure.env()},
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    return run.returncode, run.stdout, (run.stdout + run.stderr)[-6000:]


# What every script of bench/ needs beside its own measurement: cleaning up its topics and
# describing the machine it ran on.


async def delete_topics(bootstrap: str, prefixes: Sequence[str]) -> None:
    """Delete every topic named ``<prefix>.*`` for one of ``prefixes`` (a run's topics)."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        ours = [
            t for t in await admin.list_topics() if t.startswith(tuple(f"{p}." for p in prefixes))
        ]
        if ours:
            await admin.delete_topics(ours)
    finally:
        await admin.close()


def host_cpu_seconds() -> tuple[float, float] | None:
    """(busy, capacity) CPU seconds of the whole host since boot, from /proc/stat."""
    try:
        with open("/proc/stat") as fh:
            fields = [int(x) for x in fh.readline().split()[1:]]
    except (OSError, ValueError):
        return None
    tick = os.sysconf("SC_CLK_TCK")
    idle = fields[3] + (fields[4] if len(fields) > 4 else 0)  # idle + iowait
    total = sum(fields[:8])  # guest time is already counted in user
    return (total - idle) / tick, total / tick


def host_facts() -> dict[str, Any]:
    """Cores, CPU model, memory, OS, Python and the load average now."""
    cpu, mem_gib = "unknown", None
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    with contextlib.suppress(OSError, ValueError, IndexError):
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                mem_gib = round(int(line.split()[1]) / 1024 / 1024, 1)
    return {
        "cores": len(os.sched_getaffinity(0)),
        "cpu": cpu,
        "memory_gib": mem_gib,
        "os": platform.platform(),
        "python": platform.python_version(),
        "loadavg_at_start": [round(x, 2) for x in os.getloadavg()],
    }


def local_kafka_version(bootstrap: str) -> str | None:
    """The version in the command line of the local process listening on ``bootstrap``."""
    try:
        import psutil

        port = int(bootstrap.rsplit(":", 1)[1])
        for conn in psutil.net_connections(kind="tcp"):
            if conn.status == psutil.CONN_LISTEN and conn.laddr.port == port and conn.pid:
                cmdline = " ".join(psutil.Process(conn.pid).cmdline())
                found = re.search(r"kafka[-_][0-9.]*?-?(\d+\.\d+\.\d+)", cmdline)
                return found[1] if found else None
    except Exception:
        return None
    return None

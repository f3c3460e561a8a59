"""What every script of bench/ uses beside its own measurement: reporting, percentiles, who
used the CPU during a measurement, a lean HTTP client, cleaning up topics, describing the
machine. A script imports it as ``harness`` (bench/ is the script's own folder)."""

from __future__ import annotations

import asyncio
import contextlib
import json
import math
import os
import platform
import re
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from aiokafka.admin import AIOKafkaAdminClient

QUIET_CORES = 0.3
"""CPU (in cores) used by programs other than the bench and its servers that still counts
as a quiet host; more marks a figure as disturbed."""


def say(message: str = "") -> None:
    print(message, flush=True)


def percentile(ordered: Sequence[float], pct: float, *, empty: float = 0.0) -> float:
    """The nearest-rank ``pct`` percentile of sorted values (100: the largest); ``empty``
    when there are none."""
    if not ordered:
        return empty
    return ordered[min(len(ordered) - 1, max(0, round(pct / 100 * (len(ordered) - 1))))]


NOTHING_MEASURED = math.nan
"""``empty`` for a percentile that must not read as a figure when nothing was measured."""


# ------------------------------------------------------------------------ who used the CPU


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


def listening_processes(*addresses: str) -> list[Any]:
    """The local processes (psutil) listening on the ports of ``addresses`` ("host:port" or
    URLs): the servers under test. Empty when they are remote or cannot be seen."""
    try:
        import psutil

        ports = set()
        for address in addresses:
            with contextlib.suppress(ValueError, TypeError):
                ports.add(int(urlsplit(f"//{address.split('//')[-1]}").port or 0))
        pids = {
            c.pid
            for c in psutil.net_connections(kind="tcp")
            if c.status == psutil.CONN_LISTEN and c.laddr.port in ports and c.pid
        }
        return [psutil.Process(pid) for pid in sorted(pids)]
    except Exception:  # not Linux, not allowed: then only the bench's own CPU is known
        return []


def processes(*pids: int | None) -> list[Any]:
    """The running processes (psutil) of ``pids``; those that cannot be seen are left out."""
    found = []
    for pid in pids:
        with contextlib.suppress(Exception):
            import psutil

            if pid:
                found.append(psutil.Process(pid))
    return found


def cpu_seconds(processes: Sequence[Any]) -> float | None:
    """CPU seconds of ``processes`` with their children (PostgreSQL's backends), including
    children that already exited; None when there are none or one cannot be read."""
    if not processes:
        return None
    total = 0.0
    try:
        for proc in processes:
            t = proc.cpu_times()
            total += t.user + t.system + t.children_user + t.children_system
            for child in proc.children(recursive=True):
                with contextlib.suppress(Exception):
                    c = child.cpu_times()
                    total += c.user + c.system
    except Exception:
        return None
    return total


@dataclass(frozen=True, slots=True)
class CpuSample:
    wall: float
    bench: float  # this process's CPU seconds
    groups: Mapping[str, float | None]  # each watched group's CPU seconds
    host: tuple[float, float] | None  # host busy and capacity CPU seconds
    load_1m: float


class CpuMeter:
    """Who used the host's CPU between two samples: this process, each watched group of
    processes (the service under test, the servers), and everybody else. CPU that is none
    of theirs is another program's (a test suite in another checkout) and makes a figure
    unreliable. Used as a context manager, it samples on entry and exit."""

    def __init__(self, **groups: Sequence[Any]) -> None:
        self.groups = {name: list(processes) for name, processes in groups.items()}
        self.first: CpuSample | None = None
        self.last: CpuSample | None = None

    def sample(self) -> CpuSample:
        return CpuSample(
            wall=time.perf_counter(),
            bench=time.process_time(),
            groups={name: cpu_seconds(procs) for name, procs in self.groups.items()},
            host=host_cpu_seconds(),
            load_1m=os.getloadavg()[0],
        )

    def __enter__(self) -> CpuMeter:
        self.first = self.sample()
        return self

    def __exit__(self, *_: object) -> None:
        self.last = self.sample()

    def cores(
        self, a: CpuSample | None = None, b: CpuSample | None = None, *, digits: int | None = 2
    ) -> dict[str, float | None]:
        """Cores used between samples ``a`` and ``b`` (by default the context's first and
        last; 1.0 = one core busy all the time): ``bench``, each group, ``host`` (with
        ``host_capacity``), ``others`` (the host minus all the known ones) and ``wall_s``."""
        a, b = a or self.first, b or self.last
        assert a is not None and b is not None, "sample twice, or use the meter as a context"
        wall = b.wall - a.wall

        def rounded(value: float | None) -> float | None:
            return None if value is None or digits is None else round(value, digits)

        seconds: dict[str, float | None] = {"bench": b.bench - a.bench}
        for name in self.groups:
            before, after = a.groups[name], b.groups[name]
            seconds[name] = None if before is None or after is None else after - before
        out: dict[str, float | None] = {}
        for name, spent in seconds.items():
            out[name] = None if spent is None or wall <= 0 else spent / wall
        host = None
        if a.host and b.host and b.host[1] > a.host[1] and wall > 0:
            host = (b.host[0] - a.host[0]) / wall
            out["host_capacity"] = (b.host[1] - a.host[1]) / wall
        out["host"] = host
        known = list(seconds)
        out["others"] = (
            None
            if host is None or any(out[k] is None for k in known)
            else max(0.0, host - sum(out[k] or 0.0 for k in known))
        )
        if digits is not None:
            out = {name: rounded(value) for name, value in out.items()}
        out["wall_s"] = round(wall, 3)
        return out

    async def settle(self, max_wait: float, *, quiet_seconds: int = 1) -> float:
        """Wait up to ``max_wait`` s until other programs have used less than QUIET_CORES
        for ``quiet_seconds`` seconds in a row; returns the seconds waited."""
        started = time.perf_counter()
        told, quiet = False, 0
        while max_wait > 0:
            first = self.sample()
            await asyncio.sleep(1.0)
            others = self.cores(first, self.sample(), digits=None)["others"]
            if others is None:
                break
            quiet = quiet + 1 if others < QUIET_CORES else 0
            if quiet >= quiet_seconds:
                break
            if quiet:
                continue
            if time.perf_counter() - started >= max_wait:
                say(f"      other programs still use {others:.2f} cores: measuring anyway")
                break
            if not told:
                say(f"      waiting for a quiet host: other programs use {others:.2f} cores ...")
                told = True
        return time.perf_counter() - started


# ------------------------------------------------------------------------ the HTTP client


class HttpConnection:
    """A minimal keep-alive HTTP/1.1 client: on a 2-core machine every microsecond the load
    generator spends is taken from the service under test, so no general-purpose client."""

    def __init__(self, host: str, port: int) -> None:
        self.host, self.port = host, port
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None
        self.reconnects = 0

    async def open(self) -> HttpConnection:
        self.reader, self.writer = await asyncio.open_connection(
            self.host, self.port, limit=1 << 20
        )
        return self

    @property
    def is_open(self) -> bool:
        return self.writer is not None

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
        self.reader = self.writer = None

    async def post(
        self, path: str, token: str, body: bytes, method: str = "POST"
    ) -> tuple[int, bytes]:
        """One request; a kept-alive connection the server closed meanwhile (uvicorn closes
        idle ones after 5 s) is opened again and the request sent again, as clients do."""
        reused = self.writer is not None
        try:
            return await self._post(method, path, token, body)
        except (ConnectionError, asyncio.IncompleteReadError):
            self.close()
            if not reused:
                raise
            self.reconnects += 1
            return await self._post(method, path, token, body)

    async def _post(self, method: str, path: str, token: str, body: bytes) -> tuple[int, bytes]:
        if self.writer is None:
            await self.open()
        assert self.reader is not None and self.writer is not None
        self.writer.write(
            b"%s %s HTTP/1.1\r\nHost: %s:%d\r\nAuthorization: Bearer %s\r\n"
            b"Content-Type: application/json\r\nContent-Length: %d\r\n\r\n%s"
            % (
                method.encode(),
                path.encode(),
                self.host.encode(),
                self.port,
                token.encode(),
                len(body),
                body,
            )
        )
        reader = self.reader
        line = await reader.readline()
        if not line:
            self.close()
            raise ConnectionError("connection closed by the server")
        status = int(line.split(b" ", 2)[1])
        length, chunked, close = 0, False, False
        while (line := await reader.readline()) not in (b"\r\n", b""):
            name, _, value = line.partition(b":")
            name = name.strip().lower()
            if name == b"content-length":
                length = int(value)
            elif name == b"transfer-encoding" and b"chunked" in value.lower():
                chunked = True
            elif name == b"connection" and value.strip().lower() == b"close":
                close = True
        if chunked:
            parts = []
            while size := int((await reader.readline()).split(b";")[0], 16):
                parts.append(await reader.readexactly(size))
                await reader.readline()
            await reader.readline()
            data = b"".join(parts)
        else:
            data = await reader.readexactly(length)
        if close:
            self.close()
        return status, data


class HttpPool:
    """Kept-alive connections shared by many concurrent requests: a request takes an idle
    one (the most recent) or opens one, and gives it back when the answer is read."""

    IDLE_S = 3.0
    """An idle connection older than this is closed rather than reused: uvicorn closes
    idle ones after 5 s."""

    def __init__(self, host: str, port: int) -> None:
        self.host, self.port = host, port
        self.idle: list[tuple[float, HttpConnection]] = []

    def _take(self) -> HttpConnection:
        while self.idle:
            since, conn = self.idle.pop()
            if time.monotonic() - since < self.IDLE_S:
                return conn
            conn.close()
        return HttpConnection(self.host, self.port)

    async def post(
        self, path: str, token: str, body: bytes, method: str = "POST"
    ) -> tuple[int, bytes]:
        conn = self._take()
        try:
            answer = await conn.post(path, token, body, method)
        except BaseException:
            conn.close()  # a cancelled request leaves the connection mid-answer
            raise
        if conn.is_open:
            self.idle.append((time.monotonic(), conn))
        return answer

    def close(self) -> None:
        for _, conn in self.idle:
            conn.close()
        self.idle.clear()


# ------------------------------------------------------------------ topics and the machine


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


RESULTS_DIR = Path(__file__).resolve().parent / "results"


def save_results(
    results: Mapping[str, Any], name: str, *, quick: bool = False, path: Path | None = None
) -> Path:
    """Write a run's results as JSON to ``path``, or to ``bench/results/<name>-<UTC
    time>[-quick].json`` (git-ignored); say and return where."""
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    path = path or RESULTS_DIR / f"{name}-{stamp}{'-quick' if quick else ''}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(results, indent=1, default=str) + "\n")
    say(f"results: {path}")
    return path

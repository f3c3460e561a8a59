"""The first run on a fresh machine: ``./cordon`` with no ``uv`` anywhere on PATH, a new HOME
and empty caches installs what it needs and gets past the install step.

It runs on a copy of the checkout (the files git tracks, as they are in the working tree), so
the project's own ``.venv`` and ``.cordon`` are not touched. PATH is a folder of links to every
executable of this machine's PATH except ``uv`` and ``uvx``: what a machine that never had uv
looks like to the script. The install needs PyPI (for uv and the locked packages), like the
real first run does.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
HIDDEN = {"uv", "uvx"}
pytestmark = pytest.mark.infra  # sets up a machine: uv, every package, the servers' tools


def _tracked_files() -> list[Path]:
    listed = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        cwd=ROOT, capture_output=True, check=True,
    )  # fmt: skip
    return [Path(p.decode()) for p in listed.stdout.split(b"\0") if p]


def _copy_checkout(dest: Path) -> None:
    for relative in _tracked_files():
        source = ROOT / relative
        if not source.is_file():
            continue  # deleted in the working tree
        target = dest / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(source, target)


def _path_without_uv(bin_dir: Path) -> str:
    """A PATH of one folder linking every executable on this PATH but uv and uvx."""
    bin_dir.mkdir()
    for folder in os.environ.get("PATH", "").split(os.pathsep):
        if not folder or not Path(folder).is_dir():
            continue
        for entry in Path(folder).iterdir():
            name = entry.name
            if name in HIDDEN or (bin_dir / name).exists():
                continue
            if entry.is_file() and os.access(entry, os.X_OK):
                (bin_dir / name).symlink_to(entry.resolve())
    return str(bin_dir)


@pytest.fixture
def fresh_machine(tmp_path: Path) -> tuple[Path, dict[str, str]]:
    checkout = tmp_path / "cordon"
    _copy_checkout(checkout)
    home = tmp_path / "home"
    home.mkdir()
    # The machine's own settings (certificates, proxies, package indexes) stay; whatever this
    # run's uv, virtual environment or Cordon set goes.
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("UV_", "CORDON_", "VIRTUAL_ENV", "PYTEST_", "XDG_"))
    }
    env |= {
        "PATH": _path_without_uv(tmp_path / "bin"),
        "HOME": str(home),
        "XDG_CACHE_HOME": str(tmp_path / "cache"),  # uv's and pip's caches: empty
        "PIP_NO_CACHE_DIR": "1",
    }
    return checkout, env


def test_uv_is_hidden_from_the_fresh_path(fresh_machine: tuple[Path, dict[str, str]]) -> None:
    _, env = fresh_machine
    assert shutil.which("uv", path=env["PATH"]) is None
    assert shutil.which("python3", path=env["PATH"]) is not None


@pytest.mark.timeout(900)
def test_first_run_without_uv_installs_it_and_every_package(
    fresh_machine: tuple[Path, dict[str, str]],
) -> None:
    checkout, env = fresh_machine
    done = subprocess.run(
        ["./cordon", "doctor"], cwd=checkout, env=env, capture_output=True, text=True,
        timeout=840, check=False,
    )  # fmt: skip
    output = done.stdout + done.stderr
    assert "command not found" not in output, output
    assert done.returncode == 0, output
    assert (checkout / ".cordon" / "uv" / "bin" / "uv").is_file(), output
    assert (checkout / ".venv" / "bin" / "python").is_file(), output
    tools = {line.split()[0] for line in done.stdout.splitlines() if line.strip()}
    assert {"python", "uv", "java", "mvn", "postgresql", "kcat", "chromium"} <= tools, output
    # The installed uv is the one the run used from then on.
    assert str(checkout / ".cordon" / "uv" / "bin" / "uv") in done.stdout, output

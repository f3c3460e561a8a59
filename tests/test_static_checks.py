"""The code style we hold ourselves to (ruff, mypy --strict), enforced by the test command."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SOURCES = [str(p) for p in sorted(ROOT.glob("libs/*/src")) + sorted(ROOT.glob("services/*/src"))]


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", *args], cwd=ROOT, capture_output=True, text=True, timeout=300
    )


def test_ruff_finds_no_lint_errors_or_unformatted_files() -> None:
    lint = run("ruff", "check", "libs", "services", "tests", "bench")
    fmt = run("ruff", "format", "--check", "libs", "services", "tests", "bench")

    assert lint.returncode == 0, lint.stdout
    assert fmt.returncode == 0, fmt.stdout


def test_mypy_strict_passes_on_every_package() -> None:
    result = run("mypy", *SOURCES)

    assert result.returncode == 0, result.stdout

"""An outside consumer installs the event contracts alone: they need pydantic (through
cordon-events), never the database, Kafka or web stack of Cordon's services."""

from __future__ import annotations

import subprocess
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]
SERVICE_STACK = {"asyncpg", "aiokafka", "faststream", "fastapi", "uvicorn", "cordon-core"}
CONTRACT_MODULES = (
    "cordon_contracts.gate",
    "cordon_contracts.registry",
    "cordon_contracts.isolation",
    "cordon_contracts.lab",
    "cordon_contracts.notification",
    "cordon_contracts.schemas",
    "cordon_contracts.fixtures",
    "cordon_contracts.topics",
    "cordon_contracts.consumer_groups",
    "cordon_contracts.asyncapi",
)


def installed_with(package: str) -> set[str]:
    """Every package that installing ``package`` (without extras) brings, per uv.lock."""
    lock = tomllib.loads((ROOT / "uv.lock").read_text(encoding="utf-8"))
    requires = {p["name"]: [d["name"] for d in p.get("dependencies", [])] for p in lock["package"]}
    seen: set[str] = set()
    todo = [package]
    while todo:
        name = todo.pop()
        if name not in seen:
            seen.add(name)
            todo.extend(requires[name])
    return seen


def test_installing_the_contracts_brings_pydantic_and_nothing_of_the_service_stack() -> None:
    brought = installed_with("cordon-contracts")

    assert "pydantic" in brought
    assert "cordon-events" in brought
    assert brought & SERVICE_STACK == set()


def test_the_contracts_import_with_the_service_stack_missing() -> None:
    blocked = sorted(name.replace("-", "_") for name in SERVICE_STACK)
    program = f"""
import importlib.abc, sys

class Missing(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in {blocked!r}:
            raise ModuleNotFoundError(f"{{name}} is not installed (blocked by the test)")
        return None

sys.meta_path.insert(0, Missing())
for module in {list(CONTRACT_MODULES)!r}:
    importlib.import_module(module)
from cordon_contracts.asyncapi import rendered
from cordon_contracts.topics import catalogue
assert catalogue().topics and rendered()
print("imported", len({list(CONTRACT_MODULES)!r}))
"""
    result = subprocess.run(
        [sys.executable, "-c", "import importlib\n" + program],
        capture_output=True,
        text=True,
        timeout=120,
    )

    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == f"imported {len(CONTRACT_MODULES)}"

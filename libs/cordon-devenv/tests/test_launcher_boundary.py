"""The launcher runs the services as processes and talks to them over HTTP; it never imports
one, nor installs one (the demo district is loaded through the registry's API)."""

from __future__ import annotations

import ast
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]
SOURCES = ROOT / "libs" / "cordon-devenv" / "src" / "cordon_devenv"
SERVICES = {"gate", "registry", "isolation", "notification", "projector"}


def imported_modules(path: Path) -> set[str]:
    modules: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            modules.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            modules.add(node.module)
    return modules


def test_no_launcher_module_imports_a_service() -> None:
    services = {f"cordon_{s}" for s in SERVICES}
    offenders = {
        f"{path.name}: {module}"
        for path in SOURCES.rglob("*.py")
        for module in imported_modules(path)
        if module.split(".")[0] in services
    }

    assert offenders == set()


def test_installing_the_launcher_installs_no_service() -> None:
    lock = tomllib.loads((ROOT / "uv.lock").read_text(encoding="utf-8"))
    requires = {p["name"]: [d["name"] for d in p.get("dependencies", [])] for p in lock["package"]}
    seen: set[str] = set()
    todo = ["cordon-devenv"]
    while todo:
        name = todo.pop()
        if name not in seen:
            seen.add(name)
            todo.extend(requires[name])

    assert seen & {f"cordon-{s}" for s in SERVICES} == set()

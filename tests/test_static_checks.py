"""The code style we hold ourselves to (ruff, mypy --strict), enforced by the test command."""

from __future__ import annotations

import os
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


CONSUMER_GROUPS_FILE = ROOT / "libs/cordon-contracts/src/cordon_contracts/consumer_groups.py"
REGENERATE = "CORDON_REGENERATE=1 uv run pytest tests/test_static_checks.py -k consumer_groups"


def subscribed_groups() -> dict[str, tuple[str, tuple[str, ...]]]:
    """Every consumer group the services run, as each service subscribes when it is built:
    group -> (service, the topics it reads without the deployment's prefix)."""
    from cordon_gate.bootstrap import build as build_gate
    from cordon_isolation.bootstrap import build as build_isolation
    from cordon_notification.bootstrap import build as build_notification
    from cordon_projector.bootstrap import build_projector
    from cordon_registry.bootstrap import build as build_registry

    runtimes = [
        build_gate().runtime,
        build_isolation().runtime,
        build_notification().runtime,
        build_projector().runtime,
        build_registry()[0].runtime,
    ]
    groups: dict[str, tuple[str, tuple[str, ...]]] = {}
    for runtime in runtimes:
        prefix = runtime.topics.prefix + "."
        for subscription in runtime.subscriptions:
            assert subscription.name not in groups, f"two services run {subscription.name}"
            topics = tuple(t.removeprefix(prefix) for t in subscription.topics)
            groups[subscription.name] = (runtime.service, topics)
    return dict(sorted(groups.items()))


def render_consumer_groups(groups: dict[str, tuple[str, tuple[str, ...]]]) -> str:
    lines = [
        '"""Cordon\'s consumer groups: each group, the service that runs it and the topics it',
        "reads (without the deployment's prefix). Generated from the services' subscriptions by",
        "tests/test_static_checks.py, which fails when they differ; do not edit by hand:",
        "",
        f"    {REGENERATE}",
        '"""',
        "",
        "from __future__ import annotations",
        "",
        "from collections.abc import Mapping",
        "",
        "CONSUMER_GROUPS: Mapping[str, tuple[str, tuple[str, ...]]] = {",
    ]
    for group, (service, topics) in groups.items():
        lines += [f'    "{group}": (', f'        "{service}",']
        if len(topics) == 1:
            lines.append(f'        ("{topics[0]}",),')
        else:
            lines += ["        (", *(f'            "{t}",' for t in topics), "        ),"]
        lines.append("    ),")
    lines += ["}", '"""group -> (service, topics read)."""', ""]
    return "\n".join(lines)


def test_the_catalogues_consumer_groups_are_the_services_subscriptions() -> None:
    generated = render_consumer_groups(subscribed_groups())
    if os.environ.get("CORDON_REGENERATE") == "1":
        CONSUMER_GROUPS_FILE.write_text(generated, encoding="utf-8")

    assert CONSUMER_GROUPS_FILE.read_text(encoding="utf-8") == generated, (
        f"{CONSUMER_GROUPS_FILE.relative_to(ROOT)} is stale: {REGENERATE}, then "
        "uv run cordon-topics render > deploy/kafka/topics.yaml "
        "and uv run python -m cordon_contracts.asyncapi"
    )


def test_every_consumer_group_says_what_it_is_for() -> None:
    from cordon_contracts.consumer_groups import CONSUMER_GROUPS
    from cordon_contracts.topics import GROUP_PURPOSES

    assert set(GROUP_PURPOSES) == set(CONSUMER_GROUPS)


SHARED_RULES = ("utc_now", "local_day", "TooMuchContention", "RETRY_CONFLICTS")
"""Names every service uses one definition of: a second copy could drift (a quota counted on
one local day, the read model's figure on another)."""


def test_each_shared_rule_is_defined_once_across_libraries_and_services() -> None:
    import ast

    homes: dict[str, list[str]] = {name: [] for name in SHARED_RULES}
    for source in SOURCES:
        for path in sorted(Path(source).rglob("*.py")):
            for node in ast.parse(path.read_text(encoding="utf-8")).body:  # module level
                if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
                    names = [node.name]
                elif isinstance(node, ast.Assign | ast.AnnAssign):
                    targets = node.targets if isinstance(node, ast.Assign) else [node.target]
                    names = [t.id for t in targets if isinstance(t, ast.Name)]
                else:
                    continue
                for name in names:
                    if name in homes:
                        homes[name].append(str(path.relative_to(ROOT)))

    assert {name: places for name, places in homes.items() if len(places) != 1} == {}

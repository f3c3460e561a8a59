"""Backward compatibility of the event contracts: the current models against the released
schemas in ``schemas/released/<Type>.v<N>.json``.

    python -m cordon_contracts.compat check     # what CI runs (tests/test_contracts_compat.py)
    python -m cordon_contracts.compat release   # record the current schemas as released

Events are stored forever and replayed, and every payload model forbids unknown fields, so a
reader of version N must accept every stored event of version N. Within a version a schema may
only grow compatibly: an optional property, a new enum value, a wider type. A removed
property, a retyped property, a new required property or a removed enum value needs a new
version (``schema_version = N + 1``, a new ``<Type>.v<N+1>.json``) and an upcaster from N
registered on the event's registry, so stored version-N events keep loading.

``check`` also fails while a released version has changed compatibly but was not released
again ("pending"): the snapshot must always show what can be on the topics, otherwise a later
removal of the unreleased property would pass. New event types and versions are fine until
released.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any

import typer

from cordon_contracts import fixtures
from cordon_contracts.schemas import (
    current_schemas,
    dumps,
    inline_definitions,
    parse_schema_name,
    registry_of,
)

IGNORED = frozenset({"title", "description", "examples", "default"})
"""Keywords that document a property without changing what it accepts."""
ROOT_IGNORED = frozenset({"$id", "$schema", "$defs", "x-cordon"})


@dataclass(frozen=True, order=True)
class Problem:
    """One backward-incompatible difference of ``schema`` (``<Type>.v<N>``) at ``path``."""

    schema: str
    kind: str
    """removed, retyped, required, enum, upcaster, type-removed, version"""
    path: str
    detail: str

    def __str__(self) -> str:
        where = f" {self.path}" if self.path else ""
        return f"{self.schema}{where}: {self.detail}"


@dataclass
class Report:
    problems: list[Problem] = field(default_factory=list)
    pending: list[str] = field(default_factory=list)
    """Released versions whose current schema differs compatibly: run ``release``."""
    unreleased: list[str] = field(default_factory=list)
    """Current types/versions never released: fine, until someone releases them."""

    @property
    def ok(self) -> bool:
        return not self.problems and not self.pending


def normalized(schema: Any) -> Any:
    """``schema`` without documentation keywords (property names are kept, even "title"),
    with ``const`` written as a one-value ``enum``."""
    if isinstance(schema, list):
        return [normalized(item) for item in schema]
    if not isinstance(schema, dict):
        return schema
    out: dict[str, Any] = {}
    for key, value in schema.items():
        if key in IGNORED:
            continue
        if key == "const" and "enum" not in schema:
            out["enum"] = [value]  # a one-value Literal: compare it as an enum
            continue
        if key in ("properties", "patternProperties", "$defs") and isinstance(value, dict):
            out[key] = {name: normalized(sub) for name, sub in value.items()}
        else:
            out[key] = normalized(value)
    return out


def compare(name: str, released: dict[str, Any], current: dict[str, Any]) -> list[Problem]:
    """What a reader using ``current`` can no longer read of data valid under ``released``."""
    old = normalized(inline_definitions(released))
    new = normalized(inline_definitions(current))
    for key in ROOT_IGNORED:
        old.pop(key, None)
        new.pop(key, None)
    return sorted(set(_compare(name, "", old, new)))


def _compare(name: str, path: str, old: Any, new: Any) -> list[Problem]:
    if old == new:
        return []
    if not isinstance(old, dict) or not isinstance(new, dict):
        return [Problem(name, "retyped", path, f"changed from {_show(old)} to {_show(new)}")]
    if "anyOf" in new and "anyOf" not in old:
        # Widened, e.g. `str` to `str | None`: fine if one branch still reads the old values.
        if any(not _compare(name, path, old, branch) for branch in new["anyOf"]):
            return []
        same = [b for b in new["anyOf"] if b.get("type") == old.get("type")]
        if len(same) == 1:
            return _compare(name, path, old, same[0])
        return [Problem(name, "retyped", path, f"changed from {_show(old)} to {_show(new)}")]
    problems: list[Problem] = []
    if "anyOf" in old:
        # Every old alternative must still be read by some new one.
        branches = new.get("anyOf", [new])
        for branch in old["anyOf"]:
            if all(_compare(name, path, branch, b) for b in branches):
                same = [b for b in branches if b.get("type") == branch.get("type")]
                problems.extend(
                    _compare(name, path, branch, same[0])
                    if len(same) == 1
                    else [Problem(name, "retyped", path, f"no longer accepts {_show(branch)}")]
                )
        if "anyOf" not in new:
            return problems
        old = {k: v for k, v in old.items() if k != "anyOf"}
        new = {k: v for k, v in new.items() if k != "anyOf"}
    if "enum" in old or "enum" in new:
        if "enum" in old and "enum" in new:
            removed = [v for v in old["enum"] if v not in new["enum"]]
            if removed:
                problems.append(
                    Problem(name, "enum", path, f"enum value(s) {_show(removed)} removed")
                )
        elif "enum" in new:
            problems.append(
                Problem(name, "retyped", path, f"now restricted to {_show(new['enum'])}")
            )
        # An enum dropped altogether only widens what is accepted.
    if "properties" in old or "properties" in new:
        old_props: dict[str, Any] = old.get("properties", {})
        new_props: dict[str, Any] = new.get("properties", {})
        for prop, sub in old_props.items():
            where = f"{path}.{prop}" if path else prop
            if prop not in new_props:
                problems.append(Problem(name, "removed", where, "property removed"))
            else:
                problems.extend(_compare(name, where, sub, new_props[prop]))
        old_required = set(old.get("required", ()))
        for prop in new.get("required", ()):
            if prop not in old_required and "default" not in new_props.get(prop, {}):
                where = f"{path}.{prop}" if path else prop
                kind = "new required property" if prop not in old_props else "now required"
                problems.append(Problem(name, "required", where, f"{kind} without a default"))
    if "items" in old or "items" in new:
        problems.extend(_compare(name, f"{path}[]", old.get("items", {}), new.get("items", {})))
    for key, suffix in (("additionalProperties", "{*}"), ("propertyNames", "{names}")):
        if isinstance(old.get(key), dict) and isinstance(new.get(key), dict):
            problems.extend(_compare(name, f"{path}{suffix}", old[key], new[key]))
            old = {k: v for k, v in old.items() if k != key}
            new = {k: v for k, v in new.items() if k != key}
    structural = {"anyOf", "enum", "properties", "required", "items"}
    for key in sorted((old.keys() | new.keys()) - structural):
        if old.get(key) != new.get(key):
            if key == "additionalProperties" and new.get(key) in (None, True):
                continue  # accepts more than before
            problems.append(
                Problem(
                    name,
                    "retyped",
                    path,
                    f"{key} changed from {_show(old.get(key))} to {_show(new.get(key))}",
                )
            )
    return problems


def _show(value: Any) -> str:
    return json.dumps(value, sort_keys=True, ensure_ascii=False)


def check(
    released: Mapping[str, dict[str, Any]],
    current: Mapping[str, dict[str, Any]],
    has_upcaster: Callable[[str, int], bool],
) -> Report:
    """Compare every released ``<Type>.v<N>`` schema with the current models' schemas."""
    report = Report()
    versions = dict(parse_schema_name(name) for name in current)
    for name, old in sorted(released.items()):
        event_type, version = parse_schema_name(name)
        now = versions.get(event_type)
        if now is None:
            report.problems.append(
                Problem(name, "type-removed", "", "released but no model has this type any more")
            )
        elif version > now:
            report.problems.append(
                Problem(name, "version", "", f"released, but the model is only at v{now}")
            )
        elif version == now:
            problems = compare(name, old, current[name])
            report.problems.extend(problems)
            if not problems and old != current[name]:
                report.pending.append(name)  # compatible (or documentation only): release it
        else:
            for step in range(version, now):
                if not has_upcaster(event_type, step):
                    report.problems.append(
                        Problem(
                            f"{event_type}.v{step}",
                            "upcaster",
                            "",
                            f"bumped to v{now}, but no upcaster v{step} -> v{step + 1} "
                            f"is registered (@registry.upcaster({event_type!r}, {step}))",
                        )
                    )
    report.problems = sorted(set(report.problems))
    report.unreleased = sorted(set(current) - set(released))
    return report


def load_released(directory: Path) -> dict[str, dict[str, Any]]:
    """``<Type>.v<N>`` -> schema, from the released snapshot directory."""
    return {
        path.name.removesuffix(".json"): json.loads(path.read_text(encoding="utf-8"))
        for path in sorted(directory.glob("*.json"))
    }


def registered_upcaster(event_type: str, from_version: int) -> bool:
    registry = registry_of(event_type)
    return registry is not None and registry.has_upcaster(event_type, from_version)


def check_tree(root: Path) -> Report:
    """The check for the snapshot under ``root`` (``schemas``) and the installed models."""
    return check(load_released(root / "released"), current_schemas(), registered_upcaster)


def release(root: Path, *, force: bool = False) -> tuple[Report, list[Path]]:
    """Record every current schema as released (and write fixtures for new ones), unless a
    change is incompatible; ``force`` records it anyway, for events never yet in production."""
    report = check_tree(root)
    if report.problems and not force:
        return report, []
    written: list[Path] = []
    directory = root / "released"
    directory.mkdir(parents=True, exist_ok=True)
    for name, schema in sorted(current_schemas().items()):
        path = directory / f"{name}.json"
        text = dumps(schema)
        if not path.exists() or path.read_text(encoding="utf-8") != text:
            path.write_text(text, encoding="utf-8")
            written.append(path)
    written += fixtures.write_missing(root / "fixtures", load_released(directory))
    return report, written


app = typer.Typer(help="Backward compatibility of Cordon's event schemas.", no_args_is_help=True)
RootOption = Annotated[Path, typer.Option("--root", help="The schemas directory.")]


@app.command("check")
def check_command(root: RootOption = Path("schemas")) -> None:
    """Fail on a backward-incompatible change without a version bump (CI runs this)."""
    report = check_tree(root)
    for problem in report.problems:
        typer.echo(f"incompatible: {problem}")
    for name in report.pending:
        typer.echo(f"changed compatibly, not yet released: {name} (run: compat release)")
    for name in report.unreleased:
        typer.echo(f"new, not yet released: {name}")
    if report.problems:
        typer.echo("Bump the event's schema_version and register an upcaster from the old version.")
    if not report.ok:
        raise typer.Exit(1)
    typer.echo(f"compatible: {len(load_released(root / 'released'))} released schemas checked")


@app.command("release")
def release_command(
    root: RootOption = Path("schemas"),
    force: Annotated[
        bool,
        typer.Option(
            "--force", help="Record incompatible changes too (only for never-deployed events)."
        ),
    ] = False,
) -> None:
    """Snapshot the current schemas as released and write fixtures for new ones."""
    report, written = release(root, force=force)
    for problem in report.problems:
        typer.echo(f"incompatible: {problem}")
    if report.problems and not force:
        typer.echo("nothing released: bump the versions (or --force if never deployed)")
        raise typer.Exit(1)
    for path in written:
        typer.echo(f"wrote {path}")
    if not written:
        typer.echo("already released: nothing to write")


if __name__ == "__main__":
    app()

"""Backward compatibility of the event contracts (CI runs the check here), and the stored
fixtures of every released version, which must keep decoding into today's models."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from datetime import datetime
from pathlib import Path
from typing import Any, Literal

import pytest
from pydantic import BaseModel, ConfigDict, Field
from typer.testing import CliRunner

from cordon_contracts import compat
from cordon_contracts.compat import Report, check, check_tree, load_released, registered_upcaster
from cordon_contracts.fixtures import example_payload
from cordon_contracts.schemas import (
    REGISTRIES,
    current_schemas,
    event_models,
    event_schema,
    parse_schema_name,
    registry_of,
)
from cordon_core.envelope import DomainEvent, EventRegistry

ROOT = Path(__file__).resolve().parents[1]
SCHEMAS = ROOT / "schemas"
RELEASED = load_released(SCHEMAS / "released")
FIXTURES = sorted((SCHEMAS / "fixtures").glob("*.json"))


# --- the committed contracts -------------------------------------------------------------


def test_the_models_are_compatible_with_every_released_schema() -> None:
    report = check_tree(SCHEMAS)

    assert RELEASED, "schemas/released is empty: uv run python -m cordon_contracts.compat release"
    assert not report.problems, "backward-incompatible changes (bump the version):\n" + "\n".join(
        map(str, report.problems)
    )
    assert not report.pending, (
        f"changed compatibly but not released: {report.pending}; "
        "run: uv run python -m cordon_contracts.compat release"
    )


def test_the_check_command_passes_on_the_committed_snapshot() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "cordon_contracts.compat", "check"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )

    assert result.returncode == 0, result.stdout + result.stderr
    assert "compatible:" in result.stdout


def test_every_released_version_has_a_stored_fixture_and_nothing_else_does() -> None:
    assert sorted(RELEASED) == sorted(p.name.removesuffix(".json") for p in FIXTURES), (
        "run: uv run python -m cordon_contracts.compat release"
    )


@pytest.mark.parametrize("fixture", FIXTURES, ids=lambda p: p.stem)
def test_a_stored_event_of_every_released_version_decodes_into_the_current_model(
    fixture: Path,
) -> None:
    event_type, version = parse_schema_name(fixture.name)
    registry = registry_of(event_type)
    assert registry is not None, f"{event_type} was released but no registry has it"

    payload = registry.decode(event_type, version, json.loads(fixture.read_text()))

    assert isinstance(payload, registry.model(event_type))


@pytest.mark.parametrize(
    "model", [m for _, m in event_models()], ids=lambda m: f"{m.event_type}.v{m.schema_version}"
)
def test_the_generated_example_of_every_current_model_is_valid(model: type[DomainEvent]) -> None:
    schema = current_schemas()[f"{model.event_type}.v{model.schema_version}"]

    model.model_validate(example_payload(schema))


# --- the rules, on synthetic schemas -----------------------------------------------------


class Place(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")
    kind: Literal["home", "facility"]
    room: str | None = None


class Thing(DomainEvent):
    """Released version 1 of a synthetic event."""

    event_type = "Thing"
    name: str = Field(description="What it is called.")
    count: int
    colour: Literal["red", "green"]
    note: str | None = None
    place: Place
    at: datetime


def schema_of(model: type[DomainEvent]) -> dict[str, Any]:
    return event_schema("test", model)


def run_check(
    current: type[DomainEvent], *, upcasters: frozenset[tuple[str, int]] = frozenset()
) -> Report:
    released = {"Thing.v1": schema_of(Thing)}
    name = f"{current.event_type}.v{current.schema_version}"
    return check(released, {name: schema_of(current)}, lambda t, v: (t, v) in upcasters)


def kinds(report: Report) -> list[tuple[str, str]]:
    return [(p.kind, p.path) for p in report.problems]


def test_an_unchanged_schema_passes() -> None:
    report = run_check(Thing)

    assert report.ok and not report.pending


def test_a_removed_property_fails() -> None:
    class Changed(DomainEvent):
        event_type = "Thing"
        name: str
        colour: Literal["red", "green"]
        note: str | None = None
        place: Place
        at: datetime

    assert kinds(run_check(Changed)) == [("removed", "count")]


def test_a_retyped_property_fails() -> None:
    class Changed(Thing):
        count: str  # type: ignore[assignment]

    assert kinds(run_check(Changed)) == [("retyped", "count")]


def test_a_new_required_property_fails_and_one_made_required_too() -> None:
    class Changed(Thing):
        owner: str
        note: str | None  # type: ignore[assignment]

    assert sorted(kinds(run_check(Changed))) == [("required", "note"), ("required", "owner")]


def test_a_removed_enum_value_fails() -> None:
    class Changed(Thing):
        colour: Literal["red"]  # type: ignore[assignment]

    report = run_check(Changed)

    assert kinds(report) == [("enum", "colour")]
    assert "'green'" in str(report.problems[0]) or '"green"' in str(report.problems[0])


def test_a_change_inside_a_nested_model_is_found() -> None:
    class NarrowPlace(BaseModel):
        model_config = ConfigDict(frozen=True, extra="forbid")
        kind: Literal["home"]

    class Changed(Thing):
        place: NarrowPlace  # type: ignore[assignment]

    assert sorted(kinds(run_check(Changed))) == [("enum", "place.kind"), ("removed", "place.room")]


def test_compatible_changes_pass_but_must_be_released() -> None:
    class Changed(Thing):
        """Documentation changes too."""

        name: str = Field(description="Another description.")
        colour: Literal["red", "green", "blue"]  # type: ignore[assignment]
        count: int | None  # type: ignore[assignment]  # widened, still required
        extra: str | None = None
        also: list[int] = Field(default_factory=list)

    report = run_check(Changed)

    assert report.problems == []
    assert report.pending == ["Thing.v1"]


def test_a_version_bump_passes_with_an_upcaster_and_fails_without() -> None:
    class ThingV2(DomainEvent):
        event_type = "Thing"
        schema_version = 2
        title: str  # renamed from "name"
        colour: Literal["red"]

    assert run_check(ThingV2, upcasters=frozenset({("Thing", 1)})).ok
    assert kinds(run_check(ThingV2)) == [("upcaster", "")]


def test_a_released_type_without_a_model_fails() -> None:
    report = check({"Thing.v1": schema_of(Thing)}, {}, lambda t, v: False)

    assert kinds(report) == [("type-removed", "")]


def test_new_types_and_versions_need_no_release() -> None:
    report = check({}, {"Thing.v1": schema_of(Thing)}, lambda t, v: False)

    assert report.ok and report.unreleased == ["Thing.v1"]


def test_a_stored_v1_event_still_loads_after_the_bump() -> None:
    registry = EventRegistry()

    @registry.register
    class ThingV2(DomainEvent):
        event_type = "Thing"
        schema_version = 2
        title: str
        colour: Literal["red", "green"]

    @registry.upcaster("Thing", 1)
    def v1_to_v2(data: dict[str, Any]) -> dict[str, Any]:
        return {"title": data["name"], "colour": data["colour"]}

    stored_v1 = example_payload(schema_of(Thing))  # what release writes to schemas/fixtures
    loaded = registry.decode("Thing", 1, stored_v1)

    assert isinstance(loaded, ThingV2) and loaded.title == stored_v1["name"]


def test_release_refuses_an_incompatible_change_and_records_compatible_ones(
    tmp_path: Path,
) -> None:
    shutil.copytree(SCHEMAS / "released", tmp_path / "released")
    shutil.copytree(SCHEMAS / "fixtures", tmp_path / "fixtures")
    name = sorted(RELEASED)[0]
    released = json.loads((tmp_path / "released" / f"{name}.json").read_text())
    released["properties"]["gone_since"] = {"type": "string"}  # the model no longer has it
    (tmp_path / "released" / f"{name}.json").write_text(json.dumps(released))
    runner = CliRunner()

    refused = runner.invoke(compat.app, ["release", "--root", str(tmp_path)])
    failed_check = runner.invoke(compat.app, ["check", "--root", str(tmp_path)])

    assert refused.exit_code == 1 and "gone_since: property removed" in refused.output
    assert failed_check.exit_code == 1 and "incompatible" in failed_check.output

    (tmp_path / "released" / f"{name}.json").unlink()
    (tmp_path / "fixtures" / f"{name}.json").unlink()
    released_again = runner.invoke(compat.app, ["release", "--root", str(tmp_path)])

    assert released_again.exit_code == 0, released_again.output
    assert (tmp_path / "released" / f"{name}.json").exists()
    assert (tmp_path / "fixtures" / f"{name}.json").exists()
    assert runner.invoke(compat.app, ["check", "--root", str(tmp_path)]).exit_code == 0


def test_upcasters_are_looked_up_on_the_registry_that_holds_the_type(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    registry = EventRegistry()

    @registry.register
    class ThingV2(DomainEvent):
        event_type = "Thing"
        schema_version = 2

    registry.upcaster("Thing", 1)(lambda data: data)
    monkeypatch.setitem(REGISTRIES, "test", (registry,))

    assert registered_upcaster("Thing", 1)
    assert not registered_upcaster("Thing", 2) and not registered_upcaster("Nothing", 1)

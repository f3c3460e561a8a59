"""The committed event schemas are exactly what the models generate."""

from __future__ import annotations

from pathlib import Path

from cordon_contracts.schemas import rendered

SCHEMAS = Path(__file__).resolve().parents[1] / "schemas"


def test_every_committed_schema_matches_its_model() -> None:
    expected = rendered()
    committed = {
        str(p.relative_to(SCHEMAS)): p.read_text(encoding="utf-8")
        for p in SCHEMAS.glob("events/*.json")
    }

    assert sorted(committed) == sorted(expected), "run: uv run python -m cordon_contracts.schemas"
    for name, text in expected.items():
        assert committed[name] == text, (
            f"{name} is stale: uv run python -m cordon_contracts.schemas"
        )

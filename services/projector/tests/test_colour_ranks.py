"""The four-colour ranks have one home (domain/rules.py); the read models' SQL is written from
it, so a level and its colour cannot disagree between Python and PostgreSQL."""

from __future__ import annotations

from typing import get_args

from cordon_contracts.isolation import IsolationLevel
from cordon_projector.domain.rules import COLOURS, LEVEL_RANK, UNVACCINATED_RANK
from cordon_projector.read_models.four_colour import level_rank_sql


def test_every_isolation_level_has_a_colour_stronger_than_incomplete_vaccination() -> None:
    assert set(LEVEL_RANK) == set(get_args(IsolationLevel))
    assert all(rank > UNVACCINATED_RANK for rank in LEVEL_RANK.values())
    assert [COLOURS[LEVEL_RANK[level]] for level in ("monitoring", "home", "centralized")] == [
        "yellow",
        "brown",
        "red",
    ]


def test_the_sql_ranks_each_level_as_the_rules_do() -> None:
    sql = level_rank_sql("level")

    for level, rank in LEVEL_RANK.items():
        assert f"WHEN '{level}' THEN {rank}" in sql
    assert sql.startswith("CASE level ") and sql.endswith(" ELSE 0 END")

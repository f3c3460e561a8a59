"""Fixtures shared by the cross-service tests."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

import pytest

from cordon_contracts.gate import PersonEntered


def _person_entered(
    n: int, *, person_id: str | None = None, subject_kind: str = "resident"
) -> PersonEntered:
    """Scan ``s<n>`` of ``p-<n>`` (or ``person_id``) entering Maple's east gate at minute
    ``n`` of 2022-04-01."""
    return PersonEntered.model_validate(
        {
            "scan_id": f"s{n}",
            "checkpoint_id": "maple-east",
            "community_id": "maple",
            "compound_id": "maple-1",
            "direction": "in",
            "scanned_at": datetime(2022, 4, 1, 0, n, tzinfo=UTC),
            "subject_kind": subject_kind,
            "person_id": person_id or f"p-{n}",
            "temperature_c": 36.5,
            "health_code": "green",
            "itinerary_risk": False,
            "policy_version": 0,
            "status_as_of": None,
        }
    )


@pytest.fixture
def person_entered() -> Callable[..., PersonEntered]:
    """Builds the gate's PersonEntered events the tests publish."""
    return _person_entered

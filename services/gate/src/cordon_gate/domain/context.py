"""The scan context: everything a batch of scans is decided from (loaded by
``adapters.context`` in one round trip). Pure Python."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date

from cordon_gate.domain.restrictions import PersonAtGate, PersonRestrictions
from cordon_gate.domain.state import Checkpoint, GatePolicy, PassState, PersonStatus


@dataclass(frozen=True)
class ScanContext:
    stored: set[uuid.UUID]
    checkpoints: dict[str, Checkpoint]
    policies: dict[str, GatePolicy]
    """By community, for every checkpoint found (the default policy when none published)."""
    passes: dict[str, PassState]
    """By pass code."""
    people: dict[str, PersonStatus]
    restrictions: dict[tuple[str, str], PersonRestrictions]
    """By (person id, community id)."""
    held: dict[tuple[str, str], tuple[PassState, ...]]
    """Unrevoked passes by (holder's person id, community id)."""
    exits: dict[tuple[str, str, date], int]
    """Exits counted by (person id, community id, local day)."""

    def person_at_gate(self, person_id: str, community_id: str, day: date) -> PersonAtGate:
        status = self.people.get(person_id)
        return PersonAtGate(
            person_id=person_id,
            restrictions=self.restrictions.get((person_id, community_id), PersonRestrictions()),
            passes=self.held.get((person_id, community_id), ()),
            residence_type=status.residence_type
            if status is not None and status.community_id == community_id
            else None,
            exits_today=self.exits.get((person_id, community_id, day), 0),
        )

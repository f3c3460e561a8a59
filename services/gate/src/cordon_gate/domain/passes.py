"""A pass the office asks for (a list of them holds one community's, each holder once:
``cordon_core.lists``; docs/gate.md, "Passes for a list")."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from cordon_contracts.gate import PassKind


@dataclass(frozen=True)
class PassRequest:
    kind: PassKind
    holder_person_id: str
    """A resident's person id, or the visitor id of the holder's document."""
    holder_is_resident: bool
    """Named by person id (the gate must know the resident), not by a document."""
    community_id: str
    valid_from: datetime
    valid_until: datetime
    daily_exit_quota: int | None

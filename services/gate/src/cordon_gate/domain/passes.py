"""A pass the office asks for, and what a list of them may hold: one community, each
holder once (docs/gate.md, "Passes for a list")."""

from __future__ import annotations

from collections.abc import Sequence
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


def repeated_holders(requests: Sequence[PassRequest]) -> dict[int, int]:
    """Each row whose holder an earlier row names already: row -> that earlier row.

    A list gives each person one pass: a row repeated is a clerical slip, and a second
    code shown once is a spare pass that can be lent (``pass_lent``). A second pass meant
    for the same person is issued on its own."""
    first: dict[str, int] = {}
    repeated: dict[int, int] = {}
    for row, request in enumerate(requests):
        earlier = first.setdefault(request.holder_person_id, row)
        if earlier != row:
            repeated[row] = earlier
    return repeated


def other_communities(requests: Sequence[PassRequest]) -> list[int]:
    """Rows naming another community than the first row: one list is one community's."""
    if not requests:
        return []
    community = requests[0].community_id
    return [row for row, r in enumerate(requests) if r.community_id != community]

"""What makes a list of orders (``POST /v1/orders/batch``) a list an office sends: one
community's, each person once. The rules for each order are the single order's."""

from __future__ import annotations

from collections.abc import Sequence


def repeated_people(person_ids: Sequence[str]) -> dict[int, int]:
    """Row -> the earlier row naming the same person. Two rows for one person are a
    mistake in the list (which one holds?), so the list is refused rather than guessed."""
    first: dict[str, int] = {}
    repeated: dict[int, int] = {}
    for row, person_id in enumerate(person_ids):
        if person_id in first:
            repeated[row] = first[person_id]
        else:
            first[person_id] = row
    return repeated


def other_communities(community_ids: Sequence[str]) -> list[int]:
    """The rows whose community is not the first row's: a list is one community's."""
    return [row for row, community in enumerate(community_ids) if community != community_ids[0]]

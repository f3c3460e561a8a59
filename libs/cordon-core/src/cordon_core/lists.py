"""What makes a list an office sends in one request (orders, passes) a list of one office's
work: each subject once, one community. Pure rules, shared by the services' batch commands;
the rules for each row are the single command's."""

from __future__ import annotations

from collections.abc import Hashable, Sequence


def repeated(keys: Sequence[Hashable]) -> dict[int, int]:
    """Row -> the earlier row with the same key. Two rows for one person are a mistake in
    the list (which one holds?), so a list with one is refused rather than guessed."""
    first: dict[Hashable, int] = {}
    found: dict[int, int] = {}
    for row, key in enumerate(keys):
        earlier = first.setdefault(key, row)
        if earlier != row:
            found[row] = earlier
    return found


def unlike_the_first(values: Sequence[Hashable]) -> list[int]:
    """The rows whose value is not the first row's (a list is one community's)."""
    return [row for row, value in enumerate(values) if value != values[0]]

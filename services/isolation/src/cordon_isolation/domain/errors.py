"""What a command can run into; the HTTP layer maps each to a status code."""

from __future__ import annotations

from cordon_isolation.domain.release import Unmet


class IsolationError(Exception):
    """A command the rules refuse."""


class NoActiveOrder(IsolationError):
    def __init__(self, person_id: str) -> None:
        super().__init__(f"{person_id} has no active isolation order")
        self.person_id = person_id


class NotFound(IsolationError):
    pass


class Conflict(IsolationError):
    pass


class ReleaseRefused(IsolationError):
    def __init__(self, unmet: tuple[Unmet, ...]) -> None:
        super().__init__("release refused: " + "; ".join(u.requirement for u in unmet))
        self.unmet = unmet

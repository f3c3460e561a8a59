"""What the registry refuses, each naming the field at fault and why."""

from __future__ import annotations


class RegistryError(Exception):
    """A command the registry refuses; ``field`` names the input at fault."""

    def __init__(self, field: str, reason: str) -> None:
        super().__init__(f"{field}: {reason}")
        self.field = field
        self.reason = reason


class InvalidInput(RegistryError):
    """The input itself is wrong (a bad ID number, an unknown category...)."""


class NotFound(RegistryError):
    """The named person, place or round does not exist."""


class Conflict(RegistryError):
    """The input is fine but the registry's state forbids it (a duplicate document...)."""


class AccessDenied(RegistryError):
    """The staff member's role or community does not allow this."""

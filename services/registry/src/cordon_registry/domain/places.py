"""The district's places, from sub-district down to household, as event-sourced aggregates.

A place never disappears: renaming, merging and closing are events on its stream, so its
history can always be read back.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal

from cordon_contracts.registry import (
    PlaceAdded,
    PlaceClosed,
    PlaceKind,
    PlaceMerged,
    PlaceRenamed,
    StaffAssigned,
    StaffRole,
    StaffUnassigned,
)
from cordon_core.envelope import DomainEvent
from cordon_registry.domain.errors import Conflict, InvalidInput

PARENT_KINDS: dict[str, tuple[str, ...]] = {
    "sub_district": (),
    "community": ("sub_district",),
    "grid": ("community",),
    "compound": ("grid",),
    "building": ("compound",),
    "unit": ("building",),
    "household": ("unit", "building"),
}
"""Which kind of place each kind hangs under (a household may skip the unit level)."""

STAFF_PLACES: dict[str, str] = {"grid_worker": "grid", "building_head": "building"}
PLACE_ID = re.compile(r"^[a-z0-9][a-z0-9-]{0,79}$")
PlaceStatus = Literal["open", "closed", "merged"]


def place_stream(place_id: str) -> str:
    return f"place-{place_id}"


@dataclass(frozen=True, slots=True)
class Ancestry:
    """The ids of a place's ancestors, as the read model keeps them for every place."""

    sub_district_id: str | None = None
    community_id: str | None = None
    grid_id: str | None = None
    compound_id: str | None = None
    building_id: str | None = None
    unit_id: str | None = None

    def below(self, kind: str, place_id: str) -> Ancestry:
        """The ancestry of a child of the place ``place_id`` of kind ``kind``."""
        key = f"{kind}_id"
        if key not in self.__dataclass_fields__:
            return self
        return Ancestry(**{**self.as_dict(), key: place_id})

    def as_dict(self) -> dict[str, str | None]:
        return {name: getattr(self, name) for name in self.__dataclass_fields__}


@dataclass
class Place:
    """A place's state folded from its events, and the decisions it can take."""

    place_id: str
    kind: PlaceKind
    name: str
    parent_id: str | None
    community_id: str | None
    status: PlaceStatus = "open"
    staff: set[tuple[str, str]] = field(default_factory=set)
    version: int = 0

    @classmethod
    def from_events(cls, events: Sequence[DomainEvent]) -> Place:
        first = events[0]
        assert isinstance(first, PlaceAdded)
        place = cls(first.place_id, first.kind, first.name, first.parent_id, first.community_id)
        for event in events:
            place.apply(event)
        return place

    def apply(self, event: DomainEvent) -> None:
        self.version += 1
        if isinstance(event, PlaceRenamed):
            self.name = event.name
        elif isinstance(event, PlaceMerged):
            self.status = "merged"
        elif isinstance(event, PlaceClosed):
            self.status = "closed"
        elif isinstance(event, StaffAssigned):
            self.staff.add((event.role, event.staff_id))
        elif isinstance(event, StaffUnassigned):
            self.staff.discard((event.role, event.staff_id))

    def _require_open(self) -> None:
        if self.status != "open":
            raise Conflict("place_id", f"{self.kind} {self.place_id} is {self.status}")

    def rename(self, name: str, at: datetime) -> PlaceRenamed | None:
        """The renaming; None when the place already has that name (nothing new)."""
        self._require_open()
        name = checked_name(name)
        renamed = PlaceRenamed(
            place_id=self.place_id,
            kind=self.kind,
            parent_id=self.parent_id,
            community_id=self.community_id,
            name=name,
            previous_name=self.name,
            renamed_at=at,
        )
        # The stored name is the redacted one: compare as stored.
        return None if renamed.name == self.name else renamed

    def merge_into(self, target: Place, children: list[str], at: datetime) -> PlaceMerged:
        self._require_open()
        if target.place_id == self.place_id:
            raise InvalidInput("into_place_id", "a place cannot be merged into itself")
        if target.kind != self.kind:
            raise InvalidInput(
                "into_place_id", f"{target.place_id} is a {target.kind}, not a {self.kind}"
            )
        if target.status != "open":
            raise Conflict("into_place_id", f"{target.place_id} is {target.status}")
        if (
            self.kind not in ("sub_district", "community")
            and target.community_id != self.community_id
        ):
            raise InvalidInput("into_place_id", "places merge only within one community")
        return PlaceMerged(
            place_id=self.place_id,
            kind=self.kind,
            parent_id=self.parent_id,
            community_id=self.community_id,
            into_place_id=target.place_id,
            children_moved=children,
            merged_at=at,
        )

    def close(
        self, reason: str, *, open_children: int, residents: int, at: datetime
    ) -> PlaceClosed:
        self._require_open()
        if open_children:
            raise Conflict(
                "place_id", f"{self.place_id} still has {open_children} open places under it"
            )
        if residents:
            raise Conflict(
                "place_id", f"{self.place_id} still has {residents} residents; move them first"
            )
        return PlaceClosed(
            place_id=self.place_id,
            kind=self.kind,
            parent_id=self.parent_id,
            community_id=self.community_id,
            reason=reason,
            closed_at=at,
        )

    def assign(self, role: StaffRole, staff_id: str, at: datetime) -> StaffAssigned | None:
        """Assign a grid worker to a grid or a building head to a building (idempotent)."""
        self._require_open()
        if STAFF_PLACES[role] != self.kind:
            raise InvalidInput(
                "role", f"a {role} is assigned to a {STAFF_PLACES[role]}, not a {self.kind}"
            )
        if (role, staff_id) in self.staff:
            return None
        assert self.community_id is not None
        return StaffAssigned(
            place_id=self.place_id,
            community_id=self.community_id,
            role=role,
            staff_id=staff_id,
            assigned_at=at,
        )

    def unassign(self, role: StaffRole, staff_id: str, at: datetime) -> StaffUnassigned:
        if (role, staff_id) not in self.staff:
            raise Conflict("staff_id", f"{staff_id} is not {role} of {self.place_id}")
        assert self.community_id is not None
        return StaffUnassigned(
            place_id=self.place_id,
            community_id=self.community_id,
            role=role,
            staff_id=staff_id,
            unassigned_at=at,
        )


def checked_name(raw: str) -> str:
    name = " ".join(raw.split())
    if not 1 <= len(name) <= 100:
        raise InvalidInput("name", "a place name has 1 to 100 characters")
    return name


def new_place(
    *,
    place_id: str,
    kind: PlaceKind,
    name: str,
    parent: Place | None,
    at: datetime,
) -> PlaceAdded:
    """The event adding a place under ``parent``, if the hierarchy allows it."""
    if not PLACE_ID.match(place_id):
        raise InvalidInput("place_id", "lower-case letters, digits and '-', at most 80 characters")
    allowed = PARENT_KINDS[kind]
    if not allowed:
        if parent is not None:
            raise InvalidInput("parent_id", "a sub-district hangs directly under the district")
    elif parent is None:
        raise InvalidInput("parent_id", f"a {kind} needs a parent ({' or '.join(allowed)})")
    elif parent.kind not in allowed:
        raise InvalidInput(
            "parent_id", f"a {kind} belongs under a {' or '.join(allowed)}, not a {parent.kind}"
        )
    elif parent.status != "open":
        raise Conflict("parent_id", f"{parent.place_id} is {parent.status}")
    community_id = place_id if kind == "community" else (parent.community_id if parent else None)
    return PlaceAdded(
        place_id=place_id,
        kind=kind,
        parent_id=parent.place_id if parent else None,
        community_id=community_id,
        name=checked_name(name),
        added_at=at,
    )

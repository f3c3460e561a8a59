"""A resident's life in the registry: registration, moves, ledgers, key-person flags and
vaccine doses, folded from the person's event stream."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Literal, get_args

from cordon_contracts.registry import (
    KeyPersonCleared,
    KeyPersonFlagged,
    LedgerCategory,
    ResidenceType,
    ResidentCategorized,
    ResidentLeft,
    ResidentMoved,
    ResidentRegistered,
    VaccinationRecorded,
    VaccinationSource,
)
from cordon_core.envelope import DomainEvent
from cordon_registry.domain.errors import Conflict, InvalidInput
from cordon_registry.domain.events import PersonalDataErased
from cordon_registry.domain.places import Ancestry

LEDGER_CATEGORIES: tuple[str, ...] = get_args(LedgerCategory)
RESIDENCE_TYPES: tuple[str, ...] = get_args(ResidenceType)
ResidentStatus = Literal["active", "left"]


def person_stream(person_id: str) -> str:
    return f"person-{person_id}"


@dataclass(frozen=True, slots=True)
class Household:
    """Where a household sits: its id and every ancestor id, as residence events carry them."""

    household_id: str
    ancestry: Ancestry

    def residence(self) -> dict[str, str | None]:
        a = self.ancestry
        return {
            "household_id": self.household_id,
            "unit_id": a.unit_id,
            "building_id": a.building_id,
            "compound_id": a.compound_id,
            "grid_id": a.grid_id,
            "community_id": a.community_id,
            "sub_district_id": a.sub_district_id,
        }

    @property
    def community_id(self) -> str:
        assert self.ancestry.community_id is not None
        return self.ancestry.community_id


def checked_categories(raw: Sequence[str]) -> list[LedgerCategory]:
    unknown = [c for c in raw if c not in LEDGER_CATEGORIES]
    if unknown:
        raise InvalidInput(
            "categories", f"unknown {', '.join(unknown)}; known: {', '.join(LEDGER_CATEGORIES)}"
        )
    return sorted(set(raw))  # type: ignore[arg-type]


def checked_reason(raw: str, field_name: str = "reason") -> str:
    reason = " ".join(raw.split())
    if not 1 <= len(reason) <= 200:
        raise InvalidInput(field_name, "a reason has 1 to 200 characters")
    return reason


def registration(
    person_id: str, household: Household, residence_type: str, at: datetime
) -> ResidentRegistered:
    if residence_type not in RESIDENCE_TYPES:
        raise InvalidInput(
            "residence_type", f"{residence_type!r} is not one of {', '.join(RESIDENCE_TYPES)}"
        )
    return ResidentRegistered(
        person_id=person_id,
        residence_type=residence_type,
        registered_at=at,
        **household.residence(),
    )


@dataclass
class Resident:
    person_id: str
    household_id: str
    community_id: str
    residence_type: ResidenceType
    status: ResidentStatus = "active"
    categories: list[LedgerCategory] = field(default_factory=list)
    key_person_reason: str | None = None
    doses: dict[int, date] = field(default_factory=dict)
    erased: bool = False
    version: int = 0

    @classmethod
    def from_events(cls, events: Sequence[DomainEvent]) -> Resident:
        first = next(e for e in events if isinstance(e, ResidentRegistered))
        resident = cls(
            first.person_id, first.household_id, first.community_id, first.residence_type
        )
        for event in events:
            resident.apply(event)
        return resident

    def apply(self, event: DomainEvent) -> None:
        self.version += 1
        if isinstance(event, ResidentMoved):
            self.household_id, self.community_id = event.household_id, event.community_id
            self.residence_type = event.residence_type or self.residence_type
        elif isinstance(event, ResidentLeft):
            self.status = "left"
        elif isinstance(event, ResidentCategorized):
            self.categories = list(event.categories)
        elif isinstance(event, KeyPersonFlagged):
            self.key_person_reason = event.reason
        elif isinstance(event, KeyPersonCleared):
            self.key_person_reason = None
        elif isinstance(event, VaccinationRecorded):
            self.doses[event.dose_number] = event.vaccinated_on
        elif isinstance(event, PersonalDataErased):
            self.erased = True

    def _require_active(self) -> None:
        if self.status != "active":
            raise Conflict("person_id", f"{self.person_id} has left the district's households")

    def move_to(
        self, household: Household, residence_type: str | None, at: datetime
    ) -> ResidentMoved:
        self._require_active()
        if household.household_id == self.household_id:
            raise Conflict("household_id", f"{self.person_id} already lives in {self.household_id}")
        if residence_type is not None and residence_type not in RESIDENCE_TYPES:
            raise InvalidInput("residence_type", f"{residence_type!r} is not a residence type")
        return ResidentMoved(
            person_id=self.person_id,
            from_household_id=self.household_id,
            moved_at=at,
            residence_type=residence_type,
            **household.residence(),
        )

    def leave(self, reason: str, at: datetime) -> ResidentLeft:
        self._require_active()
        return ResidentLeft(
            person_id=self.person_id,
            household_id=self.household_id,
            community_id=self.community_id,
            reason=checked_reason(reason),
            left_at=at,
        )

    def categorize(self, categories: Sequence[str], at: datetime) -> ResidentCategorized | None:
        chosen = checked_categories(categories)
        if chosen == self.categories:
            return None
        return ResidentCategorized(
            person_id=self.person_id,
            household_id=self.household_id,
            community_id=self.community_id,
            categories=chosen,
            changed_at=at,
        )

    def flag_key_person(self, reason: str, at: datetime) -> KeyPersonFlagged | None:
        reason = checked_reason(reason)
        if reason == self.key_person_reason:
            return None
        return KeyPersonFlagged(
            person_id=self.person_id,
            household_id=self.household_id,
            community_id=self.community_id,
            reason=reason,
            flagged_at=at,
        )

    def clear_key_person(self, reason: str, at: datetime) -> KeyPersonCleared:
        if self.key_person_reason is None:
            raise Conflict("person_id", f"{self.person_id} is not a key person")
        return KeyPersonCleared(
            person_id=self.person_id,
            community_id=self.community_id,
            reason=checked_reason(reason),
            cleared_at=at,
        )

    def record_dose(
        self,
        dose_number: int,
        vaccinated_on: date,
        *,
        vaccine: str | None,
        source: VaccinationSource,
        at: datetime,
        born: date | None = None,
    ) -> VaccinationRecorded | None:
        """The dose, if new; the same dose reported again is no event. ``born`` is the
        birth date when the registry knows it (a resident ID carries it)."""
        if vaccinated_on > at.date():
            raise InvalidInput("vaccinated_on", f"{vaccinated_on} is in the future")
        if born is not None and vaccinated_on < born:
            # The date itself is personal data: the refusal does not repeat it.
            raise InvalidInput("vaccinated_on", "is before the person's birth date")
        if self.doses.get(dose_number) == vaccinated_on:
            return None
        if dose_number in self.doses:
            raise Conflict(
                "dose_number", f"dose {dose_number} is recorded on {self.doses[dose_number]}"
            )
        if dose_number < 1 or dose_number > len(self.doses) + 1:
            raise InvalidInput("dose_number", f"the next dose is number {len(self.doses) + 1}")
        earlier = self.doses.get(dose_number - 1)
        if earlier is not None and vaccinated_on < earlier:
            raise InvalidInput("vaccinated_on", f"before dose {dose_number - 1} ({earlier})")
        return VaccinationRecorded(
            person_id=self.person_id,
            household_id=self.household_id,
            community_id=self.community_id,
            dose_number=dose_number,
            vaccinated_on=vaccinated_on,
            vaccine=vaccine,
            source=source,
            recorded_at=at,
        )

"""The event envelope: a domain event's payload plus the facts every consumer needs about it."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, tzinfo
from typing import Any, ClassVar, TypeVar

from pydantic import BaseModel, ConfigDict


class DomainEvent(BaseModel):
    """Base of every event payload. Subclasses name their type and schema version.

    Payloads are immutable facts; a changed shape is a new ``schema_version`` with an
    upcaster registered for the old one, never an edit of stored events.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    event_type: ClassVar[str]
    schema_version: ClassVar[int] = 1


@dataclass(frozen=True, slots=True)
class EventMetadata:
    """Who caused an append and on whose behalf: shared by every event of one append."""

    correlation_id: uuid.UUID
    actor: str
    district: str
    community: str | None = None
    causation_id: uuid.UUID | None = None

    @classmethod
    def new(
        cls,
        *,
        actor: str,
        district: str,
        community: str | None = None,
        correlation_id: uuid.UUID | None = None,
    ) -> EventMetadata:
        """Metadata for events a request or device causes: its correlation id, or a new one."""
        return cls(
            correlation_id=correlation_id or uuid.uuid4(),
            actor=actor,
            district=district,
            community=community,
        )

    def caused_by(self, cause: Envelope, *, actor: str | None = None) -> EventMetadata:
        """Metadata for events that react to ``cause``: same correlation, cause recorded."""
        return EventMetadata(
            correlation_id=cause.correlation_id,
            causation_id=cause.event_id,
            actor=actor or self.actor,
            district=self.district,
            community=self.community,
        )


def utc_now() -> datetime:
    return datetime.now(UTC)


def local_day(at: datetime, timezone: tzinfo) -> date:
    """The local calendar day ``at`` falls on in ``timezone``: the day a passage counts on
    (the gate's daily quotas, the read models' daily figures and the ``local_day`` of the
    gate's events), however late its event arrives. One rule, so they always agree."""
    return at.astimezone(timezone).date()


@dataclass(frozen=True, slots=True)
class PendingEvent:
    """An event the domain has decided on but the store has not yet recorded.

    The caller fixes ``event_id`` so that retrying the same append is a no-op.
    """

    payload: DomainEvent
    event_id: uuid.UUID = field(default_factory=uuid.uuid4)
    occurred_at: datetime = field(default_factory=utc_now)


@dataclass(frozen=True, slots=True)
class Envelope:
    """A recorded event: payload, position in its stream, and provenance."""

    event_id: uuid.UUID
    event_type: str
    schema_version: int
    stream_id: str
    stream_version: int
    partition_key: str
    occurred_at: datetime
    recorded_at: datetime
    correlation_id: uuid.UUID
    causation_id: uuid.UUID | None
    actor: str
    district: str
    community: str | None
    payload: DomainEvent
    source: str = ""
    global_position: int | None = None

    @property
    def metadata(self) -> EventMetadata:
        return EventMetadata(
            correlation_id=self.correlation_id,
            causation_id=self.causation_id,
            actor=self.actor,
            district=self.district,
            community=self.community,
        )


class UnknownEventType(LookupError):
    """Raised when a stored or received event names a type no model is registered for."""


E = TypeVar("E", bound=type[DomainEvent])
Upcaster = Callable[[dict[str, Any]], dict[str, Any]]


class EventRegistry:
    """Maps event type names to their current payload model, and upcasts older versions."""

    def __init__(self) -> None:
        self._models: dict[str, type[DomainEvent]] = {}
        self._upcasters: dict[tuple[str, int], Upcaster] = {}

    def register(self, model: E) -> E:
        """Register a payload model (usable as a class decorator)."""
        existing = self._models.get(model.event_type)
        if existing is not None and existing is not model:
            raise ValueError(f"event type {model.event_type!r} is already registered")
        self._models[model.event_type] = model
        return model

    def include(self, other: EventRegistry) -> None:
        """Add every model and upcaster of ``other`` (a service reading another's events)."""
        for model in other._models.values():
            self.register(model)
        self._upcasters.update(other._upcasters)

    def upcaster(self, event_type: str, from_version: int) -> Callable[[Upcaster], Upcaster]:
        """Register a function turning a ``from_version`` payload into ``from_version + 1``."""

        def decorate(fn: Upcaster) -> Upcaster:
            self._upcasters[(event_type, from_version)] = fn
            return fn

        return decorate

    def has_upcaster(self, event_type: str, from_version: int) -> bool:
        """Whether a ``from_version`` payload of ``event_type`` can be upcast (compat checks)."""
        return (event_type, from_version) in self._upcasters

    def model(self, event_type: str) -> type[DomainEvent]:
        try:
            return self._models[event_type]
        except KeyError:
            raise UnknownEventType(f"no payload model registered for {event_type!r}") from None

    def knows(self, event_type: str) -> bool:
        return event_type in self._models

    @property
    def models(self) -> list[type[DomainEvent]]:
        return list(self._models.values())

    def decode(self, event_type: str, schema_version: int, data: dict[str, Any]) -> DomainEvent:
        """Build the current payload model from stored data of any known version."""
        model = self.model(event_type)
        version = schema_version
        while version < model.schema_version:
            try:
                data = self._upcasters[(event_type, version)](data)
            except KeyError:
                raise UnknownEventType(
                    f"no upcaster for {event_type} v{version} -> v{version + 1}"
                ) from None
            version += 1
        if version > model.schema_version:
            raise UnknownEventType(
                f"{event_type} v{schema_version} is newer than this code (v{model.schema_version})"
            )
        return model.model_validate(data)

"""Builds the isolation service from settings: runtime, use cases, consumers, timers. The
only module that knows every part; the entrypoints are handed what it built."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta

from cordon_contracts import gate, isolation, lab, registry
from cordon_core.envelope import EventRegistry, utc_now
from cordon_core.migrations import migrations_from_package
from cordon_core.runtime import ServiceRuntime, Subscription
from cordon_core.staff_access import (
    StaffAccess,
    StaffAccessProjection,
    staff_access_migrations,
)
from cordon_isolation.adapters.reviews import Casebook
from cordon_isolation.adapters.state import IsolationState
from cordon_isolation.adapters.timers import Timers
from cordon_isolation.entrypoints.deps import Isolation
from cordon_isolation.projections.households import HouseholdProjection
from cordon_isolation.projections.passages import PassageProjection
from cordon_isolation.service.contacts import ContactTracing
from cordon_isolation.service.deadlines import DeadlineWorker
from cordon_isolation.service.lab import LabIntake
from cordon_isolation.service.office import EpidemicOffice
from cordon_isolation.service.orders import IsolationDesk
from cordon_isolation.service.reactions import PolicyReactions
from cordon_isolation.settings import IsolationSettings


def event_registry() -> EventRegistry:
    """The event types this service reads: its own and the labs', the registry's, the gate's
    (each contracts module's ``registry`` is its catalogue of event types)."""
    events = EventRegistry()
    for contracts in (isolation, lab, registry, gate):
        events.include(contracts.registry)
    return events


def build(
    settings: IsolationSettings | None = None, *, clock: Callable[[], datetime] | None = None
) -> Isolation:
    settings = settings or IsolationSettings()
    now = clock or utc_now
    runtime = ServiceRuntime(
        service="isolation",
        settings=settings,
        registry=event_registry(),
        migrations=[
            *migrations_from_package("isolation", "cordon_isolation"),
            *staff_access_migrations(),
        ],
    )
    state = IsolationState(runtime.schema)
    timers = Timers(runtime.schema)
    district = settings.district
    casebook = Casebook(runtime.schema)
    desk = IsolationDesk(runtime.store, state, timers, casebook, district=district)
    service = Isolation(
        settings=settings,
        runtime=runtime,
        state=state,
        desk=desk,
        office=EpidemicOffice(runtime.store, state, district=district),
        intake=LabIntake(
            runtime.store,
            state,
            district=district,
            window=settings.collection_window,
            clock=now,
            chunk_rows=settings.lab_chunk_rows,
        ),
        deadlines=DeadlineWorker(lambda: runtime.pool, desk, timers, now),
        tracing=ContactTracing(runtime.store, state, desk),
        access=StaffAccess(runtime.schema, settings.isolation_admin_token),
        clock=now,
    )
    staff = StaffAccessProjection(runtime.schema)
    runtime.subscribe(
        Subscription(
            name="isolation-staff-access",
            topics=[runtime.topics.events("registry")],
            handler=staff,
            event_types=staff.event_types,
        )
    )
    households = HouseholdProjection(runtime.schema)
    runtime.subscribe(
        Subscription(
            name="isolation-households",
            topics=[runtime.topics.events("registry")],
            handler=households,
            event_types=households.event_types,
        )
    )
    passages = PassageProjection(
        runtime.schema, timedelta(days=settings.isolation_passages_keep_days)
    )
    runtime.subscribe(
        Subscription(
            name="isolation-passages",
            topics=[runtime.topics.events("gate")],
            handler=passages,
            event_types=passages.event_types,
        )
    )
    reactions = PolicyReactions(desk, state, now)
    runtime.subscribe(
        Subscription(
            name="isolation-policy",
            topics=[
                runtime.topics.events("registry"),
                runtime.topics.events("gate"),
                runtime.events_topic,
            ],
            handler=reactions,
            event_types=reactions.event_types,
        )
    )
    return service

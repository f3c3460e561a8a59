"""Builds the isolation service from settings: runtime, use cases, consumers, timers."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from cordon_contracts import gate, isolation, lab, registry
from cordon_core.envelope import EventRegistry
from cordon_core.migrations import migrations_from_package
from cordon_core.runtime import ServiceRuntime, Subscription
from cordon_isolation.adapters.reviews import Casebook
from cordon_isolation.adapters.state import IsolationState
from cordon_isolation.adapters.timers import Timers
from cordon_isolation.domain.windows import OrderWindows
from cordon_isolation.service.deadlines import DeadlineWorker
from cordon_isolation.service.households import HouseholdProjection
from cordon_isolation.service.lab import LabIntake
from cordon_isolation.service.office import EpidemicOffice
from cordon_isolation.service.orders import IsolationDesk
from cordon_isolation.service.reactions import PolicyReactions
from cordon_isolation.settings import IsolationSettings


def utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass
class Isolation:
    settings: IsolationSettings
    runtime: ServiceRuntime
    state: IsolationState
    desk: IsolationDesk
    office: EpidemicOffice
    intake: LabIntake
    deadlines: DeadlineWorker
    clock: Callable[[], datetime]

    @property
    def order_windows(self) -> OrderWindows:
        s = self.settings
        return OrderWindows(
            start_ahead=timedelta(days=s.isolation_order_start_ahead_days),
            start_behind=timedelta(days=s.isolation_order_start_behind_days),
            longest=timedelta(days=s.isolation_order_max_days),
        )


def event_registry() -> EventRegistry:
    events = EventRegistry()
    for contracts in (isolation.registry, lab.registry, registry.registry, gate.registry):
        events.include(contracts)
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
        migrations=migrations_from_package("isolation", "cordon_isolation"),
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
        clock=now,
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

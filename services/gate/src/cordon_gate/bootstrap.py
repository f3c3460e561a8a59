"""Builds the gate from settings: its runtime, use cases, consumers and HTTP app. Wiring
runs one way: this module imports the entrypoints, never the reverse."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from fastapi import FastAPI

from cordon_contracts import gate, isolation, lab, registry
from cordon_core.envelope import EventRegistry
from cordon_core.migrations import migrations_from_package
from cordon_core.runtime import ServiceRuntime, Subscription
from cordon_core.staff_access import (
    StaffAccess,
    StaffAccessProjection,
    staff_access_migrations,
)
from cordon_gate.adapters.listings import GateListings
from cordon_gate.adapters.pseudonyms import Pseudonymizer
from cordon_gate.adapters.state import GateState
from cordon_gate.entrypoints.feed import ScanFeedCodec, ScanFeedHandler
from cordon_gate.entrypoints.http import create_app
from cordon_gate.service.administration import GateOffice
from cordon_gate.service.people import PersonStatusProjection
from cordon_gate.service.restrictions import RestrictionDesk
from cordon_gate.service.scanning import ScanDesk
from cordon_gate.service.unit import Gate
from cordon_gate.settings import GateSettings


def build(
    settings: GateSettings | None = None, *, clock: Callable[[], datetime] | None = None
) -> Gate:
    settings = settings or GateSettings()
    timezone = ZoneInfo(settings.timezone)
    events = EventRegistry()
    for contracts in (gate.registry, registry.registry, isolation.registry, lab.registry):
        events.include(contracts)
    runtime = ServiceRuntime(
        service="gate",
        settings=settings,
        registry=events,
        migrations=[
            *migrations_from_package("gate", "cordon_gate"),
            *staff_access_migrations(),
        ],
    )
    state = GateState(runtime.schema)
    restrictions = RestrictionDesk(runtime.store, state, district=settings.district)
    gate_ = Gate(
        settings=settings,
        runtime=runtime,
        state=state,
        desk=ScanDesk(runtime.store, state, timezone=timezone, district=settings.district),
        office=GateOffice(runtime.store, state, restrictions, district=settings.district),
        restrictions=restrictions,
        listings=GateListings(runtime.schema),
        pseudonyms=Pseudonymizer(settings.pseudonym_key),
        access=StaffAccess(runtime.schema, settings.gate_admin_token),
        timezone=timezone,
        clock=clock or (lambda: datetime.now(timezone)),
    )
    people = PersonStatusProjection(
        runtime.schema, future_skew=timedelta(seconds=settings.max_clock_skew_s)
    )
    runtime.subscribe(
        Subscription(
            name="gate-person-status",
            topics=[runtime.topics.events("registry"), runtime.topics.events("isolation")],
            handler=people,
            event_types=people.event_types,
        )
    )
    staff = StaffAccessProjection(runtime.schema)
    runtime.subscribe(
        Subscription(
            name="gate-staff-access",
            topics=[runtime.topics.events("registry")],
            handler=staff,
            event_types=staff.event_types,
        )
    )
    runtime.subscribe(
        Subscription(
            name="gate-scan-feed",
            topics=[gate_.scans_topic],
            handler=ScanFeedHandler(gate_.desk),
            codec=ScanFeedCodec(gate_.pseudonyms, gate_.clock, gate_.windows),
        )
    )
    return gate_


def build_app(settings: GateSettings | None = None) -> FastAPI:
    """The gate's HTTP app, its runtime started and stopped by the app's lifespan."""
    return create_app(build(settings))

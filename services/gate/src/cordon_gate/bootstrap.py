"""Builds the gate from settings: its runtime, use cases, consumers and HTTP app."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from cordon_contracts import gate, isolation, lab, registry
from cordon_core.envelope import EventRegistry
from cordon_core.migrations import migrations_from_package
from cordon_core.runtime import ServiceRuntime, Subscription
from cordon_gate.adapters.listings import GateListings
from cordon_gate.adapters.state import GateState
from cordon_gate.domain.windows import Windows
from cordon_gate.entrypoints.feed import ScanFeedCodec, ScanFeedHandler
from cordon_gate.service.administration import GateOffice
from cordon_gate.service.people import PersonStatusProjection
from cordon_gate.service.restrictions import RestrictionDesk
from cordon_gate.service.scanning import Pseudonymizer, ScanDesk
from cordon_gate.settings import GateSettings


@dataclass
class Gate:
    settings: GateSettings
    runtime: ServiceRuntime
    state: GateState
    desk: ScanDesk
    office: GateOffice
    restrictions: RestrictionDesk
    listings: GateListings
    pseudonyms: Pseudonymizer
    timezone: ZoneInfo

    @property
    def scans_topic(self) -> str:
        return f"{self.settings.topic_prefix}.gate.scans"

    @property
    def windows(self) -> Windows:
        return Windows(
            clock_skew=timedelta(seconds=self.settings.max_clock_skew_s),
            scan_age=timedelta(seconds=self.settings.max_scan_age_s),
            pass_validity=timedelta(days=self.settings.max_pass_days),
        )


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
        migrations=migrations_from_package("gate", "cordon_gate"),
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
        timezone=timezone,
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
    runtime.subscribe(
        Subscription(
            name="gate-scan-feed",
            topics=[gate_.scans_topic],
            handler=ScanFeedHandler(gate_.desk),
            codec=ScanFeedCodec(
                gate_.pseudonyms,
                clock or (lambda: datetime.now(timezone)),
                gate_.windows,
            ),
        )
    )
    return gate_

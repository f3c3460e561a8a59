"""Builds the projector from settings: runtime, projections, read models and HTTP app."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from zoneinfo import ZoneInfo

from cordon_contracts.gate import registry as gate_registry
from cordon_contracts.isolation import registry as isolation_registry
from cordon_contracts.lab import registry as lab_registry
from cordon_contracts.registry import registry as registry_registry
from cordon_core.envelope import EventRegistry
from cordon_core.migrations import migrations_from_package
from cordon_core.projection import projection_subscription
from cordon_core.runtime import ServiceRuntime
from cordon_projector.projections import SourcedProjection
from cordon_projector.projections.gate_traffic import GateTrafficProjection
from cordon_projector.projections.isolation_ledger import IsolationLedgerProjection
from cordon_projector.projections.lab_results import LabResultsProjection
from cordon_projector.projections.live_gates import LiveGatesProjection
from cordon_projector.projections.places import PlacesProjection
from cordon_projector.projections.residents import ResidentsProjection
from cordon_projector.projections.screening import ScreeningProjection
from cordon_projector.settings import ProjectorSettings, StaffScope

__all__ = ["Projector", "ProjectorSettings", "StaffScope", "build_projector"]


def build_projections(schema: str, timezone: ZoneInfo) -> list[SourcedProjection]:
    """Every projection, writing into ``schema`` (the live one, or an as-of scratch one)."""
    return [
        GateTrafficProjection(schema, timezone),
        LiveGatesProjection(schema),
        PlacesProjection(schema),
        ResidentsProjection(schema),
        ScreeningProjection(schema),
        IsolationLedgerProjection(schema),
        LabResultsProjection(schema),
    ]


def event_registry() -> EventRegistry:
    registry = EventRegistry()
    for contracts in (gate_registry, registry_registry, isolation_registry, lab_registry):
        registry.include(contracts)
    return registry


@dataclass
class Projector:
    settings: ProjectorSettings
    runtime: ServiceRuntime
    projections: Sequence[SourcedProjection]
    timezone: ZoneInfo
    extra_tokens: dict[str, StaffScope] = field(default_factory=dict)
    """Tokens issued at run time through the admin endpoint (kept in memory)."""

    @property
    def gate_traffic(self) -> GateTrafficProjection:
        found = next(p for p in self.projections if isinstance(p, GateTrafficProjection))
        return found

    def topics_of(self, projection: SourcedProjection) -> list[str]:
        return [self.runtime.topics.events(service) for service in projection.reads_from]


def build_projector(settings: ProjectorSettings | None = None) -> Projector:
    settings = settings or ProjectorSettings()
    timezone = ZoneInfo(settings.timezone)
    runtime = ServiceRuntime(
        service="projector",
        settings=settings,
        registry=event_registry(),
        migrations=migrations_from_package("projector", "cordon_projector"),
        relay=False,
    )
    projector = Projector(
        settings=settings,
        runtime=runtime,
        projections=build_projections(runtime.schema, timezone),
        timezone=timezone,
    )
    for projection in projector.projections:
        runtime.subscribe(projection_subscription(projection, projector.topics_of(projection)))
    return projector

"""Builds the projector from settings: runtime, projections and HTTP app."""

from __future__ import annotations

from dataclasses import dataclass
from zoneinfo import ZoneInfo

from pydantic import Field

from cordon_contracts.gate import registry as gate_registry
from cordon_core.envelope import EventRegistry
from cordon_core.migrations import migrations_from_package
from cordon_core.projection import Projection, projection_subscription
from cordon_core.runtime import ServiceRuntime
from cordon_core.settings import ServiceSettings
from cordon_projector.projections.gate_traffic import GateTrafficProjection


class ProjectorSettings(ServiceSettings):
    timezone: str = Field(
        default="Asia/Shanghai", description="Where a report day starts and ends."
    )


@dataclass
class Projector:
    settings: ProjectorSettings
    runtime: ServiceRuntime
    gate_traffic: GateTrafficProjection

    @property
    def projections(self) -> list[Projection]:
        return [self.gate_traffic]

    def topics_of(self, projection: Projection) -> list[str]:
        return [self.runtime.topics.events("gate")]


def build_projector(settings: ProjectorSettings | None = None) -> Projector:
    settings = settings or ProjectorSettings()
    registry = EventRegistry()
    registry.include(gate_registry)
    runtime = ServiceRuntime(
        service="projector",
        settings=settings,
        registry=registry,
        migrations=migrations_from_package("projector", "cordon_projector"),
        relay=False,
    )
    projector = Projector(
        settings=settings,
        runtime=runtime,
        gate_traffic=GateTrafficProjection(runtime.schema, ZoneInfo(settings.timezone)),
    )
    for projection in projector.projections:
        runtime.subscribe(projection_subscription(projection, projector.topics_of(projection)))
    return projector

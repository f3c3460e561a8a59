"""Builds the registry from settings: its runtime, its use-case dependencies, its HTTP app."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from fastapi import FastAPI

from cordon_core.envelope import utc_now
from cordon_core.migrations import migrations_from_package
from cordon_core.runtime import ServiceRuntime
from cordon_registry.adapters.crypto import PersonalDataVault
from cordon_registry.domain.events import PRIVATE_EVENT_TYPES, service_registry
from cordon_registry.entrypoints.http import create_app
from cordon_registry.service.unit import Registry
from cordon_registry.settings import RegistrySettings


def vault_from(settings: RegistrySettings) -> PersonalDataVault:
    return PersonalDataVault(
        master_secret=settings.registry_master_key.get_secret_value(),
        index_secret=settings.registry_index_key.get_secret_value(),
        district=settings.district,
    )


def build_runtime(settings: RegistrySettings) -> ServiceRuntime:
    return ServiceRuntime(
        service="registry",
        settings=settings,
        registry=service_registry(),
        migrations=migrations_from_package("registry", "cordon_registry"),
        private_event_types=PRIVATE_EVENT_TYPES,
    )


@dataclass
class RegistryService:
    settings: RegistrySettings
    runtime: ServiceRuntime
    registry: Registry


def build(
    settings: RegistrySettings | None = None, *, clock: Callable[[], datetime] = utc_now
) -> tuple[RegistryService, FastAPI]:
    settings = settings or RegistrySettings()
    runtime = build_runtime(settings)
    registry = Registry(
        storage=runtime,
        vault=vault_from(settings),
        district=settings.district,
        clock=clock,
        import_batch_size=settings.registry_import_batch_size,
        admin_token=settings.registry_admin_token.get_secret_value(),
        risk_area_max_days=settings.registry_risk_area_max_days,
    )
    service = RegistryService(settings, runtime, registry)
    return service, create_app(runtime, registry, settings)

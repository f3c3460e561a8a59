"""Fixtures for the registry's tests: the service in-process (runtime started, FastAPI app
behind httpx's ASGI transport) on the harness's real Kafka and PostgreSQL."""

from __future__ import annotations

import sys
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from pydantic import SecretStr

from cordon_core.settings import ServiceSettings
from cordon_registry.bootstrap import build
from cordon_registry.settings import RegistrySettings

# Test modules import their helpers from registry_harness.py, next to this file.
sys.path.insert(0, str(Path(__file__).parent))

from registry_harness import ADMIN_TOKEN, Clock, Registry, build_district


@pytest.fixture
def registry_settings(settings: ServiceSettings) -> RegistrySettings:
    return RegistrySettings(
        **settings.model_dump(),
        registry_admin_token=SecretStr(ADMIN_TOKEN),
        registry_master_key=SecretStr("test-master-key"),
        registry_index_key=SecretStr("test-index-key"),
        registry_import_batch_size=50,
    )


@pytest.fixture
async def registry(registry_settings: RegistrySettings) -> AsyncIterator[Registry]:
    clock = Clock()
    service, app = build(registry_settings, clock=clock)
    async with service.runtime.running():
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://registry") as client:
            yield Registry(service, client, clock)


@pytest.fixture
async def district(registry: Registry) -> Registry:
    await build_district(registry)
    return registry

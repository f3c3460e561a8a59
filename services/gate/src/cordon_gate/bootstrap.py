"""Builds the gate service from settings: its runtime and its HTTP app."""

from __future__ import annotations

from fastapi import FastAPI

from cordon_contracts.gate import registry
from cordon_core.runtime import ServiceRuntime
from cordon_core.settings import ServiceSettings
from cordon_gate.entrypoints.http import create_app


def build(settings: ServiceSettings | None = None) -> tuple[ServiceRuntime, FastAPI]:
    settings = settings or ServiceSettings()
    runtime = ServiceRuntime(service="gate", settings=settings, registry=registry)
    return runtime, create_app(runtime)

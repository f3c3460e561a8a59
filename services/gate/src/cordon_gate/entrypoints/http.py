"""The gate's HTTP app: the devices' scan routes and the office's routes, each resource in
its own module, on the behaviour every service shares (``install_service_http``)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from cordon_contracts.asyncapi import install_asyncapi
from cordon_core.http import install_service_http
from cordon_gate.entrypoints.auth import device_auth, office_auth
from cordon_gate.entrypoints.checkpoints import checkpoints_router
from cordon_gate.entrypoints.passes import passes_router
from cordon_gate.entrypoints.restrictions import restrictions_router
from cordon_gate.entrypoints.scans import scans_router
from cordon_gate.service.batching import ScanBatcher
from cordon_gate.service.unit import Gate


def create_app(gate: Gate) -> FastAPI:
    runtime, settings = gate.runtime, gate.settings
    batcher: ScanBatcher | None = None

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        nonlocal batcher
        async with runtime.running():
            batcher = ScanBatcher(runtime.pool, gate.desk, max_batch=settings.scan_batch_max)
            batcher.start()
            try:
                yield
            finally:
                await batcher.stop()

    def running_batcher() -> ScanBatcher:
        if batcher is None:
            raise RuntimeError("the scan batcher is not running")
        return batcher

    app = FastAPI(
        title="Cordon gate",
        lifespan=lifespan,
        description="Checkpoint decisions in real time: scans, passes, visitors.",
    )
    batches = ("/v1/scans/batch", "/v1/passes/batch")
    install_service_http(
        app, runtime, body_limits=dict.fromkeys(batches, settings.max_batch_body_bytes)
    )
    install_asyncapi(app)
    admin = office_auth(gate)
    app.include_router(checkpoints_router(gate, admin, gate.clock))
    app.include_router(passes_router(gate, admin, gate.clock))
    app.include_router(restrictions_router(gate, admin, gate.clock))
    app.include_router(scans_router(gate, device_auth(gate), running_batcher))
    return app

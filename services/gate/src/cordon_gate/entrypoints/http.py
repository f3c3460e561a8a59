"""The gate's HTTP API for checkpoint devices."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Literal

from fastapi import FastAPI, Request
from pydantic import AwareDatetime, BaseModel, Field

from cordon_core.http import correlation_id, install_correlation, operations_router
from cordon_core.runtime import ServiceRuntime
from cordon_gate.domain.scans import Scan
from cordon_gate.service.scans import record_scan


class ScanIn(BaseModel):
    scan_id: str = Field(min_length=1, max_length=100)
    checkpoint_id: str = Field(min_length=1, max_length=100)
    community_id: str = Field(min_length=1, max_length=100)
    person_id: str = Field(min_length=1, max_length=100)
    direction: Literal["in", "out"]
    scanned_at: AwareDatetime
    temperature_c: float = Field(ge=30.0, le=45.0)
    health_code: Literal["green", "yellow", "red"]


class DecisionOut(BaseModel):
    scan_id: str
    decision: str
    event_id: str
    event_type: str


def create_app(runtime: ServiceRuntime) -> FastAPI:
    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        async with runtime.running():
            yield

    app = FastAPI(title="Cordon gate", lifespan=lifespan)
    install_correlation(app)
    app.include_router(operations_router(runtime))

    @app.post("/v1/scans", response_model=DecisionOut)
    async def post_scan(body: ScanIn, request: Request) -> DecisionOut:
        recorded = await record_scan(
            runtime.store,
            Scan(**body.model_dump()),
            district=runtime.settings.district,
            actor=f"device:{body.checkpoint_id}",
            correlation_id=correlation_id(request),
        )
        return DecisionOut(
            scan_id=body.scan_id,
            decision=recorded.decision,
            event_id=recorded.event_id,
            event_type=recorded.event_type,
        )

    return app

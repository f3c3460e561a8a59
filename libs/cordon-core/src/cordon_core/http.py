"""Health, readiness and Prometheus endpoints shared by every service's HTTP API."""

from __future__ import annotations

from fastapi import APIRouter, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from cordon_core.runtime import ServiceRuntime


def operations_router(runtime: ServiceRuntime) -> APIRouter:
    router = APIRouter(tags=["operations"])

    @router.get("/health/live")
    async def live() -> dict[str, str]:
        return {"status": "alive", "service": runtime.service}

    @router.get("/health/ready")
    async def ready(response: Response) -> dict[str, str]:
        ok = runtime.ready
        if ok:
            try:
                await runtime.pool.fetchval("SELECT 1")
            except Exception:
                ok = False
        response.status_code = 200 if ok else 503
        return {"status": "ready" if ok else "not ready", "service": runtime.service}

    @router.get("/metrics")
    async def metrics() -> Response:
        return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)

    return router

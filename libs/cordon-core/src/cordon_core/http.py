"""Health, readiness and Prometheus endpoints shared by every service's HTTP API."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable

import structlog
from fastapi import APIRouter, FastAPI, Request, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from cordon_core.runtime import ServiceRuntime

CORRELATION_HEADER = "X-Correlation-ID"


def correlation_id(request: Request) -> uuid.UUID:
    """The request's correlation id (from ``X-Correlation-ID`` or new), for event metadata."""
    value: uuid.UUID = request.state.correlation_id
    return value


def install_correlation(app: FastAPI) -> None:
    """Give every request a correlation id: the caller's, when it sends a valid one.

    It is bound into structlog's context, so each log line of the request carries it, and
    it is echoed in the response header.
    """

    @app.middleware("http")
    async def bind_correlation(
        request: Request, call_next: Callable[[Request], Awaitable[Response]]
    ) -> Response:
        try:
            cid = uuid.UUID(request.headers[CORRELATION_HEADER])
        except (KeyError, ValueError):
            cid = uuid.uuid4()
        request.state.correlation_id = cid
        with structlog.contextvars.bound_contextvars(correlation_id=str(cid)):
            response = await call_next(request)
        response.headers[CORRELATION_HEADER] = str(cid)
        return response


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

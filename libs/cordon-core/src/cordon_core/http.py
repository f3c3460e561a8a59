"""Health, readiness and Prometheus endpoints shared by every service's HTTP API."""

from __future__ import annotations

import gc
import socket
import sys
import uuid
from collections.abc import Callable, Mapping
from typing import TypeVar

import structlog
from fastapi import APIRouter, FastAPI, Request, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from pydantic import BaseModel
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from cordon_core.api_errors import document_errors
from cordon_core.idempotency import install_idempotency
from cordon_core.input_guard import install_input_guard
from cordon_core.observability import configure_logging
from cordon_core.outage import install_outage_handlers
from cordon_core.runtime import ServiceRuntime
from cordon_core.settings import ServiceSettings
from cordon_core.supervision import exit_process_on_fatal
from cordon_core.unit_of_work import install_contention_answer

S = TypeVar("S", bound=ServiceSettings)

CORRELATION_HEADER = "X-Correlation-ID"
GC_YOUNG_THRESHOLD = 10_000
"""Allocations between young-generation collections once a service runs (CPython: 700)."""


def correlation_id(request: Request) -> uuid.UUID:
    """The request's correlation id (from ``X-Correlation-ID`` or new), for event metadata."""
    value: uuid.UUID = request.state.correlation_id
    return value


def install_correlation(app: FastAPI) -> None:
    """Give every request a correlation id: the caller's, when it sends a valid one.

    It is bound into structlog's context, so each log line of the request carries it, and
    it is echoed in the response header. A plain ASGI middleware: Starlette's
    ``BaseHTTPMiddleware`` would add a task group and a streamed body to every request.
    """
    app.add_middleware(CorrelationMiddleware)


class CorrelationMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        cid = _correlation_from(scope)
        scope.setdefault("state", {})["correlation_id"] = cid
        header = (CORRELATION_HEADER.lower().encode(), str(cid).encode())

        async def send_with_header(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", []), header]
            await send(message)

        with structlog.contextvars.bound_contextvars(correlation_id=str(cid)):
            await self.app(scope, receive, send_with_header)


def _correlation_from(scope: Scope) -> uuid.UUID:
    wanted = CORRELATION_HEADER.lower().encode()
    for name, value in scope.get("headers", []):
        if name == wanted:
            try:
                return uuid.UUID(value.decode("latin-1"))
            except ValueError:
                break
    return uuid.uuid4()


class Health(BaseModel):
    """A health answer: which service, and why it is not alive or not ready."""

    status: str
    service: str
    dead_tasks: dict[str, str] | None = None
    """Background tasks dead for good, with the error that ended each (liveness)."""
    checks: dict[str, str] | None = None
    """Each dependency asked ("postgres", "kafka"): "ok" or why not (readiness)."""
    reason: str | None = None


def install_service_http(
    app: FastAPI, runtime: ServiceRuntime, *, body_limits: Mapping[str, int] | None = None
) -> None:
    """What every service's HTTP API has, in one call: correlation ids, the error answers
    its OpenAPI document lists, the input guard (``CORDON_MAX_BODY_BYTES``, or
    ``body_limits[route path]``), 503 + Retry-After for outages and for too much
    contention, ``Idempotency-Key`` on every write, and the health and metrics routes."""
    settings = runtime.settings
    install_correlation(app)
    document_errors(app)
    install_input_guard(app, settings.max_body_bytes, body_limits)
    install_idempotency(app, runtime)
    install_outage_handlers(app, retry_after_s=settings.outage_retry_after_s)
    install_contention_answer(app)
    app.include_router(operations_router(runtime))


def operations_router(runtime: ServiceRuntime) -> APIRouter:
    router = APIRouter(tags=["operations"])

    @router.get(
        "/health/live",
        response_model_exclude_none=True,
        responses={
            503: {
                "model": Health,
                "description": "A background task is dead for good; the process exits soon.",
            }
        },
    )
    async def live(response: Response) -> Health:
        # Dead: a background task gave up for good (the process is about to exit).
        dead = runtime.dead_tasks
        if dead:
            response.status_code = 503
            return Health(status="dead", service=runtime.service, dead_tasks=dead)
        return Health(status="alive", service=runtime.service)

    @router.get(
        "/health/ready",
        response_model_exclude_none=True,
        responses={
            503: {
                "model": Health,
                "description": "Not started, or PostgreSQL or Kafka does not answer: see reason.",
            }
        },
    )
    async def ready(response: Response) -> Health:
        # Asked afresh on every call: no flag that an outage could leave stuck.
        checks = await runtime.readiness() if runtime.ready else {"runtime": "not started"}
        failing = {name: why for name, why in checks.items() if why != "ok"}
        if failing:
            response.status_code = 503
            reason = "; ".join(f"{name}: {why}" for name, why in failing.items())
            return Health(status="not ready", service=runtime.service, checks=checks, reason=reason)
        return Health(status="ready", service=runtime.service, checks=checks)

    @router.get(
        "/metrics",
        response_class=Response,
        responses={200: {"content": {"text/plain": {"schema": {"type": "string"}}}}},
    )
    async def metrics() -> Response:
        return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)

    return router


def serve(settings: S, make_app: Callable[[S], FastAPI]) -> None:
    """Run a service: structured logs, then its HTTP app (whose lifespan starts and stops
    the service's runtime) until SIGTERM or Ctrl-C."""
    import uvicorn

    configure_logging(level=settings.log_level, json_logs=settings.log_json)
    exit_process_on_fatal(settings.fatal_exit_grace_s)

    class Server(uvicorn.Server):
        async def startup(self, sockets: list[socket.socket] | None = None) -> None:
            await super().startup(sockets)  # the lifespan has started the runtime
            settle_heap()

    config = uvicorn.Config(
        make_app(settings), host=settings.http_host, port=settings.http_port, log_config=None
    )
    server = Server(config)
    server.run()
    if not server.started:
        sys.exit(3)  # as uvicorn.run does when startup fails


def settle_heap() -> None:
    """Keep the cyclic garbage collector off the request path's tail.

    A service's startup leaves ~100,000 long-lived objects (modules, pydantic and FastAPI
    models, clients); every full collection walks them all (the gate's: 68 ms on the
    benchmark machine, bench/bench_gc_pause.py), a pause for every request in flight.
    Frozen, they are never walked again; and with a larger first generation the young
    collections come less often.
    """
    gc.collect()
    gc.freeze()
    gc.set_threshold(GC_YOUNG_THRESHOLD, *gc.get_threshold()[1:])

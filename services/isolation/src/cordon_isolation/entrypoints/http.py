"""The isolation service's HTTP API: staff (orders, follow-up, policy, campaigns) with the
office's token, labs (results) with their own tokens. OpenAPI at /docs."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import datetime

from fastapi import FastAPI, Request, status
from fastapi.responses import JSONResponse

from cordon_contracts.asyncapi import install_asyncapi
from cordon_core.api_errors import errors
from cordon_core.http import install_service_http
from cordon_isolation.domain.errors import (
    Conflict,
    IsolationError,
    NoActiveOrder,
    NotFound,
    ReleaseRefused,
)
from cordon_isolation.entrypoints.breaches import breach_routes
from cordon_isolation.entrypoints.contacts import contact_routes
from cordon_isolation.entrypoints.deps import Isolation, lab_caller, staff_caller
from cordon_isolation.entrypoints.followup import followup_routes
from cordon_isolation.entrypoints.labs import lab_routes
from cordon_isolation.entrypoints.office import office_routes
from cordon_isolation.entrypoints.orders import order_routes
from cordon_isolation.entrypoints.people import people_routes
from cordon_isolation.entrypoints.reviews import review_routes


def create_app(iso: Isolation, *, clock: Callable[[], datetime] | None = None) -> FastAPI:
    runtime, settings = iso.runtime, iso.settings
    now = clock or iso.clock

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        async with runtime.running():
            # Supervised: restarted after a failure, cancelled when the runtime stops.
            runtime.supervise(
                "deadlines", lambda: iso.deadlines.run(settings.timer_poll_interval_ms / 1000)
            )
            yield

    app = FastAPI(
        title="Cordon isolation",
        lifespan=lifespan,
        description="Isolation orders, daily follow-up, test campaigns and lab results.",
    )
    lab_limit = settings.isolation_max_lab_body_bytes
    install_service_http(
        app,
        runtime,
        body_limits={
            "/v1/lab/results": lab_limit,
            "/v1/lab/results/csv": lab_limit,
            "/v1/samples": lab_limit,
            "/v1/orders/batch": settings.isolation_max_order_batch_body_bytes,
        },
    )
    install_asyncapi(app)

    staff, lab = staff_caller(iso), lab_caller(settings)

    # A person's order may be missing (404) or in another state (409); a campaign or a
    # sample may exist already (409). The review routes declare their own (404).
    for staff_router in (
        order_routes(iso, staff, now),
        followup_routes(iso, staff, now),
        breach_routes(iso, staff, now),
        people_routes(iso, staff),
        contact_routes(iso, staff, now),
    ):
        app.include_router(staff_router, responses=errors(403, 404, 409))
    app.include_router(office_routes(iso, staff, now), responses=errors(403, 409))
    app.include_router(review_routes(iso, staff, now), responses=errors(403))
    app.include_router(lab_routes(iso, lab))

    @app.exception_handler(IsolationError)
    async def refused(_: Request, error: IsolationError) -> JSONResponse:
        if isinstance(error, ReleaseRefused):
            unmet = [{"requirement": u.requirement, "detail": u.detail} for u in error.unmet]
            return JSONResponse({"detail": str(error), "unmet": unmet}, status.HTTP_409_CONFLICT)
        code = status.HTTP_409_CONFLICT if isinstance(error, Conflict) else 422
        if isinstance(error, NoActiveOrder | NotFound):
            code = status.HTTP_404_NOT_FOUND
        return JSONResponse({"detail": str(error)}, code)

    return app

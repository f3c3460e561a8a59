"""The notification service's HTTP API: staff and office contacts, delivery status, the
in-app inbox. OpenAPI at /docs."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from cordon_contracts.asyncapi import install_asyncapi
from cordon_core.http import install_service_http
from cordon_notification.entrypoints.contacts import contact_routes
from cordon_notification.entrypoints.deliveries import delivery_routes
from cordon_notification.entrypoints.deps import Notifier, admin_caller, inbox_owner
from cordon_notification.entrypoints.in_app import in_app_routes


def create_app(notifier: Notifier) -> FastAPI:
    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        async with notifier.running():
            yield

    app = FastAPI(
        title="Cordon notification",
        lifespan=lifespan,
        description="Grid workers, building heads, residents and offices told once, in "
        "their language, by e-mail, webhook, SMS gateway or the in-app inbox.",
    )
    install_service_http(app, notifier.runtime)
    install_asyncapi(app)

    admin = admin_caller(notifier.settings)
    app.include_router(contact_routes(notifier, admin))
    app.include_router(delivery_routes(notifier, admin))
    app.include_router(in_app_routes(notifier, admin, inbox_owner(notifier.settings)))
    return app

"""The registry's HTTP API for staff apps (OpenAPI at /docs)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import Depends, FastAPI, Request

from cordon_contracts.asyncapi import install_asyncapi
from cordon_core.http import install_service_http
from cordon_core.runtime import ServiceRuntime
from cordon_registry.adapters.spreadsheets import RESIDENTS, Rows, SheetLayout, read_csv, read_xlsx
from cordon_registry.domain.errors import InvalidInput
from cordon_registry.domain.vaccination_import import HEADER_ALIASES as DOSE_HEADERS
from cordon_registry.entrypoints.auth import (
    REFUSALS,
    WRITE_REFUSALS,
    caller_of,
    install_error_handlers,
)
from cordon_registry.entrypoints.places_api import places_router
from cordon_registry.entrypoints.residents_api import residents_router
from cordon_registry.entrypoints.screening_api import screening_router
from cordon_registry.entrypoints.staff_api import staff_router
from cordon_registry.service.importing import import_rows
from cordon_registry.service.unit import Caller, Registry
from cordon_registry.service.vaccination_import import import_doses
from cordon_registry.settings import RegistrySettings

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
SPREADSHEET = {
    "requestBody": {
        "required": True,
        "content": {
            "text/csv": {"schema": {"type": "string"}},
            XLSX: {"schema": {"type": "string", "format": "binary"}},
        },
    }
}
"""The body the import reads itself: the OpenAPI says which two types it takes."""


def create_app(
    runtime: ServiceRuntime, reg: Registry, settings: RegistrySettings | None = None
) -> FastAPI:
    settings = settings or RegistrySettings()

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        async with runtime.running():
            yield

    app = FastAPI(
        title="Cordon registry",
        description="Places, households, residents and door-to-door screening of the district.",
        lifespan=lifespan,
    )
    install_service_http(
        app,
        runtime,
        body_limits={
            "/v1/communities/{community_id}/imports": settings.registry_max_import_bytes,
            "/v1/communities/{community_id}/vaccination-imports": (
                settings.registry_max_import_bytes
            ),
        },
    )
    install_error_handlers(app)
    install_asyncapi(app)
    for router in (places_router, residents_router, screening_router, staff_router):
        app.include_router(router(reg))

    caller = Depends(caller_of(reg))

    @app.post(
        "/v1/communities/{community_id}/imports",
        tags=["residents"],
        openapi_extra=SPREADSHEET,
        responses={**REFUSALS, **WRITE_REFUSALS},
    )
    async def import_file(
        community_id: str, request: Request, who: Caller = caller
    ) -> dict[str, Any]:
        """Import a spreadsheet sent as the body (text/csv or XLSX); see docs/registry.md."""
        columns, rows = await _spreadsheet(request, RESIDENTS)
        return (await import_rows(reg, who, community_id, columns, rows)).as_dict()

    doses = SheetLayout(DOSE_HEADERS, settings.registry_max_vaccination_rows)

    @app.post(
        "/v1/communities/{community_id}/vaccination-imports",
        tags=["residents"],
        openapi_extra=SPREADSHEET,
        responses={**REFUSALS, **WRITE_REFUSALS},
    )
    async def import_vaccinations(
        community_id: str, request: Request, who: Caller = caller
    ) -> dict[str, Any]:
        """Record the doses of a spreadsheet sent as the body, one dose per row, each row
        accepted, already recorded or refused by row and column; see docs/registry.md."""
        columns, rows = await _spreadsheet(request, doses)
        return (await import_doses(reg, who, community_id, columns, rows)).as_dict()

    return app


async def _spreadsheet(request: Request, layout: SheetLayout) -> tuple[list[str], Rows]:
    content_type = request.headers.get("content-type", "")
    content = await request.body()
    if content_type.startswith("text/csv"):
        return read_csv(content, layout)
    if content_type.startswith(XLSX):
        return read_xlsx(content, layout)
    raise InvalidInput("content-type", f"send text/csv or {XLSX}")

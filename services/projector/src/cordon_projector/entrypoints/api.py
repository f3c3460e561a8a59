"""The dashboard's JSON API: every read model of an area, now or as of a past moment."""

from __future__ import annotations

import hmac
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal

from fastapi import APIRouter, Depends, HTTPException, Query, Request, Response
from fastapi.responses import StreamingResponse
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import BaseModel, ConfigDict, Field

from cordon_core.api_errors import errors
from cordon_core.envelope import local_day
from cordon_core.idempotency import SHOWN_ONCE_OPERATION, executor
from cordon_core.inputs import Day, Limit, LocalOrAwareMoment, Text
from cordon_core.schema_rules import required_unless
from cordon_projector.access import Forbidden, StaffTokens, check_scope, home_area
from cordon_projector.bootstrap import Projector, StaffScope
from cordon_projector.entrypoints.export import report_csv, report_xlsx
from cordon_projector.entrypoints.live import LiveHub, event_stream
from cordon_projector.read_models.areas import Area, ancestors, communities_in, find_area
from cordon_projector.read_models.daily_report import daily_report
from cordon_projector.read_models.four_colour import four_colour_map
from cordon_projector.read_models.gates import live_gates
from cordon_projector.read_models.ledger import (
    LedgerPage,
    LedgerSort,
    isolation_ledger,
    screening_coverage,
)
from cordon_projector.replay import PastMoments

AS_OF = Query(
    default=None,
    description="Show the read model as of this moment (ISO 8601; local time when no offset):"
    " the topics are replayed up to it.",
)
bearer = HTTPBearer(auto_error=False, description="A dashboard token, or the admin token.")


@dataclass(frozen=True)
class View:
    """Where and when a request reads: the live schema now, or a replayed past moment."""

    area: Area
    schema: str
    at: datetime
    scope: StaffScope


AREA_REFUSALS = errors(403, 404)
"""An area outside the token's scope, or one the read model does not know."""


class TokenRequest(BaseModel):
    model_config = ConfigDict(json_schema_extra=required_unless("id", "kind", ("district",)))

    staff_id: Text = Field(min_length=1, max_length=100)
    kind: Literal["district", "sub_district", "community"]
    id: Text | None = Field(default=None, max_length=100)


def api_router(projector: Projector, past: PastMoments, hub: LiveHub) -> APIRouter:
    runtime = projector.runtime
    settings = projector.settings
    tokens = StaffTokens(settings.dashboard_tokens, runtime.schema)
    router = APIRouter(prefix="/v1", tags=["dashboard"])

    async def staff(
        credentials: HTTPAuthorizationCredentials | None = Depends(bearer),
        token: str | None = Query(default=None, description="For links and event streams."),
    ) -> StaffScope:
        given = credentials.credentials if credentials else token
        scope = await tokens.scope_of(runtime.pool, given)
        if scope is None:
            raise HTTPException(401, "a dashboard token is required (Authorization: Bearer)")
        return scope

    def moment(as_of: datetime | None) -> datetime:
        if as_of is None:
            return datetime.now(UTC)
        return as_of if as_of.tzinfo else as_of.replace(tzinfo=projector.timezone)

    async def view(
        area_id: str,
        as_of: LocalOrAwareMoment | None = AS_OF,
        scope: StaffScope = Depends(staff),
    ) -> View:
        at = moment(as_of)
        if as_of is not None:
            await runtime.require_kafka()  # a replay reads the topics: 503 at once if it cannot
        schema = runtime.schema if as_of is None else await past.schema_for(runtime.pool, at)
        area = await find_area(runtime.pool, schema, area_id, settings.district)
        if area is None:
            raise HTTPException(404, f"no area {area_id!r}")
        try:
            await check_scope(runtime.pool, runtime.schema, scope, area)
        except Forbidden as refused:
            raise HTTPException(403, str(refused)) from None
        return View(area, schema, at, scope)

    @router.get("/me")
    async def me(scope: StaffScope = Depends(staff)) -> dict[str, Any]:
        return {
            **scope.model_dump(),
            "home_area": home_area(scope, settings.district),
            "timezone": settings.timezone,
            "district": settings.district,
        }

    @router.get("/areas/{area_id}", responses=AREA_REFUSALS)
    async def area(v: View = Depends(view)) -> dict[str, Any]:
        return {**v.area.as_json(), "path": await ancestors(runtime.pool, v.schema, v.area)}

    @router.get("/areas/{area_id}/map", responses=AREA_REFUSALS)
    async def colour_map(v: View = Depends(view)) -> dict[str, Any]:
        """Four-colour map with the three-colour card of every building and roll-up."""
        return await four_colour_map(
            runtime.pool, v.schema, v.area, v.at, settings.full_vaccination_doses
        )

    @router.get("/areas/{area_id}/gates", responses=AREA_REFUSALS)
    async def gates(
        v: View = Depends(view), minutes: int = Query(default=60, ge=1, le=1440)
    ) -> dict[str, Any]:
        return await live_gates(runtime.pool, v.schema, v.area, v.at, projector.timezone, minutes)

    @router.get("/areas/{area_id}/gates/stream", responses=AREA_REFUSALS)
    async def gates_stream(
        request: Request, v: View = Depends(view), minutes: int = Query(default=60, ge=1, le=1440)
    ) -> StreamingResponse:
        """Server-sent events (``event: gates``): the live gates whenever they change."""
        communities = (
            None
            if v.area.kind == "district"
            else set(await communities_in(runtime.pool, v.schema, v.area))
        )

        def current() -> Awaitable[dict[str, Any]]:
            return live_gates(
                runtime.pool, v.schema, v.area, datetime.now(UTC), projector.timezone, minutes
            )

        stream = event_stream(
            current,
            hub,
            communities,
            refresh_s=settings.live_refresh_s,
            disconnected=request.is_disconnected,
        )
        return StreamingResponse(
            stream,
            media_type="text/event-stream",
            headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
        )

    @router.get("/areas/{area_id}/daily-report", response_model=None, responses=AREA_REFUSALS)
    async def report(
        v: View = Depends(view),
        day: Day | None = Query(default=None, description="Local day; the as-of day when omitted."),
        format: Literal["json", "csv", "xlsx"] = "json",
    ) -> dict[str, Any] | Response:
        the_day = day or local_day(v.at, projector.timezone)
        body = await daily_report(runtime.pool, v.schema, v.area, the_day, v.at, projector.timezone)
        if format == "json":
            return body
        name = f"daily-report-{v.area.id}-{the_day}.{format}"
        render: Callable[[dict[str, Any]], bytes] = report_csv if format == "csv" else report_xlsx
        media = (
            "text/csv; charset=utf-8"
            if format == "csv"
            else "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
        )
        return Response(
            render(body),
            media_type=media,
            headers={"Content-Disposition": f'attachment; filename="{name}"'},
        )

    @router.get("/areas/{area_id}/isolation-ledger", responses=AREA_REFUSALS)
    async def ledger(
        v: View = Depends(view),
        limit: Limit = 100,
        offset: int = Query(default=0, ge=0, le=10_000_000, description="Orders to skip."),
        sort: LedgerSort = Query(default="grid", description="The order of the page's rows."),
        descending: bool = Query(default=False, description="Reverse the sort."),
        level: Literal["centralized", "home", "monitoring"] | None = Query(default=None),
        grid_id: Text | None = Query(default=None, max_length=100),
        planned_end_before: LocalOrAwareMoment | None = Query(
            default=None,
            description="Only orders planned to end before this moment (due for release);"
            " local time when no offset.",
        ),
    ) -> dict[str, Any]:
        """The counts per grid and level of the whole area, and one page of its orders:
        ``total`` is how many the filters keep, ``orders`` at most ``limit`` of them."""
        page = LedgerPage(
            limit=limit, offset=offset, sort=sort, descending=descending, level=level,
            grid_id=grid_id,
            planned_end_before=None if planned_end_before is None else moment(planned_end_before),
        )  # fmt: skip
        return await isolation_ledger(runtime.pool, v.schema, v.area, v.at, page)

    @router.get("/areas/{area_id}/screening", responses=AREA_REFUSALS)
    async def screening(v: View = Depends(view)) -> dict[str, Any]:
        return await screening_coverage(runtime.pool, v.schema, v.area, v.at)

    def admin(credentials: HTTPAuthorizationCredentials | None = Depends(bearer)) -> None:
        given = credentials.credentials if credentials else ""
        if not hmac.compare_digest(given.encode(), settings.dashboard_admin_token.encode()):
            raise HTTPException(401, "the dashboard admin token is required")

    @router.post(
        "/dashboard-tokens",
        dependencies=[Depends(admin)],
        status_code=201,
        openapi_extra=SHOWN_ONCE_OPERATION,
    )
    async def issue_token(body: TokenRequest) -> dict[str, Any]:
        if body.kind != "district" and not body.id:
            raise HTTPException(422, f"a {body.kind} token needs its id")
        scope = StaffScope(kind=body.kind, id=body.id, staff_id=body.staff_id)
        return {**scope.model_dump(), "token": await tokens.issue(executor(runtime.pool), scope)}

    @router.delete("/dashboard-tokens/{staff_id}", dependencies=[Depends(admin)])
    async def revoke_tokens(staff_id: str) -> dict[str, int]:
        return {"revoked": await tokens.revoke(executor(runtime.pool), staff_id)}

    return router

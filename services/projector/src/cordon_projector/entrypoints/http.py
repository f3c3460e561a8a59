"""The projector's HTTP API: read models as JSON."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import date, datetime

from fastapi import FastAPI, Query
from fastapi.responses import HTMLResponse
from pydantic import BaseModel

from cordon_core.http import install_correlation, operations_router
from cordon_projector.bootstrap import Projector
from cordon_projector.entrypoints.dashboard import DASHBOARD_HTML


class DailyTraffic(BaseModel):
    community_id: str
    day: date
    entries: int
    exits: int


def create_app(projector: Projector) -> FastAPI:
    runtime = projector.runtime

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        async with runtime.running():
            yield

    app = FastAPI(title="Cordon projector", lifespan=lifespan)
    install_correlation(app)
    app.include_router(operations_router(runtime))

    def today_or(day: date | None) -> date:
        return day or datetime.now(projector.gate_traffic.timezone).date()

    @app.get("/", response_class=HTMLResponse, include_in_schema=False)
    async def dashboard() -> str:
        return DASHBOARD_HTML

    @app.get("/v1/gate-traffic", response_model=list[DailyTraffic])
    async def gate_traffic_all(
        day: date | None = Query(default=None, description="Local day; today when omitted."),
    ) -> list[DailyTraffic]:
        the_day = today_or(day)
        rows = await projector.gate_traffic.daily_all(runtime.pool, the_day)
        return [DailyTraffic(day=the_day, **dict(r)) for r in rows]

    @app.get("/v1/communities/{community_id}/gate-traffic", response_model=DailyTraffic)
    async def gate_traffic(
        community_id: str,
        day: date | None = Query(default=None, description="Local day; today when omitted."),
    ) -> DailyTraffic:
        the_day = today_or(day)
        entries, exits = await projector.gate_traffic.daily(runtime.pool, community_id, the_day)
        return DailyTraffic(community_id=community_id, day=the_day, entries=entries, exits=exits)

    return app

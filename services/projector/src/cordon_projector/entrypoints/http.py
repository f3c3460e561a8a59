"""The projector's HTTP app: the dashboard page, its API, and the daily gate traffic."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import date, datetime

from fastapi import FastAPI, Query
from fastapi.responses import HTMLResponse
from pydantic import BaseModel

from cordon_contracts.asyncapi import install_asyncapi
from cordon_core.http import install_service_http
from cordon_core.inputs import Day
from cordon_projector.bootstrap import Projector, build_projections
from cordon_projector.entrypoints.api import api_router
from cordon_projector.entrypoints.dashboard import dashboard_html
from cordon_projector.entrypoints.live import LiveHub
from cordon_projector.projections.live_gates import notify_channel
from cordon_projector.replay import PastMoments


class DailyTraffic(BaseModel):
    community_id: str
    day: date
    entries: int
    exits: int


def past_moments(projector: Projector) -> PastMoments:
    runtime = projector.runtime
    return PastMoments(
        base_schema=runtime.schema,
        migrations=runtime.migrations,
        make_projections=build_projections,
        topics_of=projector.topics_of,
        timezone=projector.timezone,
        bootstrap=projector.settings.kafka_bootstrap,
        registry=runtime.registry,
        keep=projector.settings.asof_cache_size,
        keep_seconds=projector.settings.asof_cache_seconds,
    )


def create_app(projector: Projector) -> FastAPI:
    runtime = projector.runtime
    past = past_moments(projector)
    hub = LiveHub(projector.settings.database_url, notify_channel(runtime.schema))

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        async with runtime.running():
            await past.drop_all(runtime.pool)
            await hub.start()
            try:
                yield
            finally:
                await hub.stop()
                await past.drop_all(runtime.pool)

    app = FastAPI(title="Cordon projector", lifespan=lifespan)
    install_service_http(app, runtime)
    install_asyncapi(app)
    app.include_router(api_router(projector, past, hub))

    def today_or(day: date | None) -> date:
        return day or datetime.now(projector.timezone).date()

    @app.get("/", response_class=HTMLResponse, include_in_schema=False)
    async def dashboard() -> str:
        return dashboard_html()

    # Aggregate counts only, open like the first walking slice that introduced them.
    @app.get("/v1/gate-traffic", response_model=list[DailyTraffic])
    async def gate_traffic_all(
        day: Day | None = Query(default=None, description="Local day; today when omitted."),
    ) -> list[DailyTraffic]:
        the_day = today_or(day)
        rows = await projector.gate_traffic.daily_all(runtime.pool, the_day)
        return [DailyTraffic(day=the_day, **dict(r)) for r in rows]

    @app.get("/v1/communities/{community_id}/gate-traffic", response_model=DailyTraffic)
    async def gate_traffic(
        community_id: str,
        day: Day | None = Query(default=None, description="Local day; today when omitted."),
    ) -> DailyTraffic:
        the_day = today_or(day)
        entries, exits = await projector.gate_traffic.daily(runtime.pool, community_id, the_day)
        return DailyTraffic(community_id=community_id, day=the_day, entries=entries, exits=exits)

    return app

"""The projector's HTTP API: read models as JSON."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import date, datetime

from fastapi import FastAPI, Query
from pydantic import BaseModel

from cordon_core.http import operations_router

from cordon_projector.bootstrap import Projector


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
    app.include_router(operations_router(runtime))

    @app.get("/v1/communities/{community_id}/gate-traffic", response_model=DailyTraffic)
    async def gate_traffic(
        community_id: str,
        day: date | None = Query(default=None, description="Local day; today when omitted."),
    ) -> DailyTraffic:
        tz = projector.gate_traffic.timezone
        the_day = day or datetime.now(tz).date()
        entries, exits = await projector.gate_traffic.daily(runtime.pool, community_id, the_day)
        return DailyTraffic(community_id=community_id, day=the_day, entries=entries, exits=exits)

    return app

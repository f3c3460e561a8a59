"""Hostile input at the dashboard's API: report days at the calendar's edges, moments Python
cannot convert, NUL in a query and unstorable token requests get a 422 naming the parameter;
nothing is stored (no dashboard token) and no page answers 500."""

from __future__ import annotations

from collections.abc import AsyncIterator

import asyncpg
import httpx
import pytest
from fastapi import FastAPI

from cordon_core.settings import ServiceSettings
from cordon_projector.bootstrap import ProjectorSettings, build_projector
from cordon_projector.entrypoints.http import create_app
from cordon_projector.settings import StaffScope

TOKEN = {"Authorization": "Bearer district"}
ADMIN = {"Authorization": "Bearer inputs-admin"}


@pytest.fixture
async def client(settings: ServiceSettings) -> AsyncIterator[httpx.AsyncClient]:
    projector = build_projector(
        ProjectorSettings(
            **settings.model_dump(),
            dashboard_tokens={"district": StaffScope(kind="district")},
            dashboard_admin_token="inputs-admin",
        )
    )
    app: FastAPI = create_app(projector)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://projector") as c:
            yield c


def named(response: httpx.Response) -> list[str]:
    return [str(e["loc"][-1]) for e in response.json()["detail"]]


async def test_edge_days_and_moments_nul_and_unstorable_token_requests_get_a_422(
    client: httpx.AsyncClient, settings: ServiceSettings
) -> None:
    district = settings.district
    answers = {
        "day 0001": await client.get("/v1/gate-traffic", params={"day": "0001-01-01"}),
        "day 9999": await client.get(
            "/v1/communities/c1/gate-traffic", params={"day": "9999-12-31"}
        ),
        "report day": await client.get(
            f"/v1/areas/{district}/daily-report", params={"day": "0001-01-01"}, headers=TOKEN
        ),
        "as_of 0001+08": await client.get(
            f"/v1/areas/{district}/map",
            params={"as_of": "0001-01-01T00:00:00+08:00"},
            headers=TOKEN,
        ),
        "as_of 9999": await client.get(
            f"/v1/areas/{district}/map", params={"as_of": "9999-12-31T23:59:59"}, headers=TOKEN
        ),
        "minutes 0": await client.get(
            f"/v1/areas/{district}/gates", params={"minutes": 0}, headers=TOKEN
        ),
        "nul in a query": await client.get(
            "/v1/communities/c1/gate-traffic", params={"day": "2022-04-01\x00"}
        ),
        "nul in a path": await client.get("/v1/communities/c%001/gate-traffic"),
        "nul in a token request": await client.post(
            "/v1/dashboard-tokens",
            content=b'{"staff_id": "a\\u0000", "kind": "district"}',
            headers={**ADMIN, "content-type": "application/json"},
        ),
        "surrogate in a token request": await client.post(
            "/v1/dashboard-tokens",
            content=b'{"staff_id": "\\ud800", "kind": "district"}',
            headers={**ADMIN, "content-type": "application/json"},
        ),
    }

    assert {what: r.status_code for what, r in answers.items()} == dict.fromkeys(answers, 422)
    assert named(answers["day 0001"]) == named(answers["day 9999"]) == ["day"]
    assert named(answers["report day"]) == ["day"]
    assert named(answers["as_of 0001+08"]) == named(answers["as_of 9999"]) == ["as_of"]
    assert named(answers["minutes 0"]) == ["minutes"]
    assert named(answers["nul in a token request"]) == ["staff_id"]
    assert named(answers["surrogate in a token request"]) == ["staff_id"]
    conn = await asyncpg.connect(settings.database_url)
    try:
        stored = await conn.fetchval("SELECT count(*) FROM projector.dashboard_token")
    finally:
        await conn.close()
    assert stored == 0, "no token was issued"


async def test_a_body_past_the_limit_is_a_413(client: httpx.AsyncClient) -> None:
    response = await client.post(
        "/v1/dashboard-tokens",
        json={"staff_id": "x" * 300_000, "kind": "district"},
        headers=ADMIN,
    )

    assert response.status_code == 413

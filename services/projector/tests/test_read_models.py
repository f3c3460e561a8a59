"""The read models against a scripted district, with real Kafka and PostgreSQL: colours
and rates match hand-computed figures; rebuild equals incremental; as-of views match the
state at that moment; the daily report splits across midnight."""

from __future__ import annotations

import csv
import io
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
import httpx
import openpyxl
import pytest
from fastapi import FastAPI
from projector_scenario import (
    local,
    publish_after,
    publish_before,
    started,
    upstreams,
    wait_projected,
)

from cordon_contracts import isolation
from cordon_core.projection import rebuild_together
from cordon_core.settings import ServiceSettings
from cordon_projector.bootstrap import Projector, ProjectorSettings, build_projector
from cordon_projector.entrypoints.http import create_app
from cordon_projector.read_models.areas import find_area
from cordon_projector.read_models.ledger import isolation_ledger
from cordon_projector.settings import StaffScope

TOKEN = {"Authorization": "Bearer district"}


@pytest.fixture
async def running(settings: ServiceSettings) -> AsyncIterator[tuple[Projector, httpx.AsyncClient]]:
    projector = build_projector(
        ProjectorSettings(
            **settings.model_dump(),
            timezone="Asia/Shanghai",
            dashboard_tokens={
                "district": StaffScope(kind="district"),
                "c1-office": StaffScope(kind="community", id="c1", staff_id="c1-office"),
                "sd2-office": StaffScope(kind="sub_district", id="sd2", staff_id="sd2-office"),
            },
        )
    )
    app: FastAPI = create_app(projector)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://projector") as client:
            yield projector, client


async def get(client: httpx.AsyncClient, path: str, **params: str) -> Any:
    response = await client.get(path, params=params, headers=TOKEN)
    assert response.status_code == 200, response.text
    return response.json()


def colours(view: dict[str, Any], key: str) -> dict[str, str]:
    return {item["id"]: item["colour"] for item in view[key]}


def without_moment(view: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in view.items() if k != "at"}


async def test_scripted_district(
    settings: ServiceSettings, running: tuple[Projector, httpx.AsyncClient]
) -> None:
    projector, client = running
    async with upstreams(settings) as up:
        await publish_before(up)
        await wait_projected(settings.database_url, projector.projections, up.published)
        before_map = await get(client, "/v1/areas/c1/map")
        before_ledger = await get(client, "/v1/areas/c1/isolation-ledger")
        moment = datetime.now(UTC)
        await publish_after(up)
        await wait_projected(settings.database_url, projector.projections, up.published)
        published = len(up.published)

    # Before: p1 monitored (yellow), p3 centralized (red), q5 home (brown), q18/q19/p4 blue.
    assert colours(before_map, "buildings") == {"b1": "red", "b2": "brown", "b3": "blue"}
    b2 = next(b for b in before_map["buildings"] if b["id"] == "b2")
    assert (b2["vaccinated"], b2["residents"], b2["card"]) == (18, 20, "yellow")
    assert b2["households"] == {"none": 2, "blue": 1, "yellow": 0, "brown": 1, "red": 0}

    # After: o1 upgraded to home, p2 moved into b3, p3 released, q18's second dose: 19/20.
    after = await get(client, "/v1/areas/c1/map")
    assert colours(after, "buildings") == {"b1": "brown", "b2": "brown", "b3": "blue"}
    cards = {b["id"]: (b["vaccinated"], b["residents"], b["card"]) for b in after["buildings"]}
    assert cards == {"b1": (2, 2, "green"), "b2": (19, 20, "green"), "b3": (1, 2, "red")}
    assert after["totals"]["people"] == {"none": 20, "blue": 2, "yellow": 0, "brown": 2, "red": 0}
    assert after["totals"]["households"] == {
        "none": 3,
        "blue": 2,
        "yellow": 0,
        "brown": 2,
        "red": 0,
    }
    assert colours(after, "children") == {"g1": "brown", "g2": "blue"}
    b1 = await get(client, "/v1/areas/b1/map")
    assert colours(b1, "households") == {"h1": "brown", "h2": "none"}
    b3 = await get(client, "/v1/areas/b3/map")
    assert b3["households"][0]["people"]["none"] == 1, "p2 now lives in h7"
    district = await get(client, "/v1/areas/d/map")
    assert colours(district, "children") == {"sd1": "brown"}
    # Every resident lives in c1: the district and its one sub-district count the same people
    # and households, aggregated by PostgreSQL at each level.
    sub_district = district["children"][0]
    for level in (district["totals"], sub_district):
        assert {k: level[k] for k in after["totals"]} == after["totals"]

    # The isolation ledger per grid, now and as it was.
    ledger = await get(client, "/v1/areas/c1/isolation-ledger")
    assert ledger["grids"] == [
        {"grid_id": "g1", "name": "G1", "centralized": 0, "home": 2, "monitoring": 0}
    ]
    assert before_ledger["grids"][0] | {"name": "G1"} == {
        "grid_id": "g1",
        "name": "G1",
        "centralized": 1,
        "home": 1,
        "monitoring": 1,
    }

    # As of the moment between the two phases: the topics replayed up to it.
    as_of = moment.isoformat()
    assert without_moment(await get(client, "/v1/areas/c1/map", as_of=as_of)) == without_moment(
        before_map
    )
    assert without_moment(
        await get(client, "/v1/areas/c1/isolation-ledger", as_of=as_of)
    ) == without_moment(before_ledger)

    # The live ledger asked about a moment before o1's upgrade (20:00 on the 1st) reads o1's
    # level from the level history; from the upgrade on, from the order's row.
    runtime = projector.runtime
    c1 = await find_area(runtime.pool, runtime.schema, "c1", projector.settings.district)
    assert c1 is not None

    async def level_of_o1(at: datetime) -> str:
        view = await isolation_ledger(runtime.pool, runtime.schema, c1, at)
        return str(next(o["level"] for o in view["orders"] if o["order_id"] == "o1"))

    upgraded = local("2022-04-01 20:00")
    assert await level_of_o1(upgraded - timedelta(minutes=1)) == "monitoring"
    assert await level_of_o1(upgraded) == "home"
    assert await level_of_o1(datetime.now(UTC)) == "home"

    # The daily report: the 1st closes at midnight Shanghai time; late events land by their time.
    first = (await get(client, "/v1/areas/c1/daily-report", day="2022-04-01"))["total"]
    second = (await get(client, "/v1/areas/c1/daily-report", day="2022-04-02"))["total"]
    assert {k: first[k] for k in ("entries", "exits", "denials", "fevers", "red_codes")} == {
        "entries": 3,
        "exits": 1,
        "denials": 1,
        "fevers": 1,
        "red_codes": 1,
    }
    assert second["entries"] == 1
    assert {
        k: first[k]
        for k in ("centralized", "home", "monitoring", "isolation_started", "isolation_released")
    } == {
        "centralized": 0,
        "home": 2,
        "monitoring": 0,
        "isolation_started": 2,
        "isolation_released": 1,
    }
    assert (first["tests"], first["positives"], second["tests"], second["positives"]) == (
        2,
        1,
        1,
        0,
    )
    assert (first["households_visited"], first["households_registered"]) == (2, 7)
    assert (second["households_visited"], second["screening_coverage"]) == (3, round(3 / 7, 4))
    # The same report exported: CSV (with a BOM, for Excel) and XLSX carry the same figures.
    exported = {
        fmt: await client.get(
            "/v1/areas/c1/daily-report", params={"day": "2022-04-01", "format": fmt},
            headers=TOKEN,
        )
        for fmt in ("csv", "xlsx")
    }  # fmt: skip
    assert all(r.status_code == 200 for r in exported.values())
    csv_rows = list(csv.reader(io.StringIO(exported["csv"].content.decode("utf-8-sig"))))
    sheet = openpyxl.load_workbook(io.BytesIO(exported["xlsx"].content)).active
    assert sheet is not None
    xlsx_rows = [[str(v) for v in row] for row in sheet.iter_rows(values_only=True)]
    assert csv_rows[0][0].startswith("防控日报告表 Daily report 2022-04-01")
    header = csv_rows[1]
    total = next(r for r in csv_rows if r[0].startswith("total"))
    assert total[header.index("进入 Entries")] == "3"
    assert [row[: len(total)] for row in xlsx_rows[1:]] == [
        [c if c != "" else "None" for c in row] for row in csv_rows[1:]
    ]

    district_report = await get(client, "/v1/areas/d/daily-report", day="2022-04-01")
    assert district_report["sub_districts"][0]["entries"] == 3
    assert district_report["total"]["entries"] == 3

    screening = await get(client, "/v1/areas/c1/screening")
    grids = {g["grid_id"]: (g["visited"], g["registered"]) for g in screening["rounds"][0]["grids"]}
    assert grids == {"g1": (3, 6), "g2": (0, 1)}

    # Rebuild equals incremental: every projection's tables, replayed from scratch.
    tables = [
        "place",
        "resident",
        "resident_dose",
        "isolation_order",
        "isolation_level_change",
        "gate_minute",
        "gate_denial_minute",
        "screening_round",
        "screening_visit",
        "test_result",
        "gate_traffic_daily",
    ]
    incremental = await dump(settings.database_url, tables)
    # As `cordon-projector rebuild` does: one pass, each record read once for all of them.
    read = await rebuild_together(
        [(p, projector.topics_of(p)) for p in projector.projections],
        pool=projector.runtime.pool,
        schema="projector",
        registry=projector.runtime.registry,
        settings=projector.settings,
    )
    assert read == published
    assert await dump(settings.database_url, tables) == incremental
    assert without_moment(await get(client, "/v1/areas/c1/map")) == without_moment(after)


async def dump(database_url: str, tables: list[str]) -> dict[str, list[tuple[Any, ...]]]:
    conn = await asyncpg.connect(database_url)
    try:
        return {
            t: [
                tuple(r)
                for r in await conn.fetch(f"SELECT * FROM projector.{t} x ORDER BY x::text")
            ]
            for t in tables
        }
    finally:
        await conn.close()


async def test_staff_see_only_their_community_or_sub_district(
    running: tuple[Projector, httpx.AsyncClient],
) -> None:
    _, client = running

    async def status(token: str | None, path: str) -> int:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        return (await client.get(path, headers=headers)).status_code

    assert await status(None, "/v1/me") == 401
    assert await status("wrong", "/v1/me") == 401
    assert (await client.get("/v1/me", headers={"Authorization": "Bearer c1-office"})).json()[
        "home_area"
    ] == "c1"
    district = "/v1/areas/demo-district"  # the configured district, with no events yet
    assert await status("district", f"{district}/map") == 200
    assert await status("c1-office", f"{district}/map") == 403
    assert await status("sd2-office", f"{district}/daily-report") == 403
    response = await client.post(
        "/v1/dashboard-tokens",
        json={"staff_id": "x", "kind": "community", "id": "c9"},
        headers={"Authorization": "Bearer dev-dashboard-admin"},
    )
    assert response.status_code == 201
    assert (
        await client.get("/v1/me", headers={"Authorization": f"Bearer {response.json()['token']}"})
    ).json()["home_area"] == "c9"


async def test_the_isolation_ledger_travels_a_page_at_a_time_with_totals_sorts_and_filters(
    settings: ServiceSettings, running: tuple[Projector, httpx.AsyncClient]
) -> None:
    projector, client = running
    async with upstreams(settings) as up:
        await publish_before(up)  # o1 p1 monitoring, o2 p3 centralized, o3 q5 home (all g1)
        for i in range(7):  # seven more at home in g1, planned to end on successive days
            order = isolation.IsolationStarted(
                order_id=f"h{i}", person_id=f"q{10 + i}", level="home", community_id="c1",
                reason="contact",
                starts_at=local(f"2022-04-0{1 + i % 3} 12:00"),
                planned_end_at=local(f"2022-04-{10 + i} 10:00"),
            )  # fmt: skip
            await up.publish("isolation", f"person:q{10 + i}", order)
        await up.publish(
            "isolation", "person:p4", started("g2o", "p4", "monitoring", "2022-04-01 09:00")
        )
        await wait_projected(settings.database_url, projector.projections, up.published)

    pages = [
        await get(client, "/v1/areas/c1/isolation-ledger", limit="3", offset=str(o))
        for o in (0, 3, 6, 9)
    ]
    ids = [o["order_id"] for page in pages for o in page["orders"]]
    everything = await get(client, "/v1/areas/c1/isolation-ledger", limit="1000")

    assert [len(p["orders"]) for p in pages] == [3, 3, 3, 2]
    assert {p["total"] for p in pages} == {11}
    assert ids == [o["order_id"] for o in everything["orders"]], "pages repeat or skip none"
    assert sorted(ids) == sorted(["o1", "o2", "o3", "g2o", *(f"h{i}" for i in range(7))])
    assert [o["grid_id"] for o in everything["orders"]] == ["g1"] * 10 + ["g2"]
    assert (
        everything["grids"]
        == pages[0]["grids"]
        == [
            {"grid_id": "g1", "name": "G1", "centralized": 1, "home": 8, "monitoring": 1},
            {"grid_id": "g2", "name": "G2", "centralized": 0, "home": 0, "monitoring": 1},
        ]
    )

    severe_first = await get(
        client, "/v1/areas/c1/isolation-ledger", sort="level", descending="true"
    )
    assert [o["level"] for o in severe_first["orders"]] == (
        ["centralized"] + ["home"] * 8 + ["monitoring"] * 2
    )
    due = await get(
        client, "/v1/areas/c1/isolation-ledger", level="home", grid_id="g1",
        planned_end_before="2022-04-13T00:00:00", sort="planned_end_at",
    )  # fmt: skip
    assert [o["order_id"] for o in due["orders"]] == ["h0", "h1", "h2"]
    assert due["total"] == 3
    assert due["grids"] == everything["grids"], "the counts are the area's, not the filter's"

    for bad in ({"limit": "0"}, {"limit": "1001"}, {"offset": "-1"}, {"sort": "name"},
                {"level": "red"}, {"descending": "maybe"}):  # fmt: skip
        refused = await client.get("/v1/areas/c1/isolation-ledger", params=bad, headers=TOKEN)
        assert refused.status_code == 422, (bad, refused.text)
        assert next(iter(bad)) in refused.text

"""The dashboard in a real headless Chromium (Debian's ``chromium``, driven by Playwright):
the gate and the projector run as OS processes, the registry's and isolation's events are
published on their topics; the four-colour map shows the right colours and a new scan at
the gate appears on the live chart without a reload. A screenshot is saved."""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from cordon_contracts import isolation, registry
from cordon_core.envelope import EventMetadata, PendingEvent
from cordon_core.runtime import ServiceRuntime
from cordon_core.settings import ServiceSettings
from cordon_testing import ServiceProcess, wait_until

CHROMIUM = "/usr/bin/chromium"
ADMIN = "browser-admin-token"
TOKEN = "browser-district-token"
ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
RGB = {"red": "rgb(217, 48, 37)", "brown": "rgb(141, 85, 36)", "blue": "rgb(26, 115, 232)"}

pytestmark = pytest.mark.skipif(
    not Path(CHROMIUM).exists() or shutil.which("chromium") is None,
    reason="Debian's chromium is not installed (./cordon test installs it when run as root:"
    " apt-get install -y chromium)",
)


@pytest.fixture
def gate(service_env: dict[str, str], log_dir: Path) -> Iterator[ServiceProcess]:
    process = ServiceProcess(
        "cordon_gate", {**service_env, "CORDON_GATE_ADMIN_TOKEN": ADMIN}, log_dir
    ).start()
    yield process
    process.stop()


@pytest.fixture
def projector(service_env: dict[str, str], log_dir: Path) -> Iterator[ServiceProcess]:
    env = {
        **service_env,
        "CORDON_TIMEZONE": "Asia/Shanghai",
        "CORDON_DISTRICT": "d",
        "CORDON_LIVE_REFRESH_S": "2",
        "CORDON_DASHBOARD_TOKENS": json.dumps({TOKEN: {"kind": "district"}}),
    }
    process = ServiceProcess("cordon_projector", env, log_dir).start()
    yield process
    process.stop()


async def publish_district(settings: ServiceSettings, projector: ServiceProcess) -> None:
    """Community c1: building b1 with a centralized isolation (red), b2 with a home
    isolation (brown), b3 with a resident who has one dose (blue)."""
    now = datetime.now(UTC)
    meta = EventMetadata.new(actor="test", district="d")
    places = [
        ("sd1", "sub_district", None),
        ("c1", "community", "sd1"),
        ("g1", "grid", "c1"),
        ("k1", "compound", "g1"),
    ] + [(b, "building", "k1") for b in ("b1", "b2", "b3")]
    people = {"p1": "b1", "p2": "b2", "p3": "b3"}
    async with ServiceRuntime(
        service="registry", settings=settings, registry=registry.registry
    ).running() as reg:
        for place_id, kind, parent in places:
            event = registry.PlaceAdded(
                place_id=place_id,
                kind=kind,
                parent_id=parent,  # type: ignore[arg-type]
                community_id=None if parent in (None, "sd1") else "c1",
                name=place_id.upper(),
                added_at=now,
            )
            await reg.store.append(
                f"place:{place_id}", [PendingEvent(event)], expected_version=None, metadata=meta
            )
        for person, building in people.items():
            events = [
                registry.ResidentRegistered(
                    person_id=person,
                    household_id=f"{building}-101",
                    building_id=building,
                    compound_id="k1",
                    grid_id="g1",
                    community_id="c1",
                    sub_district_id="sd1",
                    residence_type="owner",
                    registered_at=now,
                )
            ]
            for n in range(1, 2 if person == "p3" else 3):
                events.append(
                    registry.VaccinationRecorded(  # type: ignore[arg-type]
                        person_id=person,
                        household_id=f"{building}-101",
                        community_id="c1",
                        dose_number=n,
                        vaccinated_on=now.date(),
                        source="registry",
                        recorded_at=now,
                    )
                )
            await reg.store.append(
                f"person:{person}",
                [PendingEvent(e) for e in events],
                expected_version=None,
                metadata=meta,
            )
        async with ServiceRuntime(
            service="isolation", settings=settings, registry=isolation.registry
        ).running() as iso:
            for order, person, level in (("o1", "p1", "centralized"), ("o2", "p2", "home")):
                event = isolation.IsolationStarted(
                    order_id=order,
                    person_id=person,
                    level=level,
                    community_id="c1",  # type: ignore[arg-type]
                    reason="contact",
                    starts_at=now - timedelta(hours=1),
                    planned_end_at=now + timedelta(days=14),
                )
                await iso.store.append(
                    f"person:{person}", [PendingEvent(event)], expected_version=None, metadata=meta
                )
            # The stand-ins' relays publish while they run: wait for the read model.
            await wait_until(
                lambda: api(projector, "/v1/areas/c1/map"),
                timeout=60,
                until=lambda m: (
                    [b.get("colour") for b in m.get("buildings", [])] == ["red", "brown", "blue"]
                ),
                what="the map in the read model",
            )


async def register_gate(gate: ServiceProcess) -> str:
    admin = {"Authorization": f"Bearer {ADMIN}"}
    async with httpx.AsyncClient(base_url=gate.url, headers=admin) as client:
        (
            await client.post(
                "/v1/checkpoints",
                json={
                    "checkpoint_id": "c1-east",
                    "community_id": "c1",
                    "compound_id": "k1",
                    "name": "East",
                },
            )
        ).raise_for_status()
        device = await client.post("/v1/checkpoints/c1-east/devices", json={"device_id": "pad"})
        token: str = device.json()["token"]
        return token


async def api(projector: ServiceProcess, path: str) -> Any:
    async with httpx.AsyncClient(base_url=projector.url) as client:
        response = await client.get(path, headers={"Authorization": f"Bearer {TOKEN}"})
        return response.json() if response.status_code == 200 else {}


async def test_map_colours_and_a_live_gate_scan_in_headless_chromium(
    gate: ServiceProcess, projector: ServiceProcess, settings: ServiceSettings, tmp_path: Path
) -> None:
    from playwright.async_api import async_playwright

    device = await register_gate(gate)
    await publish_district(settings, projector)

    async with async_playwright() as pw:
        browser = await pw.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        try:
            page = await browser.new_page(viewport={"width": 420, "height": 900})
            await page.goto(f"{projector.url}/?token={TOKEN}#/area/c1")
            await page.wait_for_selector("body[data-loaded='c1']", timeout=30_000)
            for building, colour in (("b1", "red"), ("b2", "brown"), ("b3", "blue")):
                tile = page.locator(f".tile[data-id='{building}']")
                assert await tile.get_attribute("data-colour") == colour
                assert (
                    await tile.evaluate("t => getComputedStyle(t).backgroundColor") == RGB[colour]
                )
            await page.wait_for_function(
                "document.getElementById('live').textContent.includes('●')", timeout=30_000
            )
            before = int(await page.locator("#gate-entries").inner_text())

            scan = {
                "scan_id": "live-1",
                "checkpoint_id": "c1-east",
                "direction": "in",
                "scanned_at": datetime.now(UTC).isoformat(),
                "temperature_c": 36.5,
                "health_code": "green",
                "visitor": {
                    "document_type": "passport",
                    "document_number": "E12345678",
                    "name": "V",
                    "phone": "13800000000",
                    "reason": "delivery",
                },
            }
            async with httpx.AsyncClient(base_url=gate.url) as client:
                response = await client.post(
                    "/v1/scans", json=scan, headers={"Authorization": f"Bearer {device}"}
                )
            assert response.json()["decision"] == "allow", response.text

            await page.wait_for_function(
                f"Number(document.getElementById('gate-entries').textContent) === {before + 1}",
                timeout=30_000,
            )
            assert int(await page.locator("#gate-visitors").inner_text()) >= 1
            # The page reads in Chinese first, and in English at a tap.
            heading = page.locator("[data-i18n='map']").first
            assert await heading.inner_text() == "四色图"
            await page.locator("#lang").click()
            assert await heading.inner_text() == "Four-colour map"
            assert await page.evaluate("document.documentElement.lang") == "en"
            shot = tmp_path / "dashboard.png"
            await page.screenshot(path=str(shot), full_page=True)
            print(f"dashboard screenshot: {shot}")
        finally:
            await browser.close()

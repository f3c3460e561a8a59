"""A demo district that keeps the gates busy: residents and visitors entering and leaving
compounds, with the odd fever and yellow or red code."""

from __future__ import annotations

import asyncio
import contextlib
import random
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import httpx

from cordon_devenv.demo_district import load_demo_district

COMMUNITIES = ("heping", "xinhua", "dongfeng", "jianshe", "chaoyang", "nanhu")
"""Six communities of the demo district, each with an east and a north gate."""
ADMIN_TOKEN = "dev-admin-token"
"""The gate's default admin token (CORDON_GATE_ADMIN_TOKEN); fine for a laptop only."""
REGISTRY_ADMIN_TOKEN = "cordon-registry-admin-dev"
"""The registry's default bootstrap token (CORDON_REGISTRY_ADMIN_TOKEN); laptop only."""


@dataclass
class DemoDistrict:
    residents: Mapping[str, Sequence[str]] = field(default_factory=dict)
    """Pseudonymous person ids per community (from the registry, when it is loaded)."""
    device_tokens: dict[str, str] = field(default_factory=dict)
    """Checkpoint id -> the demo device's token."""


async def load_residents(registry_url: str) -> dict[str, list[str]]:
    """The demo district's places and people, loaded through the registry (idempotent)."""
    return await load_demo_district(registry_url, REGISTRY_ADMIN_TOKEN)


async def open_gates(gate_url: str, district: DemoDistrict) -> None:
    """Register each community's gates (once) and a device for each (every run)."""
    admin = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
    run = uuid.uuid4().hex[:6]
    async with httpx.AsyncClient(base_url=gate_url, headers=admin, timeout=10) as client:
        for community in COMMUNITIES:
            for side in ("east", "north"):
                checkpoint = f"{community}-{side}-gate"
                response = await client.post(
                    "/v1/checkpoints",
                    json={
                        "checkpoint_id": checkpoint,
                        "community_id": community,
                        "compound_id": f"{community}-compound-1",
                        "name": f"{side.title()} gate",
                    },
                )
                if response.status_code not in (201, 409):  # 409: registered on an earlier run
                    response.raise_for_status()
                device = await client.post(
                    f"/v1/checkpoints/{checkpoint}/devices",
                    json={"device_id": f"{checkpoint}-demo-{run}"},
                )
                device.raise_for_status()
                district.device_tokens[checkpoint] = device.json()["token"]


def next_scan(rng: random.Random, district: DemoDistrict) -> tuple[str, dict[str, Any]]:
    checkpoint = rng.choice(sorted(district.device_tokens))
    community = checkpoint.split("-")[0]
    residents = district.residents.get(community) or ()
    body: dict[str, Any] = {
        "scan_id": uuid.uuid4().hex,
        "checkpoint_id": checkpoint,
        "direction": "in" if rng.random() < 0.55 else "out",
        "scanned_at": datetime.now(UTC).isoformat(),
        "temperature_c": 37.6 if rng.random() < 0.01 else round(rng.uniform(36.0, 37.1), 1),
        "health_code": rng.choices(["green", "yellow", "red"], [0.975, 0.02, 0.005])[0],
    }
    if residents and rng.random() < 0.8:
        body["person_id"] = rng.choice(residents)
    else:
        n = rng.randrange(500)
        body["visitor"] = {
            "document_type": "passport",
            "document_number": f"E{n:08d}",
            "name": f"Visitor {n}",
            "phone": f"1380000{n:04d}",
            "reason": rng.choice(["delivery", "visiting family", "repairs"]),
        }
    return checkpoint, body


async def feed_gate(
    gate_url: str, district: DemoDistrict, *, per_second: float = 10.0, seed: int = 2022
) -> None:
    """Post scans to the gate at about ``per_second`` until cancelled."""
    rng = random.Random(seed)
    async with httpx.AsyncClient(base_url=gate_url, timeout=5) as client:
        while True:
            checkpoint, body = next_scan(rng, district)
            headers = {"Authorization": f"Bearer {district.device_tokens[checkpoint]}"}
            with contextlib.suppress(httpx.HTTPError):  # the gate restarting: carry on
                await client.post("/v1/scans", json=body, headers=headers)
            await asyncio.sleep(rng.expovariate(per_second))

"""A demo district that keeps the gates busy: residents entering and leaving compounds."""

from __future__ import annotations

import asyncio
import contextlib
import random
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime

import httpx

COMMUNITIES = ("heping", "xinhua", "dongfeng", "jianshe", "chaoyang", "nanhu")
"""Six communities of the demo district, each with an east and a north gate."""


@dataclass(frozen=True)
class DemoScan:
    checkpoint_id: str
    community_id: str
    person_id: str
    direction: str


def next_scan(rng: random.Random) -> DemoScan:
    community = rng.choice(COMMUNITIES)
    return DemoScan(
        checkpoint_id=f"{community}-{rng.choice(('east', 'north'))}-gate",
        community_id=community,
        person_id=f"demo-{community}-{rng.randrange(3000):04d}",
        direction="in" if rng.random() < 0.55 else "out",
    )


async def feed_gate(gate_url: str, *, per_second: float = 10.0, seed: int = 2022) -> None:
    """Post scans to the gate at about ``per_second`` until cancelled."""
    rng = random.Random(seed)
    async with httpx.AsyncClient(base_url=gate_url, timeout=5) as client:
        while True:
            scan = next_scan(rng)
            body = {
                "scan_id": uuid.uuid4().hex,
                "checkpoint_id": scan.checkpoint_id,
                "community_id": scan.community_id,
                "person_id": scan.person_id,
                "direction": scan.direction,
                "scanned_at": datetime.now(UTC).isoformat(),
                "temperature_c": round(rng.uniform(36.0, 37.1), 1),
                "health_code": "green",
            }
            with contextlib.suppress(httpx.HTTPError):  # the gate restarting: carry on
                await client.post("/v1/scans", json=body)
            await asyncio.sleep(rng.expovariate(per_second))

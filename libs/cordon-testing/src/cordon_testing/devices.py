"""Checkpoint devices for tests and benchmarks: registering a community's gate through the
office API, and visitors' scans (visitors need no registry, which keeps a test thin)."""

from __future__ import annotations

import zlib
from datetime import datetime
from typing import Any

import httpx


async def register_gate(
    gate_url: str, admin_token: str, community: str, side: str = "east"
) -> tuple[str, str]:
    """Register ``community``'s gate on ``side`` and a device for it, as the office would:
    (checkpoint id, the device's token)."""
    checkpoint = f"{community}-{side}-gate"
    admin = {"Authorization": f"Bearer {admin_token}"}
    async with httpx.AsyncClient(base_url=gate_url, headers=admin, timeout=10) as client:
        body = {"checkpoint_id": checkpoint, "community_id": community,
                "compound_id": f"{community}-1", "name": f"{side.title()} gate"}  # fmt: skip
        (await client.post("/v1/checkpoints", json=body)).raise_for_status()
        device = await client.post(
            f"/v1/checkpoints/{checkpoint}/devices", json={"device_id": f"{checkpoint}-pad"}
        )
        device.raise_for_status()
        token: str = device.json()["token"]
        return checkpoint, token


def visitor_scan(
    scan_id: str, checkpoint_id: str, at: datetime, direction: str = "in"
) -> dict[str, Any]:
    """A visitor's scan that the default policy allows (PersonEntered or PersonExited)."""
    return {
        "scan_id": scan_id,
        "checkpoint_id": checkpoint_id,
        "visitor": {
            "document_type": "passport",
            "document_number": f"E{zlib.crc32(scan_id.encode()) % 10**8:08d}",
            "name": "Visitor",
            "phone": "13800000000",
            "reason": "delivery",
        },
        "direction": direction,
        "scanned_at": at.isoformat(),
        "temperature_c": 36.4,
        "health_code": "green",
    }

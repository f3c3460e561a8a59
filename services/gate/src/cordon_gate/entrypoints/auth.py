"""Who may call the gate: a checkpoint's registered device (its token names the device and
its checkpoint), or an office: the district's (``CORDON_GATE_ADMIN_TOKEN``, or a district
role's staff token) or a community's (a ``community_staff`` token, held to its community).

(No ``from __future__ import annotations`` here: FastAPI must see the dependency types.)
"""

import time
from collections.abc import Awaitable, Callable
from typing import Annotated

from fastapi import Depends, HTTPException, status
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from cordon_core.staff_access import Office, office_caller
from cordon_gate.service.unit import Gate

bearer = HTTPBearer(auto_error=False)
Credentials = Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)]
DEVICE_CACHE_S = 10.0
"""How long a device token is trusted without asking PostgreSQL again."""
KNOWN_DEVICES_MAX = 10_000


def device_auth(gate: Gate) -> Callable[..., Awaitable[tuple[str, str]]]:
    """The dependency that answers (device id, checkpoint id) for a device's token."""
    # Devices send a scan every few seconds with the same token: remember a token's device
    # for a short while instead of asking PostgreSQL on every scan.
    known_devices: dict[str, tuple[float, tuple[str, str]]] = {}

    async def device_checkpoint(credentials: Credentials) -> tuple[str, str]:
        found = None
        if credentials is not None:
            token = credentials.credentials
            cached = known_devices.get(token)
            if cached is not None and cached[0] > time.monotonic():
                return cached[1]
            found = await gate.state.device(gate.runtime.pool, token)
            if found is not None:
                if len(known_devices) > KNOWN_DEVICES_MAX:
                    known_devices.clear()
                known_devices[token] = (time.monotonic() + DEVICE_CACHE_S, found)
        if found is None:
            raise HTTPException(
                status.HTTP_401_UNAUTHORIZED,
                "a registered device token is required",
                headers={"WWW-Authenticate": "Bearer"},
            )
        return found

    return device_checkpoint


def office_auth(gate: Gate) -> Callable[..., Awaitable[Office]]:
    """The dependency that admits an office: the gate's admin token (the district's office),
    or a staff token the registry issued, held to its community (``cordon_core.staff_access``)."""
    return office_caller(
        gate.access, lambda: gate.runtime.pool, "the office's admin token or a staff token"
    )

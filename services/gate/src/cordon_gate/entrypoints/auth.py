"""Who may call the gate: a checkpoint's registered device (its token names the device and
its checkpoint), or the community office (``CORDON_GATE_ADMIN_TOKEN``).

(No ``from __future__ import annotations`` here: FastAPI must see the dependency types.)
"""

import hmac
import time
from collections.abc import Awaitable, Callable
from typing import Annotated

from fastapi import Depends, HTTPException, status
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

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


def admin_auth(gate: Gate) -> Callable[..., str]:
    """The dependency that admits the office's admin token (and names the office)."""
    expected = gate.settings.gate_admin_token.encode()

    def admin(credentials: Credentials) -> str:
        if credentials is None or not hmac.compare_digest(
            credentials.credentials.encode(), expected
        ):
            raise HTTPException(
                status.HTTP_401_UNAUTHORIZED,
                "the office's admin token is required",
                headers={"WWW-Authenticate": "Bearer"},
            )
        return "office"

    return admin

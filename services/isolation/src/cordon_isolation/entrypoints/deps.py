"""What the HTTP routes depend on: the service's parts, which ``bootstrap`` wires and hands to
``create_app``, and who is calling (an office's staff token, held to its community, or a
lab's token). The routes never import ``bootstrap``: wiring runs one way, from it to them."""

from __future__ import annotations

import hmac
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Annotated

from fastapi import Depends, HTTPException, status
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from cordon_core.runtime import ServiceRuntime
from cordon_core.staff_access import Office, StaffAccess, office_caller
from cordon_isolation.adapters.state import IsolationState
from cordon_isolation.domain.windows import OrderWindows
from cordon_isolation.service.contacts import ContactTracing
from cordon_isolation.service.deadlines import DeadlineWorker
from cordon_isolation.service.lab import LabIntake
from cordon_isolation.service.office import EpidemicOffice
from cordon_isolation.service.orders import IsolationDesk
from cordon_isolation.settings import IsolationSettings

bearer = HTTPBearer(auto_error=False)
Credentials = Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)]


@dataclass
class Isolation:
    """The isolation service's parts: its runtime, working state and use cases."""

    settings: IsolationSettings
    runtime: ServiceRuntime
    state: IsolationState
    desk: IsolationDesk
    office: EpidemicOffice
    intake: LabIntake
    deadlines: DeadlineWorker
    tracing: ContactTracing
    access: StaffAccess
    """Who may use the staff routes, and in which community."""
    clock: Callable[[], datetime]

    @property
    def order_windows(self) -> OrderWindows:
        s = self.settings
        return OrderWindows(
            start_ahead=timedelta(days=s.isolation_order_start_ahead_days),
            start_behind=timedelta(days=s.isolation_order_start_behind_days),
            longest=timedelta(days=s.isolation_order_max_days),
        )


def _refused(what: str) -> HTTPException:
    return HTTPException(
        status.HTTP_401_UNAUTHORIZED, f"{what} is required", headers={"WWW-Authenticate": "Bearer"}
    )


def _same(credentials: HTTPAuthorizationCredentials | None, token: str) -> bool:
    return credentials is not None and hmac.compare_digest(
        credentials.credentials.encode(), token.encode()
    )


def staff_caller(iso: Isolation) -> Callable[..., Awaitable[Office]]:
    """The dependency that lets an office in: the service's staff token (the district's
    office), or a staff token the registry issued, held to its community
    (``cordon_core.staff_access``)."""
    return office_caller(iso.access, lambda: iso.runtime.pool, "an office's staff token")


def lab_caller(settings: IsolationSettings) -> Callable[..., str]:
    """The dependency that names the lab whose token was sent."""

    def lab(credentials: Credentials) -> str:
        for name, token in settings.labs.items():
            if _same(credentials, token):
                return name
        raise _refused("a lab's token")

    return lab

"""What the HTTP routes depend on: the service's parts, which ``bootstrap`` wires and hands to
``create_app``, and who is calling (the admin token, or a recipient's in-app inbox token).
The routes never import ``bootstrap``: wiring runs one way, from it to them."""

from __future__ import annotations

import asyncio
import contextlib
import hmac
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, HTTPException, status
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from cordon_core.runtime import ServiceRuntime
from cordon_notification.adapters.deliveries import Deliveries
from cordon_notification.adapters.directory import Directory
from cordon_notification.adapters.http_client import HttpClient
from cordon_notification.service.in_app import InAppInbox, in_app_token
from cordon_notification.service.queueing import MessageQueue
from cordon_notification.service.schedule import Schedule
from cordon_notification.service.sending import DeliveryWorker
from cordon_notification.settings import NotificationSettings

bearer = HTTPBearer(auto_error=False)
Credentials = Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)]


@dataclass
class Notifier:
    """The notification service's parts: its runtime, tables, queue and workers."""

    settings: NotificationSettings
    runtime: ServiceRuntime
    directory: Directory
    deliveries: Deliveries
    queue: MessageQueue
    in_app: InAppInbox
    worker: DeliveryWorker
    schedule: Schedule
    http: HttpClient

    @contextlib.asynccontextmanager
    async def running(self) -> AsyncIterator[Notifier]:
        """The runtime (consumers, relay), the delivery worker and the schedule. On the way
        out the worker stops claiming and its sends under way get ``delivery_drain_s`` to
        finish and be recorded; what it claimed but did not send is given back."""
        async with self.runtime.running():
            # Supervised: restarted after a failure, cancelled when the runtime stops.
            worker = self.runtime.supervise("delivery", self.worker.run)
            self.runtime.supervise("schedule", self.schedule.run)
            try:
                yield self
            finally:
                self.worker.stop()
                await asyncio.wait([worker], timeout=self.settings.delivery_drain_s)
                await self.http.aclose()


def _unauthorized(what: str) -> HTTPException:
    return HTTPException(status.HTTP_401_UNAUTHORIZED, what, headers={"WWW-Authenticate": "Bearer"})


def _same(credentials: HTTPAuthorizationCredentials | None, token: str) -> bool:
    return credentials is not None and hmac.compare_digest(
        credentials.credentials.encode(), token.encode()
    )


def admin_caller(settings: NotificationSettings) -> Callable[..., str]:
    """The dependency that lets the admin token in, and no one else."""

    def admin(credentials: Credentials) -> str:
        if not _same(credentials, settings.notification_admin_token):
            raise _unauthorized("the admin token is required")
        return "admin"

    return admin


def inbox_owner(settings: NotificationSettings) -> Callable[..., str]:
    """The dependency that opens ``recipient_id``'s in-app inbox: to its own token, or to the
    admin token."""

    def owner(recipient_id: str, credentials: Credentials) -> str:
        if _same(credentials, settings.notification_admin_token):
            return recipient_id
        if not _same(credentials, in_app_token(settings.inbox_key, recipient_id)):
            raise _unauthorized(f"an inbox token of {recipient_id} is required")
        return recipient_id

    return owner

"""Delivery routes: what was queued for whom, by which channel, and what became of it.

(No ``from __future__ import annotations``: FastAPI must resolve the local ``Admin`` type.)
"""

import uuid
from collections.abc import Callable
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Query, status

from cordon_core.api_errors import errors
from cordon_notification.entrypoints.deps import Notifier
from cordon_notification.entrypoints.schemas import DeliveryOut


def delivery_routes(notifier: Notifier, admin: Callable[..., str]) -> APIRouter:
    router = APIRouter(tags=["deliveries"])
    Admin = Annotated[str, Depends(admin)]
    runtime = notifier.runtime

    @router.get("/v1/deliveries")
    async def deliveries(
        _: Admin,
        source_id: str | None = None,
        recipient_id: str | None = None,
        channel: str | None = None,
        template: str | None = None,
        status_: Annotated[str | None, Query(alias="status")] = None,
    ) -> list[DeliveryOut]:
        """Deliveries (at most 1,000, oldest first) matching every filter given."""
        where: dict[str, Any] = {
            k: v
            for k, v in (
                ("source_id", source_id),
                ("recipient_id", recipient_id),
                ("channel", channel),
                ("template", template),
                ("status", status_),
            )
            if v is not None
        }
        rows = await notifier.deliveries.find(runtime.pool, **where)
        return [DeliveryOut(**r) for r in rows]

    @router.get("/v1/deliveries/{delivery_id}", responses=errors(404))
    async def delivery(delivery_id: uuid.UUID, _: Admin) -> DeliveryOut:
        rows = await notifier.deliveries.find(runtime.pool, delivery_id=delivery_id)
        if not rows:
            raise HTTPException(status.HTTP_404_NOT_FOUND, f"no delivery {delivery_id}")
        return DeliveryOut(**rows[0])

    return router

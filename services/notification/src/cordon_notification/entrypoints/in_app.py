"""In-app inbox routes (``/v1/inbox``): the tokens that open a recipient's inbox, what they
were told, and marking a message read.

(No ``from __future__ import annotations``: FastAPI must resolve the local ``Admin`` and
``Owner`` types.)
"""

import uuid
from collections.abc import Callable
from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Query, status

from cordon_core.api_errors import errors
from cordon_core.idempotency import SHOWN_ONCE_OPERATION
from cordon_notification.entrypoints.deps import Notifier
from cordon_notification.entrypoints.schemas import (
    InboxMessage,
    InboxTokenOut,
    ReadOut,
    RecipientId,
)
from cordon_notification.service.in_app import in_app_token


def in_app_routes(
    notifier: Notifier, admin: Callable[..., str], owner: Callable[..., str]
) -> APIRouter:
    router = APIRouter(tags=["inbox"])
    Admin = Annotated[str, Depends(admin)]
    Owner = Annotated[str, Depends(owner)]
    settings = notifier.settings

    @router.post("/v1/inbox-tokens/{recipient_id}", openapi_extra=SHOWN_ONCE_OPERATION)
    async def issue_inbox_token(recipient_id: RecipientId, _: Admin) -> InboxTokenOut:
        """The token that opens this recipient's inbox (for the app's backend to hand out).
        Not kept with an Idempotency-Key: a replay of the request gets 409; ask again
        without the key (the token is the same each time)."""
        return InboxTokenOut(
            recipient_id=recipient_id, token=in_app_token(settings.inbox_key, recipient_id)
        )

    @router.get("/v1/inbox/{recipient_id}")
    async def inbox(
        owner: Owner,
        unread_only: bool = False,
        limit: Annotated[int, Query(ge=1, le=500)] = 100,
    ) -> list[InboxMessage]:
        rows = await notifier.in_app.messages(owner, unread_only=unread_only, limit=limit)
        return [InboxMessage(**r) for r in rows]

    @router.post("/v1/inbox/{recipient_id}/{delivery_id}/read", responses=errors(404))
    async def mark_read(owner: Owner, delivery_id: uuid.UUID) -> ReadOut:
        read_at = await notifier.in_app.mark_read(owner, delivery_id)
        if read_at is None:
            raise HTTPException(status.HTTP_404_NOT_FOUND, f"no message {delivery_id}")
        return ReadOut(delivery_id=delivery_id, read_at=read_at)

    return router

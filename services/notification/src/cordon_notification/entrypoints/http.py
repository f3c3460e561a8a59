"""The notification service's HTTP API: staff and office contacts, delivery status, the
in-app inbox.

(No ``from __future__ import annotations`` here: FastAPI must see the dependency types that
``create_app`` defines locally.)
"""

import hmac
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import datetime, time
from typing import Annotated, Any, Literal

from fastapi import Depends, FastAPI, HTTPException, Query, status
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import BaseModel, Field, HttpUrl

from cordon_contracts.asyncapi import install_asyncapi
from cordon_core.http import install_correlation, operations_router
from cordon_core.outage import install_outage_handlers
from cordon_notification.bootstrap import Notifier
from cordon_notification.domain.contacts import Contact
from cordon_notification.domain.delivery import QuietHours
from cordon_notification.service.inbox import inbox_token

bearer = HTTPBearer(auto_error=False)
Credentials = Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)]
EmailAddress = Annotated[str, Field(pattern=r"^[^@\s]+@[^@\s]+$", max_length=254)]
RecipientId = Annotated[str, Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.:-]{0,99}$")]


class QuietHoursIn(BaseModel):
    start: time = Field(description="Local time (CORDON_TIMEZONE), e.g. 22:00.")
    end: time = Field(description="Local time; before start means the window spans midnight.")


class ContactIn(BaseModel):
    language: Literal["zh-CN", "en"] = "zh-CN"
    email: EmailAddress | None = None
    webhook_url: HttpUrl | None = None
    inbox: bool = True
    quiet_hours: QuietHoursIn | None = None


class ContactOut(ContactIn):
    recipient_id: str
    channels: list[str]


class DeliveryOut(BaseModel):
    delivery_id: uuid.UUID
    source_id: str
    source_event_type: str | None
    recipient_id: str
    recipient_kind: str
    channel: str
    template: str
    language: str
    urgent: bool
    subject: str
    body: str
    status: Literal["pending", "sending", "sent", "failed", "held", "folded"]
    attempts: int
    due_at: datetime
    last_error: str | None
    digest_id: uuid.UUID | None
    created_at: datetime
    sent_at: datetime | None
    read_at: datetime | None


class InboxMessage(BaseModel):
    delivery_id: uuid.UUID
    template: str
    urgent: bool
    subject: str
    body: str
    created_at: datetime
    sent_at: datetime | None
    read_at: datetime | None


class InboxTokenOut(BaseModel):
    recipient_id: str
    token: str


class ReadOut(BaseModel):
    delivery_id: uuid.UUID
    read_at: datetime


class RecipientsOut(BaseModel):
    person_id: str
    household_id: str
    building_id: str
    grid_id: str
    community_id: str
    local_staff: list[str]


def _contact_out(c: Contact) -> ContactOut:
    quiet = c.quiet_hours
    return ContactOut(
        recipient_id=c.recipient_id,
        language=c.language,
        email=c.email,
        webhook_url=c.webhook_url,
        inbox=c.inbox,
        quiet_hours=QuietHoursIn(start=quiet.start, end=quiet.end) if quiet else None,
        channels=c.channels(),
    )


def create_app(notifier: Notifier) -> FastAPI:
    runtime, settings = notifier.runtime, notifier.settings

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        async with notifier.running():
            yield

    app = FastAPI(
        title="Cordon notification",
        lifespan=lifespan,
        description="Grid workers, building heads, residents and offices told once, in "
        "their language, by e-mail, webhook, SMS gateway or the in-app inbox.",
    )
    install_correlation(app)
    install_outage_handlers(app, retry_after_s=runtime.settings.outage_retry_after_s)
    app.include_router(operations_router(runtime))
    install_asyncapi(app)

    def unauthorized(what: str) -> HTTPException:
        return HTTPException(
            status.HTTP_401_UNAUTHORIZED, what, headers={"WWW-Authenticate": "Bearer"}
        )

    def is_admin(credentials: HTTPAuthorizationCredentials | None) -> bool:
        return credentials is not None and hmac.compare_digest(
            credentials.credentials.encode(), settings.notification_admin_token.encode()
        )

    def admin(credentials: Credentials) -> str:
        if not is_admin(credentials):
            raise unauthorized("the admin token is required")
        return "admin"

    def inbox_owner(recipient_id: str, credentials: Credentials) -> str:
        if is_admin(credentials):
            return recipient_id
        expected = inbox_token(settings.inbox_key, recipient_id)
        if credentials is None or not hmac.compare_digest(
            credentials.credentials.encode(), expected.encode()
        ):
            raise unauthorized(f"an inbox token of {recipient_id} is required")
        return recipient_id

    Admin = Annotated[str, Depends(admin)]
    Owner = Annotated[str, Depends(inbox_owner)]

    @app.put("/v1/contacts/{recipient_id}", tags=["contacts"])
    async def put_contact(recipient_id: RecipientId, body: ContactIn, _: Admin) -> ContactOut:
        """Register how a member of staff (staff id) or an office (``office-<community>``,
        ``subdistrict-<id>``) is reached. Kept here only, never published."""
        quiet = body.quiet_hours
        contact = Contact(
            recipient_id=recipient_id,
            language=body.language,
            email=str(body.email) if body.email else None,
            webhook_url=str(body.webhook_url) if body.webhook_url else None,
            inbox=body.inbox,
            quiet_hours=QuietHours(quiet.start, quiet.end) if quiet else None,
        )
        await notifier.directory.save_contact(runtime.pool, contact)
        return _contact_out(contact)

    @app.get("/v1/contacts/{recipient_id}", tags=["contacts"])
    async def get_contact(recipient_id: str, _: Admin) -> ContactOut:
        found = await notifier.directory.contacts(runtime.pool, [recipient_id])
        if recipient_id not in found:
            raise HTTPException(status.HTTP_404_NOT_FOUND, f"no contact {recipient_id}")
        return _contact_out(found[recipient_id])

    @app.delete("/v1/contacts/{recipient_id}", status_code=204, tags=["contacts"])
    async def delete_contact(recipient_id: str, _: Admin) -> None:
        if not await notifier.directory.remove_contact(runtime.pool, recipient_id):
            raise HTTPException(status.HTTP_404_NOT_FOUND, f"no contact {recipient_id}")

    @app.get("/v1/people/{person_id}/recipients", tags=["contacts"])
    async def recipients(person_id: str, _: Admin) -> RecipientsOut:
        """Who is told about this person: what the registry's events said, as of now."""
        found = await notifier.directory.residences(runtime.pool, [person_id])
        if person_id not in found:
            raise HTTPException(status.HTTP_404_NOT_FOUND, f"{person_id} is not known here")
        r = found[person_id]
        return RecipientsOut(
            person_id=r.person_id,
            household_id=r.household_id,
            building_id=r.building_id,
            grid_id=r.grid_id,
            community_id=r.community_id,
            local_staff=list(r.local_staff),
        )

    @app.get("/v1/deliveries", tags=["deliveries"])
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
        rows = await notifier.outbox.find(runtime.pool, **where)
        return [DeliveryOut(**r) for r in rows]

    @app.get("/v1/deliveries/{delivery_id}", tags=["deliveries"])
    async def delivery(delivery_id: uuid.UUID, _: Admin) -> DeliveryOut:
        rows = await notifier.outbox.find(runtime.pool, delivery_id=delivery_id)
        if not rows:
            raise HTTPException(status.HTTP_404_NOT_FOUND, f"no delivery {delivery_id}")
        return DeliveryOut(**rows[0])

    @app.post("/v1/inbox-tokens/{recipient_id}", tags=["inbox"])
    async def issue_inbox_token(recipient_id: RecipientId, _: Admin) -> InboxTokenOut:
        """The token that opens this recipient's inbox (for the app's backend to hand out)."""
        return InboxTokenOut(
            recipient_id=recipient_id, token=inbox_token(settings.inbox_key, recipient_id)
        )

    @app.get("/v1/inbox/{recipient_id}", tags=["inbox"])
    async def inbox(
        owner: Owner,
        unread_only: bool = False,
        limit: Annotated[int, Query(ge=1, le=500)] = 100,
    ) -> list[InboxMessage]:
        rows = await notifier.inbox.messages(owner, unread_only=unread_only, limit=limit)
        return [InboxMessage(**r) for r in rows]

    @app.post("/v1/inbox/{recipient_id}/{delivery_id}/read", tags=["inbox"])
    async def mark_read(owner: Owner, delivery_id: uuid.UUID) -> ReadOut:
        read_at = await notifier.inbox.mark_read(owner, delivery_id)
        if read_at is None:
            raise HTTPException(status.HTTP_404_NOT_FOUND, f"no message {delivery_id}")
        return ReadOut(delivery_id=delivery_id, read_at=read_at)

    return app

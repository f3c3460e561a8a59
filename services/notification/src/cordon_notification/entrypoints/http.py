"""The notification service's HTTP API: staff and office contacts, delivery status, the
in-app inbox.

(No ``from __future__ import annotations`` here: FastAPI must see the dependency types that
``create_app`` defines locally.)
"""

import hmac
import re
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import datetime, time
from typing import Annotated, Any, Literal

from fastapi import Depends, FastAPI, HTTPException, Query, status
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import (
    AfterValidator,
    BaseModel,
    Field,
    HttpUrl,
    PlainSerializer,
    PlainValidator,
    StringConstraints,
    WithJsonSchema,
)

from cordon_contracts.asyncapi import install_asyncapi
from cordon_core.api_errors import errors
from cordon_core.http import install_service_http
from cordon_core.idempotency import SHOWN_ONCE_OPERATION, executor
from cordon_core.inputs import Flag, storable_text
from cordon_notification.bootstrap import Notifier
from cordon_notification.domain.contacts import Contact
from cordon_notification.domain.delivery import QuietHours
from cordon_notification.service.inbox import inbox_token

bearer = HTTPBearer(auto_error=False)
Credentials = Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)]
# Constraints before the storable-text check: on an optional field pydantic would otherwise
# check the pattern but leave it out of the schema. `\s` spelt out: Python's and JSON
# Schema's (ECMA) differ on a few control and format characters.
EmailAddress = Annotated[
    str,
    StringConstraints(
        pattern=r"^[^@\s\x1c-\x1f\x85\ufeff]+@[^@\s\x1c-\x1f\x85\ufeff]+$", max_length=254
    ),
    AfterValidator(storable_text),
]
CLOCK_TIME = r"^([01][0-9]|2[0-3]):[0-5][0-9](:[0-5][0-9])?$"


def clock_time(value: object) -> time:
    """A local time of day as HH:MM or HH:MM:SS: no offset (quiet hours are local, in
    CORDON_TIMEZONE) and no fraction of a second."""
    if isinstance(value, time):
        return value.replace(microsecond=0, tzinfo=None)
    if isinstance(value, str) and re.fullmatch(CLOCK_TIME, value):
        return time.fromisoformat(value)
    raise ValueError("a local time as HH:MM or HH:MM:SS, e.g. 22:00")


LocalTime = Annotated[
    time,
    PlainValidator(clock_time),
    PlainSerializer(lambda t: t.isoformat(timespec="seconds"), return_type=str),
    WithJsonSchema({"type": "string", "pattern": CLOCK_TIME, "examples": ["22:00"]}),
]
RecipientId = Annotated[str, Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.:-]{0,99}$")]


class QuietHoursIn(BaseModel):
    start: LocalTime = Field(description="Local time (CORDON_TIMEZONE), e.g. 22:00.")
    end: LocalTime = Field(description="Local time; before start means the window spans midnight.")


class ContactIn(BaseModel):
    language: Literal["zh-CN", "en"] = "zh-CN"
    email: EmailAddress | None = None
    webhook_url: HttpUrl | None = None
    inbox: Flag = True
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
    install_service_http(app, runtime)
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
        await notifier.directory.save_contact(executor(runtime.pool), contact)
        return _contact_out(contact)

    @app.get("/v1/contacts/{recipient_id}", tags=["contacts"], responses=errors(404))
    async def get_contact(recipient_id: str, _: Admin) -> ContactOut:
        found = await notifier.directory.contacts(runtime.pool, [recipient_id])
        if recipient_id not in found:
            raise HTTPException(status.HTTP_404_NOT_FOUND, f"no contact {recipient_id}")
        return _contact_out(found[recipient_id])

    @app.delete(
        "/v1/contacts/{recipient_id}", status_code=204, tags=["contacts"], responses=errors(404)
    )
    async def delete_contact(recipient_id: str, _: Admin) -> None:
        if not await notifier.directory.remove_contact(executor(runtime.pool), recipient_id):
            raise HTTPException(status.HTTP_404_NOT_FOUND, f"no contact {recipient_id}")

    @app.get("/v1/people/{person_id}/recipients", tags=["contacts"], responses=errors(404))
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

    @app.get("/v1/deliveries/{delivery_id}", tags=["deliveries"], responses=errors(404))
    async def delivery(delivery_id: uuid.UUID, _: Admin) -> DeliveryOut:
        rows = await notifier.outbox.find(runtime.pool, delivery_id=delivery_id)
        if not rows:
            raise HTTPException(status.HTTP_404_NOT_FOUND, f"no delivery {delivery_id}")
        return DeliveryOut(**rows[0])

    @app.post("/v1/inbox-tokens/{recipient_id}", tags=["inbox"], openapi_extra=SHOWN_ONCE_OPERATION)
    async def issue_inbox_token(recipient_id: RecipientId, _: Admin) -> InboxTokenOut:
        """The token that opens this recipient's inbox (for the app's backend to hand out).
        Not kept with an Idempotency-Key: a replay of the request gets 409; ask again
        without the key (the token is the same each time)."""
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

    @app.post("/v1/inbox/{recipient_id}/{delivery_id}/read", tags=["inbox"], responses=errors(404))
    async def mark_read(owner: Owner, delivery_id: uuid.UUID) -> ReadOut:
        read_at = await notifier.inbox.mark_read(owner, delivery_id)
        if read_at is None:
            raise HTTPException(status.HTTP_404_NOT_FOUND, f"no message {delivery_id}")
        return ReadOut(delivery_id=delivery_id, read_at=read_at)

    return app

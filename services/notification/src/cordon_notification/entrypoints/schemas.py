"""Request and response bodies of the HTTP API (validated at the edge; 422 names the field)."""

from __future__ import annotations

import re
import uuid
from datetime import datetime, time
from typing import Annotated, Literal

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

from cordon_core.inputs import Flag, storable_text
from cordon_notification.domain.contacts import Contact

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


def contact_out(c: Contact) -> ContactOut:
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

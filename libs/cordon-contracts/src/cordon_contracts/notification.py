"""Events the notification service publishes on ``<prefix>.notification.events``.

One stream per delivery (``delivery-<id>``), keyed by the recipient. A delivery is one
message about one source event to one recipient on one channel. Only ids and template
names travel here: recipients are pseudonymous (a person id, a staff id, an office id);
e-mail addresses, webhook URLs and the rendered messages stay in the service's tables.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Literal

from pydantic import Field

from cordon_events.envelope import DomainEvent, EventRegistry
from cordon_events.privacy import RedactedText

registry = EventRegistry()

Channel = Literal["email", "webhook", "sms", "inbox"]
"""e-mail (SMTP), a chat bot or gateway webhook, an SMS gateway (pseudonymous id only), the
in-app inbox."""
RecipientKind = Literal["staff", "resident", "office"]
Urgency = Literal["urgent", "normal"]

RECIPIENT = "Pseudonymous recipient id: a person id, a staff id or an office id."


class _Delivery(DomainEvent):
    delivery_id: uuid.UUID = Field(
        description="Derived from (source event id, recipient, channel): one per triple."
    )
    recipient_id: str = Field(description=RECIPIENT)
    channel: Channel


@registry.register
class NotificationQueued(_Delivery):
    """A message about a source event was rendered and queued for one recipient and channel."""

    event_type = "NotificationQueued"
    recipient_kind: RecipientKind
    source_event_id: uuid.UUID | None = Field(
        description="The event it tells about; None for digests and scheduled messages."
    )
    source_event_type: str | None = None
    template: str = Field(description="Template name, e.g. fever_detected; not the text.")
    language: str
    urgency: Urgency
    due_at: datetime = Field(description="Not sent before this (quiet hours).")
    held_for_digest: bool = Field(
        default=False, description="Held back by the recipient's rate limit, to go in a digest."
    )
    queued_at: datetime


@registry.register
class NotificationSent(_Delivery):
    """The channel accepted the message (for the inbox: it is in the recipient's inbox)."""

    event_type = "NotificationSent"
    attempts: int = Field(ge=1)
    sent_at: datetime
    covers: list[uuid.UUID] = Field(
        default_factory=list, description="For a digest: the held deliveries it folds in."
    )


@registry.register
class NotificationFailed(_Delivery):
    """The channel refused the message, or every attempt failed; nothing more is tried."""

    event_type = "NotificationFailed"
    attempts: int = Field(ge=1)
    reason: RedactedText = Field(description="What the channel answered (status or error type).")
    failed_at: datetime


@registry.register
class NotificationRead(_Delivery):
    """The recipient opened the message in the in-app inbox."""

    event_type = "NotificationRead"
    read_at: datetime

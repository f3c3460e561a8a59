"""Turning "tell this recipient about that" into deliveries: one per channel, rendered in
the recipient's language, due after their quiet hours unless urgent, held for a digest
beyond their rate limit, queued in the deliveries table with its NotificationQueued event."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, tzinfo
from typing import Any

import asyncpg

from cordon_contracts.notification import NotificationQueued
from cordon_core.envelope import Envelope, EventMetadata, PendingEvent
from cordon_core.store import PostgresEventStore, StreamAppend
from cordon_notification.adapters.deliveries import Deliveries
from cordon_notification.adapters.templates import Templates
from cordon_notification.domain.contacts import Recipient
from cordon_notification.domain.delivery import (
    PUSH_CHANNELS,
    Delivery,
    RateLimit,
    delivery_id,
    due_at,
    event_id,
)


@dataclass(frozen=True)
class Tell:
    """Tell ``recipient`` about ``source_id`` with ``template``."""

    source_id: str
    source_event_type: str | None
    recipient: Recipient
    template: str
    urgent: bool
    community_id: str | None
    facts: dict[str, Any] = field(default_factory=dict)
    cause: Envelope | None = None


def stream_of(delivery: uuid.UUID) -> str:
    return f"delivery-{delivery}"


class MessageQueue:
    def __init__(
        self,
        *,
        store: PostgresEventStore,
        deliveries: Deliveries,
        templates: Templates,
        zone: tzinfo,
        rate_limit: RateLimit,
        district: str,
        sms_gateway: str | None,
        clock: Callable[[], datetime],
    ) -> None:
        self.store, self.deliveries, self.templates = store, deliveries, templates
        self.zone, self.rate_limit, self.district = zone, rate_limit, district
        self.sms_gateway, self.clock = sms_gateway, clock

    def deliveries_for(self, tell: Tell, now: datetime) -> list[Delivery]:
        contact = tell.recipient.contact
        language = self.templates.language(contact.language)
        rendered = self.templates.render(tell.template, language, tell.facts)
        addresses: dict[str, str | None] = {
            "email": contact.email, "webhook": contact.webhook_url, "inbox": None,
        }  # fmt: skip
        channels = contact.channels()
        if tell.recipient.kind == "resident" and self.sms_gateway:
            channels.append("sms")
            addresses["sms"] = self.sms_gateway
        return [
            Delivery(
                delivery_id=delivery_id(tell.source_id, contact.recipient_id, channel),
                source_id=tell.source_id,
                source_event_type=tell.source_event_type,
                recipient_id=contact.recipient_id,
                recipient_kind=tell.recipient.kind,
                channel=channel,
                address=addresses[channel],
                template=tell.template,
                language=language,
                urgent=tell.urgent,
                subject=rendered.subject,
                body=rendered.body,
                community_id=tell.community_id,
                due_at=due_at(now, urgent=tell.urgent, quiet=contact.quiet_hours, zone=self.zone),
                created_at=now,
            )
            for channel in channels
        ]

    async def queue(
        self, conn: asyncpg.Connection, tells: Sequence[Tell], *, limited: bool = True
    ) -> list[Delivery]:
        """Queue what is not queued yet; returns the deliveries queued by this call."""
        now = self.clock()
        causes: dict[uuid.UUID, Envelope | None] = {}
        deliveries: list[Delivery] = []
        for tell in tells:
            for d in self.deliveries_for(tell, now):
                causes[d.delivery_id] = tell.cause
                deliveries.append(d)
        if limited:
            deliveries = await self._limit(conn, deliveries, now)
        fresh = await self.deliveries.add(conn, deliveries)
        queued = [d for d in deliveries if d.delivery_id in fresh]
        await self.store.append_many(
            [self._queued(d, causes[d.delivery_id], now) for d in queued], conn=conn
        )
        return queued

    async def _limit(
        self, conn: asyncpg.Connection, deliveries: list[Delivery], now: datetime
    ) -> list[Delivery]:
        pushed = [d for d in deliveries if d.channel in PUSH_CHANNELS and not d.urgent]
        if not pushed:
            return deliveries
        recent = await self.deliveries.recent_counts(
            conn, [d.recipient_id for d in pushed], now - self.rate_limit.window
        )
        verdicts = self.rate_limit.held(
            recent, [(d.recipient_id, d.channel, d.urgent) for d in pushed]
        )
        held = {d.delivery_id for d, h in zip(pushed, verdicts, strict=True) if h}
        return [
            Delivery(**{**d.__dict__, "held": True}) if d.delivery_id in held else d
            for d in deliveries
        ]

    def _queued(self, d: Delivery, cause: Envelope | None, now: datetime) -> StreamAppend:
        payload = NotificationQueued(
            delivery_id=d.delivery_id,
            recipient_id=d.recipient_id,
            channel=d.channel,
            recipient_kind=d.recipient_kind,
            source_event_id=cause.event_id if cause else None,
            source_event_type=d.source_event_type,
            template=d.template,
            language=d.language,
            urgency="urgent" if d.urgent else "normal",
            due_at=d.due_at,
            held_for_digest=d.held,
            queued_at=now,
        )
        return StreamAppend(
            stream_of(d.delivery_id),
            [PendingEvent(payload, event_id=event_id(d.delivery_id, "queued"), occurred_at=now)],
            expected_version=None,
            metadata=self.metadata(cause, d.community_id),
            partition_key=d.recipient_id,
        )

    def metadata(self, cause: Envelope | None, community: str | None) -> EventMetadata:
        if cause is None:
            return EventMetadata.new(
                actor="notification", district=self.district, community=community
            )
        return EventMetadata(
            correlation_id=cause.correlation_id,
            causation_id=cause.event_id,
            actor="notification",
            district=self.district,
            community=community,
        )

"""Builds the notification service from settings: runtime, channels, queue, workers, HTTP."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

from cordon_contracts import gate, isolation, lab, notification, registry
from cordon_core.envelope import EventRegistry
from cordon_core.migrations import migrations_from_package
from cordon_core.runtime import ServiceRuntime, Subscription
from cordon_notification.adapters.channels import (
    Channel,
    EmailChannel,
    InboxChannel,
    SmsGatewayChannel,
    WebhookChannel,
)
from cordon_notification.adapters.directory import Directory
from cordon_notification.adapters.http_client import HttpClient
from cordon_notification.adapters.outbox import Outbox
from cordon_notification.adapters.templates import Templates
from cordon_notification.domain.delivery import RateLimit
from cordon_notification.service.dispatch import EventDispatcher
from cordon_notification.service.inbox import Inbox
from cordon_notification.service.queueing import MessageQueue
from cordon_notification.service.schedule import Schedule
from cordon_notification.service.sending import DeliveryWorker, SendingPolicy
from cordon_notification.settings import NotificationSettings


@dataclass
class Notifier:
    settings: NotificationSettings
    runtime: ServiceRuntime
    directory: Directory
    outbox: Outbox
    queue: MessageQueue
    inbox: Inbox
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


def _time(text: str) -> time:
    return time.fromisoformat(text)


def build(
    settings: NotificationSettings | None = None,
    *,
    clock: Callable[[], datetime] | None = None,
) -> Notifier:
    settings = settings or NotificationSettings()
    now = clock or (lambda: datetime.now(UTC))
    zone = ZoneInfo(settings.timezone)
    events = EventRegistry()
    for contracts in (notification.registry, gate.registry, registry.registry):
        events.include(contracts)
    events.include(isolation.registry)
    events.include(lab.registry)
    runtime = ServiceRuntime(
        service="notification",
        settings=settings,
        registry=events,
        migrations=migrations_from_package("notification", "cordon_notification"),
    )
    directory, outbox = Directory(runtime.schema), Outbox(runtime.schema)
    queue = MessageQueue(
        store=runtime.store,
        outbox=outbox,
        templates=Templates(zone, settings.default_language),
        zone=zone,
        rate_limit=RateLimit(
            settings.rate_limit_count, timedelta(seconds=settings.rate_limit_window_s)
        ),
        district=settings.district,
        sms_gateway=settings.resident_sms_webhook_url,
        clock=now,
    )
    http = HttpClient(
        connections=settings.delivery_lane_concurrency,
        timeout=settings.webhook_timeout_s,
        proxy=settings.webhook_proxy,
    )
    channels: dict[str, Channel] = {
        "email": EmailChannel(
            host=settings.smtp_host,
            port=settings.smtp_port,
            sender=settings.smtp_from,
            timeout=settings.smtp_timeout_s,
            username=settings.smtp_username,
            password=settings.smtp_password,
            starttls=settings.smtp_starttls,
        ),
        "webhook": WebhookChannel(http),
        "sms": SmsGatewayChannel(http),
        "inbox": InboxChannel(),
    }
    pool = lambda: runtime.pool  # noqa: E731 - the pool exists only once the runtime started
    worker = DeliveryWorker(
        pool=pool,
        store=runtime.store,
        outbox=outbox,
        queue=queue,
        channels=channels,
        policy=SendingPolicy(
            batch_size=settings.delivery_batch_size,
            concurrency=settings.delivery_concurrency,
            lane_concurrency=settings.delivery_lane_concurrency,
            lane_backlog=settings.delivery_lane_backlog,
            lease=timedelta(seconds=settings.delivery_lease_s),
            max_attempts=settings.delivery_max_attempts,
            backoff_s=settings.delivery_backoff_s,
            backoff_max_s=settings.delivery_backoff_max_s,
            poll_interval_s=settings.delivery_poll_interval_ms / 1000,
        ),
        clock=now,
    )
    schedule = Schedule(
        pool=pool,
        schema=runtime.schema,
        directory=directory,
        queue=queue,
        zone=zone,
        window=timedelta(seconds=settings.rate_limit_window_s),
        report_at=_time(settings.daily_report_time),
        reminder_at=_time(settings.check_in_reminder_time),
        language=settings.default_language,
        interval_s=min(settings.schedule_interval_s, settings.rate_limit_window_s / 4),
        clock=now,
    )
    dispatcher = EventDispatcher(
        directory, queue, schema=runtime.schema, language=settings.default_language
    )
    runtime.subscribe(
        Subscription(
            name="notification-dispatch",
            topics=[runtime.topics.events(s) for s in ("registry", "gate", "isolation")],
            handler=dispatcher,
            event_types=dispatcher.event_types,
        )
    )
    inbox = Inbox(pool=pool, schema=runtime.schema, store=runtime.store, queue=queue, clock=now)
    return Notifier(
        settings=settings,
        runtime=runtime,
        directory=directory,
        outbox=outbox,
        queue=queue,
        inbox=inbox,
        worker=worker,
        schedule=schedule,
        http=http,
    )

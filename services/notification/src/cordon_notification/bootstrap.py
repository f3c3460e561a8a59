"""Builds the notification service from settings: runtime, channels, queue, workers. The
only module that knows every part; the entrypoints are handed what it built."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

from cordon_contracts import gate, isolation, lab, notification, registry
from cordon_core.envelope import EventRegistry, utc_now
from cordon_core.migrations import migrations_from_package
from cordon_core.runtime import ServiceRuntime, Subscription
from cordon_notification.adapters.channels import (
    Channel,
    EmailChannel,
    InAppChannel,
    SmsGatewayChannel,
    WebhookChannel,
)
from cordon_notification.adapters.deliveries import Deliveries
from cordon_notification.adapters.directory import Directory
from cordon_notification.adapters.http_client import HttpClient
from cordon_notification.adapters.templates import Templates
from cordon_notification.domain.delivery import RateLimit
from cordon_notification.entrypoints.deps import Notifier
from cordon_notification.service.dispatch import EventDispatcher
from cordon_notification.service.in_app import InAppInbox
from cordon_notification.service.queueing import MessageQueue
from cordon_notification.service.schedule import Schedule
from cordon_notification.service.sending import DeliveryWorker, SendingPolicy
from cordon_notification.settings import NotificationSettings


def _time(text: str) -> time:
    return time.fromisoformat(text)


def build(
    settings: NotificationSettings | None = None,
    *,
    clock: Callable[[], datetime] | None = None,
) -> Notifier:
    settings = settings or NotificationSettings()
    now = clock or utc_now
    zone = ZoneInfo(settings.timezone)
    events = EventRegistry()  # each contracts module's ``registry``: its event types
    for contracts in (notification, gate, registry, isolation, lab):
        events.include(contracts.registry)
    runtime = ServiceRuntime(
        service="notification",
        settings=settings,
        registry=events,
        migrations=migrations_from_package("notification", "cordon_notification"),
    )
    directory, deliveries = Directory(runtime.schema), Deliveries(runtime.schema)
    queue = MessageQueue(
        store=runtime.store,
        deliveries=deliveries,
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
        "inbox": InAppChannel(),
    }
    pool = lambda: runtime.pool  # noqa: E731 - the pool exists only once the runtime started
    worker = DeliveryWorker(
        pool=pool,
        store=runtime.store,
        deliveries=deliveries,
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
    in_app = InAppInbox(
        pool=pool, schema=runtime.schema, store=runtime.store, queue=queue, clock=now
    )
    return Notifier(
        settings=settings,
        runtime=runtime,
        directory=directory,
        deliveries=deliveries,
        queue=queue,
        in_app=in_app,
        worker=worker,
        schedule=schedule,
        http=http,
    )

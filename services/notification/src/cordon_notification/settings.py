"""The notification service's settings: the shared CORDON_* ones plus its own."""

from __future__ import annotations

from pydantic import Field

from cordon_core.settings import ServiceSettings


class NotificationSettings(ServiceSettings):
    notification_admin_token: str = Field(
        default="dev-notification-admin-token",
        description="Bearer token of the admin API (contacts, deliveries, inbox tokens).",
    )
    inbox_key: str = Field(
        default="dev-inbox-key", description="Key of the per-recipient inbox tokens (HMAC)."
    )
    timezone: str = Field(
        default="Asia/Shanghai", description="Local time of quiet hours and scheduled messages."
    )
    default_language: str = Field(default="zh-CN", pattern=r"^(zh-CN|en)$")

    smtp_host: str = "127.0.0.1"
    smtp_port: int = 25
    smtp_username: str | None = None
    smtp_password: str | None = None
    smtp_starttls: bool = False
    smtp_from: str = "cordon@localhost"
    smtp_timeout_s: float = Field(default=10.0, gt=0)
    webhook_timeout_s: float = Field(default=10.0, gt=0)
    webhook_proxy: str | None = Field(
        default=None,
        pattern=r"^https?://",
        description="Outbound HTTP proxy for webhooks and the SMS gateway, e.g. http://proxy:3128.",
    )
    resident_sms_webhook_url: str | None = Field(
        default=None,
        description="SMS gateway for residents; it receives only the person id and template.",
    )

    delivery_batch_size: int = Field(
        default=200, ge=1, description="Deliveries per claim and outcomes per record, at most."
    )
    delivery_concurrency: int = Field(
        default=1000, ge=1, description="Deliveries claimed and not yet recorded, per process."
    )
    delivery_lane_concurrency: int = Field(
        default=8,
        ge=1,
        description="Sends at once per lane: per HTTP origin (webhook, SMS), e-mail, inbox.",
    )
    delivery_lane_backlog: int = Field(
        default=64, ge=1, description="Deliveries claimed (waiting or sending) per lane."
    )
    delivery_poll_interval_ms: int = Field(default=50, ge=1)
    delivery_lease_s: float = Field(
        default=60.0,
        gt=0,
        description="A claim not recorded by then is claimed again; one that waited half of"
        " it for its lane is given back unsent.",
    )
    delivery_drain_s: float = Field(
        default=15.0, ge=0, description="On shutdown, how long sends under way may finish."
    )
    delivery_max_attempts: int = Field(default=5, ge=1)
    delivery_backoff_s: float = Field(default=2.0, gt=0)
    delivery_backoff_max_s: float = Field(default=600.0, gt=0)

    rate_limit_count: int = Field(
        default=10, ge=1, description="Non-urgent messages per recipient and channel per window."
    )
    rate_limit_window_s: float = Field(
        default=600.0, gt=0, description="Beyond the count, messages are folded into a digest."
    )
    daily_report_time: str = Field(
        default="20:00", pattern=r"^\d\d:\d\d$", description="Local time of the offices' report."
    )
    check_in_reminder_time: str = Field(
        default="08:00", pattern=r"^\d\d:\d\d$", description="Local time of residents' reminder."
    )
    schedule_interval_s: float = Field(default=30.0, gt=0)

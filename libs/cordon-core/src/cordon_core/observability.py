"""Structured logging and the Prometheus metrics every Cordon service exposes."""

from __future__ import annotations

import logging
import sys

import structlog
from prometheus_client import Counter, Gauge, Histogram

EVENTS_APPENDED = Counter(
    "cordon_events_appended_total", "Events appended to an event store", ["schema", "event_type"]
)
RELAY_PUBLISHED = Counter(
    "cordon_relay_published_total", "Events the outbox relay published to Kafka", ["relay"]
)
RELAY_POSITION = Gauge(
    "cordon_relay_global_position",
    "Global position of the last event the relay published",
    ["relay"],
)
RELAY_BATCH_SECONDS = Histogram(
    "cordon_relay_batch_seconds",
    "Time to publish one relay batch and record its position",
    ["relay"],
)
RELAY_BACKLOG_EVENTS = Gauge(
    "cordon_relay_backlog_events",
    "Committed events the relay has not published yet (store head minus published position)",
    ["relay"],
)
RELAY_BACKLOG_AGE = Gauge(
    "cordon_relay_backlog_age_seconds",
    "Age of the oldest committed event the relay has not published yet (0: none)",
    ["relay"],
)
RELAY_LAST_PUBLISH_AGE = Gauge(
    "cordon_relay_last_publish_age_seconds",
    "Seconds since the relay last published a batch or found nothing left to publish",
    ["relay"],
)
CONSUMER_LAG = Gauge(
    "cordon_consumer_lag",
    "Records not yet consumed: the partition's end offset minus the group's committed offset",
    ["group", "topic", "partition"],
)
CONSUMER_EVENTS = Counter(
    "cordon_consumer_events_total",
    "Events seen by a consumer, by outcome",
    ["group", "outcome"],
)
CONSUMER_BATCH_SECONDS = Histogram(
    "cordon_consumer_batch_seconds", "Time to apply one consumed batch", ["group"]
)


def configure_logging(*, level: str = "INFO", json_logs: bool = True) -> None:
    """Route stdlib and structlog output through one JSON (or console) renderer."""
    shared: list[structlog.types.Processor] = [
        structlog.contextvars.merge_contextvars,
        structlog.processors.add_log_level,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
    ]
    renderer: structlog.types.Processor = (
        structlog.processors.JSONRenderer() if json_logs else structlog.dev.ConsoleRenderer()
    )
    structlog.configure(
        processors=[
            *shared,
            structlog.processors.StackInfoRenderer(),
            structlog.processors.format_exc_info,
            renderer,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(logging.getLevelName(level.upper())),
        logger_factory=structlog.PrintLoggerFactory(sys.stdout),
        cache_logger_on_first_use=True,
    )
    logging.basicConfig(level=level.upper(), stream=sys.stdout, format="%(message)s", force=True)
    # aiokafka is chatty at INFO about every group join; keep its warnings.
    logging.getLogger("aiokafka").setLevel(logging.WARNING)


IDEMPOTENT_REPLAYS = Counter(
    "cordon_idempotent_replays_total",
    "Write requests answered from their idempotency key, without running again",
    ["schema", "method"],
)

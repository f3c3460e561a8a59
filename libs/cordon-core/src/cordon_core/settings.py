"""Settings every service reads from ``CORDON_*`` environment variables, with laptop defaults."""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class ServiceSettings(BaseSettings):
    """Infrastructure and runtime settings shared by all services.

    Each service runs as its own process, so per-service values (its HTTP port, its
    schema) are set per process: ``CORDON_HTTP_PORT=8101 python -m cordon_gate``.
    """

    model_config = SettingsConfigDict(env_prefix="CORDON_", extra="ignore")

    database_url: str = "postgresql://postgres@127.0.0.1:15432/postgres"
    database_pool_size: int = Field(default=10, ge=1)
    statement_timeout_s: float = Field(
        default=0.0,
        ge=0,
        description="PostgreSQL cancels a statement of the service's pool running longer (a"
        " 503 to the caller); 0: no limit. A query whose caller went away otherwise runs on"
        " to its end.",
    )
    kafka_bootstrap: str = Field(
        default="127.0.0.1:19092",
        description="host:port of one broker, or of several separated by commas (a cluster).",
    )
    kafka_idempotence: bool = Field(
        default=True, description="Off only for brokers that refuse it (the Tansu fallback)."
    )
    topic_prefix: str = Field(default="cordon", pattern=r"^[a-z][a-z0-9-]*$")
    topic_partitions: int = Field(default=6, ge=1)
    topic_replication: int = Field(default=1, ge=1)
    consumer_group_prefix: str = Field(
        default="",
        pattern=r"^[a-z0-9._-]*$",
        description="Put before every consumer group id: a group id is global in a Kafka"
        " cluster, so deployments sharing one cluster under different topic prefixes (a"
        " district each) need their own groups, e.g. 'district-03.'. Empty: the catalogue's"
        " names (deploy/kafka/topics.yaml).",
    )
    district: str = "demo-district"

    http_host: str = "127.0.0.1"
    http_port: int = 8000
    max_body_bytes: int = Field(
        default=256 * 1024,
        ge=1024,
        description="Largest request body an endpoint takes (413 past it), unless the service"
        " sets more for it: the largest ordinary body (a screening visit of a big household)"
        " is under 20 KiB, so 256 KiB leaves room and stops a flood early.",
    )

    log_level: str = "INFO"
    log_json: bool = True

    relay_batch_size: int = Field(default=1000, ge=1)
    relay_save_every: int = Field(
        default=100,
        ge=1,
        description="Events per position save within a relay batch: what a crash of the"
        " process can publish twice.",
    )
    relay_poll_interval_ms: int = Field(default=20, ge=1)

    consumer_batch_size: int = Field(default=500, ge=1)
    consumer_max_attempts: int = Field(default=5, ge=1)
    consumer_retry_backoff_ms: int = Field(default=100, ge=1)
    consumer_retry_backoff_max_ms: int = Field(default=5000, ge=1)
    consumer_session_timeout_ms: int = Field(default=10000, ge=1000)
    lag_report_interval_s: float = Field(default=5.0, gt=0)

    kafka_request_timeout_ms: int = Field(
        default=120_000,
        ge=1000,
        description="How long a produce may wait for the broker: long enough to ride out a"
        " paused or restarting broker instead of failing the batch.",
    )
    readiness_timeout_s: float = Field(
        default=1.5, gt=0, description="How long /health/ready waits for each dependency."
    )
    outage_retry_after_s: int = Field(
        default=2, ge=1, description="Retry-After of the 503 answered while a dependency is down."
    )
    fatal_exit_grace_s: float = Field(
        default=2.0,
        ge=0,
        description="Between a background task giving up for good and the process exiting.",
    )


def server_settings(settings: ServiceSettings) -> dict[str, str]:
    """PostgreSQL session settings for the service's pool."""
    if settings.statement_timeout_s <= 0:
        return {}
    return {"statement_timeout": str(max(1, round(settings.statement_timeout_s * 1000)))}

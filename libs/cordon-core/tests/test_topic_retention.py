"""Topics a service creates on a bare broker keep the retention their kind needs."""

from __future__ import annotations

from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.admin.config_resource import ConfigResource, ConfigResourceType

from cordon_core.kafka import ensure_topics
from cordon_core.settings import ServiceSettings
from cordon_testing import wait_until


async def retention_ms(admin: AIOKafkaAdminClient, topic: str) -> str:
    """The topic's retention, once the new topic's configs are visible (they propagate)."""

    async def probe() -> str | None:
        [response] = await admin.describe_configs([ConfigResource(ConfigResourceType.TOPIC, topic)])
        [resource] = response.to_object()["resources"]
        entries = {e["config_names"]: e["config_value"] for e in resource["config_entries"]}
        return entries.get("retention.ms")

    return str(await wait_until(probe, what=f"{topic}'s configs"))


async def test_event_topics_are_kept_forever_and_dead_letters_for_thirty_days(
    settings: ServiceSettings,
) -> None:
    events = f"{settings.topic_prefix}.gate.events"
    dead = f"{settings.topic_prefix}.dlq.gate-scan-feed"
    scans = f"{settings.topic_prefix}.gate.scans"

    await ensure_topics(settings, [events, dead, scans])

    admin = AIOKafkaAdminClient(bootstrap_servers=settings.kafka_bootstrap)
    await admin.start()
    try:
        assert await retention_ms(admin, events) == "-1"
        assert await retention_ms(admin, dead) == str(30 * 24 * 3600 * 1000)
        assert await retention_ms(admin, scans) == str(48 * 3600 * 1000)
    finally:
        await admin.close()

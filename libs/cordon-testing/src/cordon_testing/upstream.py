"""Standing in for another service in a test: its contract events, published on its topic
by its own relay, exactly as the real service would publish them."""

from __future__ import annotations

from cordon_core.envelope import DomainEvent, EventMetadata, PendingEvent
from cordon_core.runtime import ServiceRuntime


class Upstream:
    def __init__(self, runtime: ServiceRuntime) -> None:
        self.runtime = runtime

    async def publish(
        self, stream: str, *payloads: DomainEvent, community: str | None = None
    ) -> None:
        await self.runtime.store.append(
            stream,
            [PendingEvent(p) for p in payloads],
            expected_version=None,
            metadata=EventMetadata.new(actor="test", district="d", community=community),
        )

"""Use cases of the district's epidemic office: the isolation policy, test campaigns and
collected samples. Each appends its events and updates the working tables in one
transaction."""

from __future__ import annotations

import uuid
from dataclasses import replace
from datetime import datetime

import asyncpg

from cordon_contracts.isolation import IsolationPolicyPublished
from cordon_contracts.lab import SampleCollected, TestCampaignOpened
from cordon_core.envelope import EventMetadata, PendingEvent
from cordon_core.store import PostgresEventStore
from cordon_isolation.adapters.state import IsolationState
from cordon_isolation.domain.errors import Conflict
from cordon_isolation.domain.policy import IsolationPolicy
from cordon_isolation.domain.results import SampleOnRecord
from cordon_isolation.service.lab import sample_stream


class EpidemicOffice:
    def __init__(self, store: PostgresEventStore, state: IsolationState, *, district: str) -> None:
        self.store = store
        self.state = state
        self.district = district

    def _meta(self, actor: str, community: str | None, cid: uuid.UUID | None) -> EventMetadata:
        return EventMetadata.new(
            actor=actor, district=self.district, community=community, correlation_id=cid
        )

    async def publish_policy(
        self,
        conn: asyncpg.Connection,
        policy: IsolationPolicy,
        *,
        actor: str,
        correlation_id: uuid.UUID | None = None,
    ) -> IsolationPolicy:
        """Publish ``policy`` as the district's next version (the version is assigned);
        the policy in force sent again is answered as it is, and records nothing."""
        current = await self.state.policy(conn, self.district)
        if replace(policy, district=self.district, version=current.version) == current:
            return current
        published = replace(policy, district=self.district, version=current.version + 1)
        event: IsolationPolicyPublished = published.to_event()
        await self.store.append(
            f"isolation-policy:{self.district}",
            [PendingEvent(event)],
            expected_version=current.version,
            metadata=self._meta(actor, None, correlation_id),
            partition_key=self.district,
            conn=conn,
        )
        await self.state.save_policy(conn, published)
        return published

    async def open_campaign(
        self,
        conn: asyncpg.Connection,
        campaign: TestCampaignOpened,
        *,
        actor: str,
        correlation_id: uuid.UUID | None = None,
    ) -> None:
        if await self.state.campaign(conn, campaign.campaign_id) is not None:
            raise Conflict(f"campaign {campaign.campaign_id!r} already exists")
        await self.store.append(
            f"campaign:{campaign.campaign_id}",
            [PendingEvent(campaign)],
            expected_version=0,
            metadata=self._meta(actor, campaign.community_id, correlation_id),
            conn=conn,
        )
        await self.state.save_campaign(conn, campaign.model_dump())

    async def collect_sample(
        self,
        conn: asyncpg.Connection,
        sample: SampleCollected,
        *,
        actor: str,
        at: datetime,
        correlation_id: uuid.UUID | None = None,
    ) -> bool:
        """Record a swab; False if the very same sample was recorded already."""
        known = (await self.state.samples(conn, [sample.sample_id])).get(sample.sample_id)
        if known is not None:
            if known.person_id != sample.person_id:
                raise Conflict(f"sample {sample.sample_id!r} is recorded for another person")
            return False
        community = None
        if sample.campaign_id is not None:
            campaign = await self.state.campaign(conn, sample.campaign_id)
            if campaign is None:
                raise Conflict(f"no campaign {sample.campaign_id!r}")
            community = campaign["community_id"]
        await self.store.append(
            sample_stream(sample.sample_id),
            [PendingEvent(sample, occurred_at=at)],
            expected_version=0,
            metadata=self._meta(actor, community, correlation_id),
            partition_key=sample.person_id,
            conn=conn,
        )
        record = SampleOnRecord(sample.sample_id, sample.person_id, sample.collected_at, None, 1)
        await self.state.save_collected(conn, record, sample.campaign_id, sample.sampling_point_id)
        return True

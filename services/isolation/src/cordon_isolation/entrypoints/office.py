"""Office routes: the district's isolation policy, test campaigns and collected samples.

(No ``from __future__ import annotations``: FastAPI must resolve the local ``Staff`` type.)
"""

from collections.abc import Awaitable, Callable
from dataclasses import asdict
from datetime import datetime
from typing import Annotated, Any

import asyncpg
from fastapi import APIRouter, Depends, Request
from fastapi.exceptions import RequestValidationError

from cordon_contracts.lab import SampleCollected, TestCampaignOpened
from cordon_core.http import correlation_id
from cordon_core.inputs import Text
from cordon_core.staff_access import Office
from cordon_isolation.domain.policy import IsolationPolicy, ReleaseRule
from cordon_isolation.entrypoints.deps import Isolation
from cordon_isolation.entrypoints.schemas import CampaignIn, PolicyIn, SampleIn
from cordon_isolation.service.unit import in_transaction


def office_routes(
    iso: Isolation, staff: Callable[..., Awaitable[Office]], now: Callable[[], datetime]
) -> APIRouter:
    router = APIRouter(tags=["office"])
    Staff = Annotated[Office, Depends(staff)]
    office = iso.office

    def pool() -> asyncpg.Pool:
        return iso.runtime.pool

    @router.get("/v1/policy")
    async def current_policy(caller: Staff) -> dict[str, Any]:
        """The district's isolation policy in force (version 0: the defaults)."""
        return asdict(await iso.state.policy(pool(), office.district))

    @router.put("/v1/policy")
    async def publish_policy(body: PolicyIn, caller: Staff, request: Request) -> dict[str, Any]:
        """Publish the district's next policy version; every later decision names it. The
        district's office only: a community's staff are refused (403)."""
        caller.require(None, "body")
        fields = body.model_dump(exclude={"release"})
        fields["travel_risk_levels"] = tuple(fields["travel_risk_levels"])
        fields["contact_ranking"] = tuple(dict.fromkeys(fields["contact_ranking"]))
        policy = IsolationPolicy(office.district, **fields)
        overrides = {k: ReleaseRule(**v.model_dump()) for k, v in (body.release or {}).items()}
        policy = IsolationPolicy(
            office.district, **{**fields, "release": {**policy.release, **overrides}}
        )

        async def work(conn: asyncpg.Connection) -> IsolationPolicy:
            return await office.publish_policy(
                conn, policy, actor=caller.actor, correlation_id=correlation_id(request)
            )

        return asdict(await in_transaction(pool(), work))

    @router.get("/v1/campaigns")
    async def campaigns(caller: Staff, community_id: Text | None = None) -> list[dict[str, Any]]:
        """Test campaigns, newest first (optionally of one community; a community's staff
        see their own community's)."""
        return await iso.state.campaigns(pool(), caller.scope(community_id))

    @router.post("/v1/campaigns", status_code=201)
    async def open_campaign(body: CampaignIn, caller: Staff, request: Request) -> dict[str, str]:
        """Mass testing in a community at the sampling points named."""
        caller.require(body.community_id)
        campaign = TestCampaignOpened(**body.model_dump())

        async def work(conn: asyncpg.Connection) -> None:
            await office.open_campaign(
                conn, campaign, actor=caller.actor, correlation_id=correlation_id(request)
            )

        await in_transaction(pool(), work)
        return {"campaign_id": body.campaign_id}

    async def sampled_in(conn: asyncpg.Connection, sample: SampleIn) -> str | None:
        """The community a sample is taken for: its campaign's, else where its person
        lives (None: neither is known, which only the district's office may record)."""
        if sample.campaign_id is not None:
            campaign = await iso.state.campaign(conn, sample.campaign_id)
            if campaign is not None:
                return str(campaign["community_id"])
        resident = await iso.state.resident(conn, sample.person_id)
        return str(resident["community_id"]) if resident else None

    @router.post("/v1/samples", status_code=201)
    async def collect_samples(
        body: list[SampleIn], caller: Staff, request: Request
    ) -> dict[str, int]:
        """Swabs taken (sample -> person), so the lab's results can be matched; a sample
        recorded again is a no-op. A collection time outside the lab window (in the future
        beyond the skew, or too old) is refused, 422 naming the sample's index."""
        at = now()
        outside = [
            {"loc": ["body", i, "collected_at"], "msg": why, "type": "value_error"}
            for i, sample in enumerate(body)
            if (why := iso.settings.collection_window.refusal(sample.collected_at, at))
        ]
        if outside:
            raise RequestValidationError(outside)  # answered capped, as any 422

        async def work(conn: asyncpg.Connection) -> int:
            new = 0
            for i, sample in enumerate(body):
                if not caller.district_wide:
                    caller.require(await sampled_in(conn, sample), "body", i, "person_id")
                new += await office.collect_sample(
                    conn, SampleCollected(**sample.model_dump()), actor=caller.actor, at=now(),
                    correlation_id=correlation_id(request),
                )  # fmt: skip
            return new

        recorded = await in_transaction(pool(), work)
        return {"recorded": recorded, "already_recorded": len(body) - recorded}

    return router

"""Office routes: the district's isolation policy, test campaigns and collected samples.

(No ``from __future__ import annotations``: FastAPI must resolve the local ``Staff`` type.)
"""

from collections.abc import Callable
from dataclasses import asdict
from datetime import datetime
from typing import Annotated, Any

import asyncpg
from fastapi import APIRouter, Depends, Request
from fastapi.exceptions import RequestValidationError

from cordon_contracts.lab import SampleCollected, TestCampaignOpened
from cordon_core.http import correlation_id
from cordon_core.inputs import Text
from cordon_isolation.domain.policy import IsolationPolicy, ReleaseRule
from cordon_isolation.entrypoints.deps import Isolation
from cordon_isolation.entrypoints.schemas import CampaignIn, PolicyIn, SampleIn
from cordon_isolation.service.unit import in_transaction


def office_routes(
    iso: Isolation, staff: Callable[..., str], now: Callable[[], datetime]
) -> APIRouter:
    router = APIRouter(tags=["office"])
    Staff = Annotated[str, Depends(staff)]
    office = iso.office

    def pool() -> asyncpg.Pool:
        return iso.runtime.pool

    @router.get("/v1/policy")
    async def current_policy(actor: Staff) -> dict[str, Any]:
        """The district's isolation policy in force (version 0: the defaults)."""
        return asdict(await iso.state.policy(pool(), office.district))

    @router.put("/v1/policy")
    async def publish_policy(body: PolicyIn, actor: Staff, request: Request) -> dict[str, Any]:
        """Publish the district's next policy version; every later decision names it."""
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
                conn, policy, actor=actor, correlation_id=correlation_id(request)
            )

        return asdict(await in_transaction(pool(), work))

    @router.get("/v1/campaigns")
    async def campaigns(actor: Staff, community_id: Text | None = None) -> list[dict[str, Any]]:
        """Test campaigns, newest first (optionally of one community)."""
        return await iso.state.campaigns(pool(), community_id)

    @router.post("/v1/campaigns", status_code=201)
    async def open_campaign(body: CampaignIn, actor: Staff, request: Request) -> dict[str, str]:
        """Mass testing in a community at the sampling points named."""
        campaign = TestCampaignOpened(**body.model_dump())

        async def work(conn: asyncpg.Connection) -> None:
            await office.open_campaign(
                conn, campaign, actor=actor, correlation_id=correlation_id(request)
            )

        await in_transaction(pool(), work)
        return {"campaign_id": body.campaign_id}

    @router.post("/v1/samples", status_code=201)
    async def collect_samples(
        body: list[SampleIn], actor: Staff, request: Request
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
            for sample in body:
                new += await office.collect_sample(
                    conn, SampleCollected(**sample.model_dump()), actor=actor, at=now(),
                    correlation_id=correlation_id(request),
                )  # fmt: skip
            return new

        recorded = await in_transaction(pool(), work)
        return {"recorded": recorded, "already_recorded": len(body) - recorded}

    return router

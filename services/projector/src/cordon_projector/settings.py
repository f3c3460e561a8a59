"""The projector's settings, read from ``CORDON_*`` variables."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

from cordon_core.settings import ServiceSettings


class StaffScope(BaseModel):
    """What a dashboard token may see: the whole district, or one sub-district or community."""

    kind: Literal["district", "sub_district", "community"]
    id: str | None = Field(default=None, description="The sub-district or community id.")
    staff_id: str = "staff"


class ProjectorSettings(ServiceSettings):
    timezone: str = Field(
        default="Asia/Shanghai", description="Where a report day starts and ends."
    )
    full_vaccination_doses: int = Field(
        default=2, ge=1, description="Doses that make a resident fully vaccinated."
    )
    dashboard_tokens: dict[str, StaffScope] = Field(
        default_factory=lambda: {"dev-district-token": StaffScope(kind="district")},
        description="Bearer token -> scope, as JSON. The default is for a laptop only.",
    )
    dashboard_admin_token: str = Field(
        default="dev-dashboard-admin", description="Issues and revokes dashboard tokens."
    )
    statement_timeout_s: float = Field(
        default=30.0,
        ge=0,
        description="A dashboard query running longer is cancelled (503): with a district's"
        " data, a page whose caller has given up must not keep PostgreSQL's cores busy.",
    )
    asof_cache_size: int = Field(default=4, ge=1, description="Past moments kept replayed.")
    asof_cache_seconds: float = Field(default=300.0, gt=0)
    live_refresh_s: float = Field(
        default=5.0, gt=0, description="Live streams push at least this often."
    )

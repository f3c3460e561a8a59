"""The gate's settings: the shared CORDON_* ones plus its own."""

from __future__ import annotations

from pydantic import Field

from cordon_core.settings import ServiceSettings


class GateSettings(ServiceSettings):
    timezone: str = Field(
        default="Asia/Shanghai", description="Where a pass's day starts and ends."
    )
    gate_admin_token: str = Field(
        default="dev-admin-token", description="Bearer token of the community office's admin API."
    )
    pseudonym_key: str = Field(
        default="dev-pseudonym-key", description="District key for visitors' pseudonymous ids."
    )
    max_clock_skew_s: int = Field(
        default=300, ge=0, description="How far in the future a scan may be."
    )
    scan_batch_max: int = Field(default=1000, ge=1)

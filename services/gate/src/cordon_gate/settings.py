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
    # The windows of what the gate accepts, all in one place (docs/gate.md, "What is
    # accepted"). A device keeps scanning while offline and sends its backlog when it is
    # back: a week covers a long outage (a holiday weekend without a technician) while a
    # scan dated months or years back can only be a broken clock or a forgery.
    max_scan_age_s: int = Field(
        default=7 * 24 * 3600, ge=60, description="How far in the past a scan may be."
    )
    # Passes are the exceptions of a lockdown (a temporary resident, a delivery worker, an
    # exit slip): a quarter is longer than any lockdown the source documents describe, and
    # a pass that should last longer is re-issued, which makes the office look at it again.
    max_pass_days: int = Field(default=90, ge=1, description="How long a pass may be valid.")
    # A thousand scans of about 700 bytes each (or a thousand passes of about 350), with
    # room to spare.
    max_batch_body_bytes: int = Field(
        default=2 * 1024 * 1024,
        ge=1024,
        description="Largest body of /v1/scans/batch and /v1/passes/batch.",
    )

"""The isolation service's settings: the shared CORDON_* ones plus its own."""

from __future__ import annotations

from datetime import timedelta

from pydantic import Field

from cordon_core.settings import ServiceSettings
from cordon_isolation.domain.results import CollectionWindow


class IsolationSettings(ServiceSettings):
    isolation_admin_token: str = Field(
        default="dev-isolation-token",
        description="Bearer token of the epidemic office's staff API: set a real one.",
    )
    lab_tokens: str = Field(
        default="dev-lab:dev-lab-token",
        description="Each lab's name and bearer token: lab:token,lab:token.",
        pattern=r"^[^:,\s]+:[^,\s]+(,[^:,\s]+:[^,\s]+)*$",
    )
    lab_chunk_rows: int = Field(
        default=1000, ge=1, description="Result rows recorded per transaction."
    )
    lab_collected_skew_s: int = Field(
        default=300,
        ge=0,
        description="How far in the future a result's collected_at may be (labs' clocks "
        "drift); a later one is refused at intake.",
    )
    lab_max_sample_age_days: int = Field(
        default=30,
        ge=1,
        description="A result collected longer ago than this is refused at intake: no rule "
        "uses a test that old, and a date like 1970 is a typo.",
    )
    timer_poll_interval_ms: int = Field(
        default=500, ge=10, description="How often due check-in deadlines are looked for."
    )

    # When a staff order may start and how long it may run, in one place (docs/isolation.md,
    # "What is accepted"). A planned order is for someone expected soon (a returnee, a
    # released centralized case moving to home isolation): two weeks ahead is one isolation
    # period; further is a guess better made later. Backdating follows the exposure, which
    # the policy looks back on for at most 60 days (its travel window's limit); an order
    # runs at most 60 days (the policy's longest period) and is extended after that.
    isolation_order_start_ahead_days: int = Field(
        default=14, ge=0, description="How far ahead an order may start."
    )
    isolation_order_start_behind_days: int = Field(
        default=60, ge=0, description="How far back an order may be dated."
    )
    isolation_order_max_days: int = Field(
        default=60, ge=1, description="How long one order may run before it is extended."
    )
    # 5,000 JSON results of about 200 bytes, or a CSV of a whole campaign's results.
    isolation_max_lab_body_bytes: int = Field(
        default=4 * 1024 * 1024, ge=1024, description="Largest body of the lab endpoints."
    )
    # A thousand orders (POST /v1/orders/batch) of about 300 bytes, or of a long private
    # note each (up to 2,000 characters), fit; the shared limit (256 KiB) would refuse a
    # full list with notes.
    isolation_max_order_batch_body_bytes: int = Field(
        default=4 * 1024 * 1024, ge=1024, description="Largest body of /v1/orders/batch."
    )

    # The gate's passages are kept for the contact look-back only (docs/isolation.md,
    # "Close contacts from gate traffic"); the policy's look-back may not exceed 14 days.
    isolation_passages_keep_days: int = Field(
        default=15, ge=1, le=60, description="Days of gate passages kept for contact tracing."
    )

    @property
    def collection_window(self) -> CollectionWindow:
        return CollectionWindow(
            future_skew=timedelta(seconds=self.lab_collected_skew_s),
            max_age=timedelta(days=self.lab_max_sample_age_days),
        )

    @property
    def labs(self) -> dict[str, str]:
        """Lab name -> token."""
        pairs = (entry.split(":", 1) for entry in self.lab_tokens.split(","))
        return {name: token for name, token in pairs}

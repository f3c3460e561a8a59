"""The isolation service's settings: the shared CORDON_* ones plus its own."""

from __future__ import annotations

from pydantic import Field

from cordon_core.settings import ServiceSettings


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
    timer_poll_interval_ms: int = Field(
        default=500, ge=10, description="How often due check-in deadlines are looked for."
    )

    @property
    def labs(self) -> dict[str, str]:
        """Lab name -> token."""
        pairs = (entry.split(":", 1) for entry in self.lab_tokens.split(","))
        return {name: token for name, token in pairs}

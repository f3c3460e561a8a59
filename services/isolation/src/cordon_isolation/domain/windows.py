"""When an order placed by staff may start and how long it may run (the values are the
service's settings; docs/isolation.md says why)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta


@dataclass(frozen=True)
class OrderWindows:
    start_ahead: timedelta
    """How far ahead a planned order may start (a returnee expected next week)."""
    start_behind: timedelta
    """How far back an order may be dated (to the exposure that caused it)."""
    longest: timedelta

    def problems(
        self, starts_at: datetime, planned_end_at: datetime, now: datetime
    ) -> list[tuple[str, str]]:
        """(field, reason) for each way the order's dates are absurd; empty when sound."""
        found = []
        if starts_at > now + self.start_ahead:
            found.append(("starts_at", f"starts more than {self.start_ahead.days} days ahead"))
        if starts_at < now - self.start_behind:
            found.append(("starts_at", f"starts more than {self.start_behind.days} days ago"))
        if planned_end_at <= starts_at:
            found.append(("planned_end_at", "ends before it starts"))
        elif planned_end_at - starts_at > self.longest:
            found.append(
                ("planned_end_at", f"an order lasts at most {self.longest.days} days; extend it")
            )
        return found

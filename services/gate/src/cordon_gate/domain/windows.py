"""How far from now the gate accepts a scan's time, and how long a pass may be valid
(the values are the gate's settings; docs/gate.md says why)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta


@dataclass(frozen=True)
class Windows:
    clock_skew: timedelta
    """How far ahead of the gate's clock a device's clock may run."""
    scan_age: timedelta
    """How late a device may send a scan it made offline."""
    pass_validity: timedelta

    def scan_time_problem(self, scanned_at: datetime, now: datetime) -> str | None:
        if scanned_at > now + self.clock_skew:
            ahead = int(self.clock_skew.total_seconds())
            return f"scanned_at is in the future (more than {ahead} s ahead)"
        if scanned_at < now - self.scan_age:
            return (
                f"scanned_at is too far in the past (more than {_span(self.scan_age)} ago):"
                " a device's clock is wrong, or its backlog too old to decide"
            )
        return None

    def pass_validity_problem(self, valid_from: datetime, valid_until: datetime) -> str | None:
        if valid_until <= valid_from:
            return "must be after valid_from"
        if valid_until - valid_from > self.pass_validity:
            return f"a pass is valid at most {_span(self.pass_validity)}; issue a new one then"
        return None


def _span(length: timedelta) -> str:
    if length.days >= 1 and length.seconds == 0:
        return f"{length.days} days" if length.days > 1 else "1 day"
    return f"{int(length.total_seconds())} s"

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

    def pass_window_problems(
        self, valid_from: datetime, valid_until: datetime, now: datetime
    ) -> list[tuple[str, str]]:
        """(field, why) for each thing wrong with a pass's window: it ends before it starts,
        lasts longer than ``pass_validity``, or starts further ahead than a pass may last (a
        pass for 2099 is a typing slip, not a plan). A window already over is allowed: an
        office may record a paper pass after the fact, for scans still in devices' backlogs."""
        problems = []
        span = _span(self.pass_validity)
        if valid_until <= valid_from:
            problems.append(("valid_until", "must be after valid_from"))
        elif valid_until - valid_from > self.pass_validity:
            problems.append(
                ("valid_until", f"a pass is valid at most {span}; issue a new one then")
            )
        if valid_from > now + self.pass_validity:
            problems.append(("valid_from", f"more than {span} ahead: issue it nearer the time"))
        return problems


def _span(length: timedelta) -> str:
    if length.days >= 1 and length.seconds == 0:
        return f"{length.days} days" if length.days > 1 else "1 day"
    return f"{int(length.total_seconds())} s"

"""What every gate use case and entrypoint works with, wired once in ``bootstrap``: the
runtime, the desks, the tables, the pseudonymizer and the clock. Entrypoints receive it;
they never import ``bootstrap``."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from cordon_core.runtime import ServiceRuntime
from cordon_core.staff_access import StaffAccess
from cordon_gate.adapters.listings import GateListings
from cordon_gate.adapters.pseudonyms import Pseudonymizer
from cordon_gate.adapters.state import GateState
from cordon_gate.domain.windows import Windows
from cordon_gate.service.administration import GateOffice
from cordon_gate.service.restrictions import RestrictionDesk
from cordon_gate.service.scanning import ScanDesk
from cordon_gate.settings import GateSettings


@dataclass
class Gate:
    settings: GateSettings
    runtime: ServiceRuntime
    state: GateState
    desk: ScanDesk
    office: GateOffice
    restrictions: RestrictionDesk
    listings: GateListings
    pseudonyms: Pseudonymizer
    access: StaffAccess
    """Who may use the office routes, and in which community."""
    timezone: ZoneInfo
    clock: Callable[[], datetime]
    """The gate's "now", in its timezone: scans' time windows and the office's records."""

    @property
    def scans_topic(self) -> str:
        return f"{self.settings.topic_prefix}.gate.scans"

    @property
    def windows(self) -> Windows:
        return Windows(
            clock_skew=timedelta(seconds=self.settings.max_clock_skew_s),
            scan_age=timedelta(seconds=self.settings.max_scan_age_s),
            pass_validity=timedelta(days=self.settings.max_pass_days),
        )

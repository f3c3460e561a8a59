"""Restrictions held by a person, whatever identifier they show at the gate: a ban and
exit quotas (限定每天只能出入一次, 禁止该人员出入). Pure Python.

A scan names a person through a resident QR code (the person id), a pass (its holder) or a
visitor's document (the visitor id); the restrictions of that person in the checkpoint's
community apply to all three alike.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from cordon_contracts.gate import DenialReason, PersonCategory
from cordon_gate.domain.state import GatePolicy, PassState

PASS_CATEGORY: dict[str, PersonCategory] = {
    "temporary": "temporary_pass_holder",
    "service": "service_pass_holder",
    "exit_slip": "exit_slip_holder",
}


@dataclass(frozen=True)
class PersonRestrictions:
    """What the office decided about one person in one community."""

    barred: bool = False
    daily_exit_quota: int | None = None
    """The person's own quota (PersonExitQuotaAssigned); None: none of their own."""
    version: int = 0
    """The version of the person's restriction stream in the community."""


@dataclass(frozen=True)
class PersonAtGate:
    """Everything about the scanned person that binds them whatever they show."""

    person_id: str
    restrictions: PersonRestrictions
    passes: tuple[PassState, ...] = ()
    """Their passes in the checkpoint's community that are not revoked."""
    residence_type: str | None = None
    exits_today: int = 0
    """Exits already counted for them on the scan's local day, at every gate of the
    community and on every identifier."""

    def categories(self, at: datetime) -> frozenset[str]:
        found: set[str] = {PASS_CATEGORY[p.kind] for p in self.passes if _valid(p, at)}
        if self.residence_type is not None:
            found.add(self.residence_type)
        return frozenset(found)

    def exit_quotas(self, policy: GatePolicy, at: datetime) -> list[tuple[DenialReason, int]]:
        """Every daily exit quota that applies to the person at ``at``, with the reason a
        scan is denied for when it is used up. The smallest one binds."""
        quotas: list[tuple[DenialReason, int]] = [
            ("pass_quota_exhausted", p.daily_exit_quota)
            for p in self.passes
            if p.daily_exit_quota is not None and _valid(p, at)
        ]
        if self.restrictions.daily_exit_quota is not None:
            quotas.append(("exit_quota_exhausted", self.restrictions.daily_exit_quota))
        for category in sorted(self.categories(at)):
            if (limit := policy.daily_exit_quotas.get(category)) is not None:
                quotas.append(("exit_quota_exhausted", limit))
        return quotas

    def exit_denials(self, policy: GatePolicy, at: datetime) -> list[DenialReason]:
        """The quotas already used up today (each reason once)."""
        used = [r for r, limit in self.exit_quotas(policy, at) if self.exits_today >= limit]
        return list(dict.fromkeys(used))


def _valid(pass_: PassState, at: datetime) -> bool:
    return not pass_.revoked and pass_.valid_from <= at < pass_.valid_until

"""The checkpoint decision: allow or deny a scan, with reasons and alerts. Pure Python."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from cordon_contracts.gate import (
    Alert,
    DenialReason,
    Direction,
    HealthCode,
    SubjectKind,
    VisitPurpose,
)
from cordon_gate.domain.restrictions import PersonAtGate
from cordon_gate.domain.state import Checkpoint, GatePolicy, PassState, PersonStatus


@dataclass(frozen=True)
class Scan:
    """One scan as the device reported it (already validated)."""

    scan_id: str
    checkpoint_id: str
    scanned_at: datetime
    direction: Direction
    subject_kind: SubjectKind
    subject_id: str
    """The resident's person id, the pass code, or the visitor id (a pseudonym)."""
    temperature_c: float
    health_code: HealthCode
    itinerary_risk: bool = False
    vehicle_plate: str | None = None
    negative_test_at: datetime | None = None
    """A negative test the person showed at the gate (e.g. a visitor's certificate)."""
    visit_reason: str | None = None
    """The visitor's own words: kept in the private register, never published."""
    visit_purpose: VisitPurpose | None = None


@dataclass(frozen=True)
class Decision:
    allowed: bool
    reasons: tuple[DenialReason, ...] = ()
    alerts: tuple[Alert, ...] = ()
    fever: bool = False
    uses_pass: bool = False
    counts_exit: bool = False
    """An exit let through for someone an exit quota applies to: it counts against it."""


@dataclass
class _Verdict:
    reasons: list[DenialReason] = field(default_factory=list)
    alerts: list[Alert] = field(default_factory=list)

    def deny(self, reason: DenialReason, alert: Alert | None = None) -> None:
        self.reasons.append(reason)
        if alert is not None:
            self.alerts.append(alert)


def decide(
    scan: Scan,
    checkpoint: Checkpoint,
    policy: GatePolicy,
    person: PersonStatus | None,
    pass_: PassState | None,
    who: PersonAtGate | None = None,
) -> Decision:
    """Every rule is checked, so a denial lists all its reasons, not just the first.

    ``who`` is the person the scan names (resident, pass holder or visitor) with their
    restrictions: a ban or a used-up exit quota denies them whatever they showed."""
    v = _Verdict()
    if not checkpoint.is_open:
        v.deny("checkpoint_closed")
    fever = scan.temperature_c >= policy.fever_threshold_c
    if fever:
        v.deny("fever", "fever")
    _health_code(scan, policy, v)
    _subject(scan, checkpoint, policy, person, pass_, v)
    _isolation(scan, policy, person, v)
    _restrictions(scan, policy, who, v)
    if checkpoint.requires_negative_test:
        hours = checkpoint.negative_test_hours or policy.negative_test_hours
        if not _tested_negative_within(scan, person, timedelta(hours=hours)):
            v.deny("no_recent_negative_test")
    return Decision(
        allowed=not v.reasons,
        reasons=tuple(v.reasons),
        alerts=tuple(dict.fromkeys(v.alerts)),
        fever=fever,
        uses_pass=pass_ is not None and not v.reasons,
        counts_exit=not v.reasons
        and scan.direction == "out"
        and who is not None
        and bool(who.exit_quotas(policy, scan.scanned_at)),
    )


def _health_code(scan: Scan, policy: GatePolicy, v: _Verdict) -> None:
    if scan.health_code == "red":
        v.deny("red_code", "red_code")
    elif scan.health_code == "yellow":
        if policy.yellow_code == "deny":
            v.deny("yellow_code", "yellow_code")
        else:
            v.alerts.append("yellow_code")
    if scan.itinerary_risk and policy.itinerary_risk != "allow":
        if policy.itinerary_risk == "deny":
            v.deny("itinerary_risk", "itinerary_risk")
        else:
            v.alerts.append("itinerary_risk")


def _subject(
    scan: Scan,
    checkpoint: Checkpoint,
    policy: GatePolicy,
    person: PersonStatus | None,
    pass_: PassState | None,
    v: _Verdict,
) -> None:
    if scan.subject_kind == "visitor":
        if policy.visitors == "refuse":
            v.deny("visitors_refused")
    elif scan.subject_kind == "resident":
        if person is None or person.community_id != checkpoint.community_id:
            v.deny("not_a_resident")  # non-residents must register as visitors
    elif pass_ is None:
        v.deny("pass_unknown")
    else:
        if pass_.revoked:
            v.deny("pass_revoked")
        if not pass_.valid_from <= scan.scanned_at < pass_.valid_until:
            v.deny("pass_not_valid_now")
        if pass_.community_id != checkpoint.community_id:
            v.deny("pass_wrong_community")


def _restrictions(scan: Scan, policy: GatePolicy, who: PersonAtGate | None, v: _Verdict) -> None:
    """The person's ban and exit quotas, counted over every identifier they use."""
    if who is None:
        return
    if who.restrictions.barred:
        v.deny("barred", "barred_person")
    if scan.direction == "out":
        for reason in who.exit_denials(policy, scan.scanned_at):
            v.deny(reason)


def _isolation(scan: Scan, policy: GatePolicy, person: PersonStatus | None, v: _Verdict) -> None:
    if person is None or scan.direction != "out" or person.isolation_level is None:
        return
    if person.isolation_level in ("centralized", "home"):
        v.deny("isolated", "isolated_exit_attempt")
    elif policy.health_monitoring_exit == "deny":
        v.deny("health_monitoring", "health_monitoring_exit")
    elif policy.health_monitoring_exit == "alert":
        v.alerts.append("health_monitoring_exit")


def _tested_negative_within(scan: Scan, person: PersonStatus | None, window: timedelta) -> bool:
    evidence = [scan.negative_test_at, person.last_negative_test_at if person else None]
    return any(t is not None and scan.scanned_at - window <= t <= scan.scanned_at for t in evidence)

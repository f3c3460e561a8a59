"""Events the gate service publishes on ``<prefix>.gate.events``.

Scan outcomes are keyed by checkpoint, passes by pass id, checkpoint and policy
administration by checkpoint or community, restrictions on a person by person id. Visitors
appear only under a pseudonymous visitor id: their document, name and phone stay in the
gate's private register. Free text written by staff never travels: events carry a reason
code from ``OfficeReason`` and at most the id of the note kept in the gate's private tables.
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import Field

from cordon_events.envelope import DomainEvent, EventRegistry
from cordon_events.privacy import RedactedText

registry = EventRegistry()

Direction = Literal["in", "out"]
HealthCode = Literal["green", "yellow", "red"]
SubjectKind = Literal["resident", "pass_holder", "visitor"]
PassKind = Literal["temporary", "service", "exit_slip"]
"""临时通行证 temporary pass, 蓝色出入证 service pass (e.g. water delivery), 出门条 exit slip."""

DenialReason = Literal[
    "checkpoint_closed",
    "fever",
    "red_code",
    "yellow_code",
    "itinerary_risk",
    "isolated",
    "health_monitoring",
    "no_recent_negative_test",
    "not_a_resident",
    "visitors_refused",
    "pass_unknown",
    "pass_revoked",
    "pass_not_valid_now",
    "pass_wrong_community",
    "pass_quota_exhausted",
    "barred",
    "exit_quota_exhausted",
]
Alert = Literal[
    "fever", "red_code", "yellow_code", "itinerary_risk", "isolated_exit_attempt",
    "health_monitoring_exit", "barred_person",
]  # fmt: skip
PersonCategory = Literal[
    "owner", "tenant", "temporary", "returnee",
    "temporary_pass_holder", "service_pass_holder", "exit_slip_holder",
]  # fmt: skip
"""Who a community policy's exit quota applies to: a residence type from the registry
(``temporary``: non-local residents, 外来人员), or the holder of a valid pass of a kind."""
OfficeReason = Literal[
    "pass_abuse",
    "checkpoint_misconduct",
    "false_information",
    "pass_lent",
    "pass_lost",
    "no_longer_needed",
    "isolation_breach",
    "ban_served",
    "decided_in_error",
    "office_decision",
    "other",
]
"""Why the office revoked, barred, lifted or limited (the published reason code).

pass_abuse 滥用出行证; checkpoint_misconduct (abusing or evading checkpoint staff);
false_information; pass_lent (shown by someone else); pass_lost; no_longer_needed;
isolation_breach; ban_served (a ban lifted after its time); decided_in_error;
office_decision; other. Whatever the staff wrote besides stays in the gate's notes."""
OFFICE_REASON_WORDING: dict[str, str] = {
    "pass_abuse": "pass abused",
    "checkpoint_misconduct": "misconduct at a checkpoint",
    "false_information": "false information given",
    "pass_lent": "pass shown by someone else",
    "pass_lost": "pass lost",
    "no_longer_needed": "no longer needed",
    "isolation_breach": "isolation breached",
    "ban_served": "ban served",
    "decided_in_error": "decided in error",
    "office_decision": "office decision",
    "other": "other",
}
"""The fixed public wording of each reason code, for the older free-text ``reason`` fields."""
CheckpointReason = Literal[
    "registered", "gates_reduced", "gates_restored", "staffing", "outbreak_control",
    "maintenance", "other",
]  # fmt: skip
"""Why a checkpoint was opened or closed (e.g. gates_reduced: three gates reduced to one)."""
VisitPurpose = Literal["visiting_family", "delivery", "maintenance", "medical", "official", "other"]
"""Why a visitor came, as a code; what they said in their words stays in the register."""


class _ScanOutcome(DomainEvent):
    """What the gate decided about one scan, and what it knew when it decided."""

    scan_id: str = Field(description="The device's own id for the scan; unique per checkpoint.")
    checkpoint_id: str
    community_id: str
    compound_id: str
    direction: Direction
    scanned_at: datetime
    subject_kind: SubjectKind
    person_id: str = Field(
        description="Pseudonymous id: the resident's or pass holder's person id, or the "
        "visitor id. Never an ID-card number."
    )
    pass_id: str | None = None
    temperature_c: float
    health_code: HealthCode
    itinerary_risk: bool = Field(description="Stayed in a medium/high-risk area in 14 days.")
    vehicle_plate: RedactedText | None = None
    alerts: list[Alert] = Field(default_factory=list)
    policy_version: int = Field(description="Version of the community's gate policy applied.")
    status_as_of: datetime | None = Field(
        description="When the person's status (residence, isolation, tests) was last updated "
        "from the other services' events; None when the gate knew nothing of the person."
    )


@registry.register
class PersonEntered(_ScanOutcome):
    """A person was checked at a checkpoint and let in."""

    event_type = "PersonEntered"


@registry.register
class PersonExited(_ScanOutcome):
    """A person was checked at a checkpoint and let out."""

    event_type = "PersonExited"


@registry.register
class EntryDenied(_ScanOutcome):
    """A person was refused entry, for the reasons given."""

    event_type = "EntryDenied"
    reasons: list[DenialReason]


@registry.register
class ExitDenied(_ScanOutcome):
    """A person was refused exit, for the reasons given."""

    event_type = "ExitDenied"
    reasons: list[DenialReason]


@registry.register
class ScanRejected(DomainEvent):
    """A scan from the Kafka feed that could not be decided (e.g. an unknown checkpoint);
    nothing else of it was recorded. HTTP callers get a 4xx instead."""

    event_type = "ScanRejected"
    scan_id: str
    checkpoint_id: str
    field: str
    reason: str
    received_at: datetime


@registry.register
class FeverDetected(DomainEvent):
    """A temperature at or above the community's threshold: reported at once."""

    event_type = "FeverDetected"
    scan_id: str
    checkpoint_id: str
    community_id: str
    compound_id: str
    person_id: str
    subject_kind: SubjectKind
    temperature_c: float
    threshold_c: float
    scanned_at: datetime


@registry.register
class VisitorRegistered(DomainEvent):
    """A non-resident was registered at a checkpoint (外来人员登记)."""

    event_type = "VisitorRegistered"
    visitor_id: str = Field(description="Pseudonym of the visitor's document; stable per district.")
    scan_id: str
    checkpoint_id: str
    community_id: str
    reason: RedactedText = Field(
        description="The fixed wording of ``purpose`` (what the visitor said in their own "
        "words stays in the gate's private register; older events: redacted)."
    )
    registered_at: datetime
    purpose: VisitPurpose | None = Field(default=None, description="Why they came, as a code.")


@registry.register
class CheckpointRegistered(DomainEvent):
    event_type = "CheckpointRegistered"
    checkpoint_id: str
    community_id: str
    compound_id: str
    name: RedactedText
    requires_negative_test: bool
    negative_test_hours: int


@registry.register
class CheckpointOpened(DomainEvent):
    event_type = "CheckpointOpened"
    checkpoint_id: str
    community_id: str
    reason: RedactedText = Field(
        description="The reason code (older events: the office's words, redacted)."
    )
    reason_code: CheckpointReason | None = None
    note_id: str | None = Field(default=None, description="The office's note, kept privately.")


@registry.register
class CheckpointClosed(DomainEvent):
    """Closed, e.g. a compound reduced from three gates to one; scans there are refused."""

    event_type = "CheckpointClosed"
    checkpoint_id: str
    community_id: str
    reason: RedactedText = Field(
        description="The reason code (older events: the office's words, redacted)."
    )
    reason_code: CheckpointReason | None = None
    note_id: str | None = Field(default=None, description="The office's note, kept privately.")


@registry.register
class DeviceRegistered(DomainEvent):
    """A device may report scans for a checkpoint (its token is stored only as a hash)."""

    event_type = "DeviceRegistered"
    device_id: str
    checkpoint_id: str


@registry.register
class DeviceRevoked(DomainEvent):
    event_type = "DeviceRevoked"
    device_id: str
    checkpoint_id: str
    reason: RedactedText


@registry.register
class GatePolicyPublished(DomainEvent):
    """A new version of a community's gate policy; decisions name the version they used."""

    event_type = "GatePolicyPublished"
    community_id: str
    version: int
    fever_threshold_c: float
    yellow_code: Literal["deny", "alert"]
    itinerary_risk: Literal["deny", "alert", "allow"]
    health_monitoring_exit: Literal["deny", "alert", "allow"]
    visitors: Literal["allow", "refuse"]
    negative_test_hours: int
    daily_exit_quotas: dict[PersonCategory, int] = Field(
        default_factory=dict,
        description="Exits a day allowed to every person of a category (e.g. "
        "temporary_pass_holder: 1); the smallest quota that applies to a person holds.",
    )


@registry.register
class PassIssued(DomainEvent):
    event_type = "PassIssued"
    pass_id: str
    kind: PassKind
    holder_person_id: str
    community_id: str
    valid_from: datetime
    valid_until: datetime
    daily_exit_quota: int | None = Field(description="Exits allowed per local day; None: any.")


@registry.register
class PassUsed(DomainEvent):
    event_type = "PassUsed"
    pass_id: str
    scan_id: str
    checkpoint_id: str
    direction: Direction
    local_day: str = Field(description="The community's local calendar day of the use.")
    used_at: datetime


@registry.register
class PassRevoked(DomainEvent):
    """Revoked on the spot (当场销毁出行证): every later scan with it is denied."""

    event_type = "PassRevoked"
    pass_id: str
    reason: RedactedText = Field(
        description="The fixed wording of ``reason_code`` (older events: the office's words, "
        "redacted)."
    )
    revoked_at: datetime
    reason_code: OfficeReason | None = None
    note_id: str | None = Field(default=None, description="The office's note, kept privately.")
    holder_barred: bool = Field(
        default=False, description="The holder was barred in the same command (PersonBarred)."
    )


@registry.register
class PassReissued(DomainEvent):
    """A lost pass got a new code; the old code stops working (the code is never shown again,
    nor published)."""

    event_type = "PassReissued"
    pass_id: str
    reason_code: OfficeReason
    note_id: str | None = None
    reissued_at: datetime


class _Restriction(DomainEvent):
    person_id: str = Field(
        description="Pseudonymous id: a resident's or pass holder's person id, or a visitor id."
    )
    community_id: str
    reason_code: OfficeReason
    note_id: str | None = Field(default=None, description="The office's note, kept privately.")


@registry.register
class PersonBarred(_Restriction):
    """The person is barred from the community's gates (禁止该人员出入) until the office lifts
    it, whatever they show: resident QR code, pass or document."""

    event_type = "PersonBarred"
    barred_at: datetime
    pass_id: str | None = Field(default=None, description="The pass revoked in the same command.")


@registry.register
class PersonBarLifted(_Restriction):
    event_type = "PersonBarLifted"
    lifted_at: datetime


@registry.register
class PersonExitQuotaAssigned(_Restriction):
    """The person may leave the community at most ``daily_exits`` times a local day
    (限定每天只能出入一次), whatever they show; None removes the person's own quota."""

    event_type = "PersonExitQuotaAssigned"
    daily_exits: int | None
    assigned_at: datetime

"""Deciding a batch of scans, in order, from one loaded ``ScanContext``. Pure Python.

Scans of one batch see each other: a pass used by one is at its next version for the next,
and an exit counted for a person counts against their quota for their next scan. What the
batch decides to record (events by stream, pass uses, exit counts, visitors) comes back as
a ``BatchDecision`` for the service to write in one go.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import date
from typing import Any, Literal
from zoneinfo import ZoneInfo

from cordon_contracts.gate import ScanRejected
from cordon_core.envelope import Envelope, PendingEvent, local_day
from cordon_gate.domain.answers import ScanResult, answer, rejected, stored_answer
from cordon_gate.domain.context import ScanContext
from cordon_gate.domain.decisions import Scan, decide
from cordon_gate.domain.outcomes import DecidedScan, scan_event_id
from cordon_gate.domain.restrictions import PersonAtGate

Rejections = Literal["record", "report", "refuse_batch"]
"""What becomes of a scan that cannot be decided (an unknown checkpoint): ``record`` it as
``ScanRejected`` (the Kafka feed); ``report`` it and record the others (a group of single
HTTP scans); or ``refuse_batch``: report it and record nothing of the batch (an HTTP batch
is all or none)."""


@dataclass(frozen=True)
class VisitorIdentity:
    """A visitor's personal details: kept in the gate's private register only."""

    document_type: str
    document_number: str
    name: str
    phone: str


@dataclass(frozen=True)
class IncomingScan:
    scan: Scan
    visitor: VisitorIdentity | None = None
    correlation_id: uuid.UUID | None = None
    actor: str | None = None
    """Who reported it (``device:<id>``), when scans of several devices are decided together."""

    @property
    def outcome_id(self) -> uuid.UUID:
        return scan_event_id(self.scan.checkpoint_id, self.scan.scan_id, "outcome")


@dataclass(frozen=True)
class ScanRecord:
    """A decided scan's new stream: its events, and who they are recorded for."""

    scan: Scan
    events: list[PendingEvent]
    actor: str
    correlation_id: uuid.UUID | None
    community_id: str | None


@dataclass(frozen=True)
class PassRecord:
    """A pass's uses in the batch: events appended after ``first_version``."""

    pass_id: str
    events: list[PendingEvent]
    first_version: int
    actor: str


@dataclass(frozen=True)
class ExitCount:
    """A person's exits on a day in a community, moved from ``before`` to ``after``."""

    person_id: str
    community_id: str
    day: date
    before: int
    after: int


@dataclass
class BatchDecision:
    results: list[ScanResult] = field(default_factory=list)
    scans: list[ScanRecord] = field(default_factory=list)
    passes: list[PassRecord] = field(default_factory=list)
    """In pass id order: concurrent decisions lock the same passes' rows in the same order,
    so they wait for each other but never deadlock."""
    pass_versions: dict[str, int] = field(default_factory=dict)
    """Each used pass's version after the batch."""
    uses: list[tuple[str, date, str]] = field(default_factory=list)
    """(pass id, local day, direction) of every pass use."""
    exits: list[ExitCount] = field(default_factory=list)
    visitors: list[dict[str, Any]] = field(default_factory=list)
    """Rows of the visitors' private register, for visitors let through."""

    @property
    def records_nothing(self) -> bool:
        return not (self.scans or self.passes)

    @property
    def only_new_scans(self) -> bool:
        """Nothing but new scan streams: one self-committing INSERT records it all."""
        return not (self.passes or self.uses or self.visitors or self.exits)


@dataclass
class _Tally:
    """The counts a batch changes as it goes: pass versions and people's exits today."""

    context: ScanContext
    pass_versions: dict[str, int] = field(default_factory=dict)
    exits: dict[tuple[str, str, date], tuple[int, int]] = field(default_factory=dict)
    """(before, after) of each (person, community, day) exit count the batch changes."""

    def person_at_gate(self, person_id: str, community_id: str, day: date) -> PersonAtGate:
        who = self.context.person_at_gate(person_id, community_id, day)
        counted = self.exits.get((person_id, community_id, day))
        return who if counted is None else replace(who, exits_today=counted[1])

    def count_exit(self, who: PersonAtGate, community_id: str, day: date) -> None:
        key = (who.person_id, community_id, day)
        before = self.exits.get(key, (who.exits_today, 0))[0]
        self.exits[key] = (before, who.exits_today + 1)


def decide_batch(
    incoming: Sequence[IncomingScan],
    context: ScanContext,
    stored: Mapping[uuid.UUID, Envelope],
    *,
    timezone: ZoneInfo,
    actor: str,
    rejections: Rejections,
) -> BatchDecision:
    """Decide ``incoming`` in order. A scan whose outcome is ``stored`` already gets that
    same answer (a retry); ``actor`` stands for scans that do not name their own."""
    batch = BatchDecision()
    tally = _Tally(context)
    pass_events: dict[str, list[PendingEvent]] = {}
    pass_actors: dict[str, str] = {}
    for item in incoming:
        scan, by = item.scan, item.actor or actor
        if item.outcome_id in stored:
            batch.results.append(stored_answer(scan, stored[item.outcome_id]))
            continue
        checkpoint = context.checkpoints.get(scan.checkpoint_id)
        if checkpoint is None:
            batch.results.append(rejected(scan, "checkpoint_id", "unknown checkpoint"))
            if rejections == "record":
                event = _rejection(scan, "checkpoint_id", "unknown checkpoint")
                batch.scans.append(ScanRecord(scan, [event], by, item.correlation_id, None))
            continue
        day = local_day(scan.scanned_at, timezone)  # quotas reset at local midnight
        pass_ = context.passes.get(scan.subject_id) if scan.subject_kind == "pass_holder" else None
        if pass_ is not None:
            version = tally.pass_versions.get(pass_.pass_id, pass_.version)
            pass_ = replace(pass_, version=version)
        person_id = pass_.holder_person_id if pass_ else scan.subject_id
        person = context.people.get(person_id) if scan.subject_kind != "visitor" else None
        policy = context.policies[checkpoint.community_id]
        who = None
        if scan.subject_kind != "pass_holder" or pass_ is not None:
            who = tally.person_at_gate(person_id, checkpoint.community_id, day)
        decided = DecidedScan(
            scan,
            decide(scan, checkpoint, policy, person, pass_, who),
            checkpoint,
            policy,
            person_id,
            person,
            pass_,
        )
        if decided.decision.counts_exit and who is not None:
            tally.count_exit(who, checkpoint.community_id, day)
        events = decided.scan_events()
        batch.scans.append(
            ScanRecord(scan, events, by, item.correlation_id, checkpoint.community_id)
        )
        used = decided.pass_used(timezone)
        if used is not None and pass_ is not None:
            pass_events.setdefault(pass_.pass_id, []).append(used)
            pass_actors.setdefault(pass_.pass_id, by)
            tally.pass_versions[pass_.pass_id] = pass_.version + 1
            batch.uses.append((pass_.pass_id, day, scan.direction))
        if item.visitor is not None and decided.decision.allowed:
            batch.visitors.append(
                {
                    **vars(item.visitor),
                    "visitor_id": person_id,
                    "seen": scan.scanned_at,
                    "reason": scan.visit_reason,
                }
            )
        batch.results.append(answer(decided, events[0]))
    if rejections == "refuse_batch" and any(r.rejection for r in batch.results):
        return BatchDecision(results=batch.results)
    batch.passes = [
        PassRecord(
            pass_id,
            events,
            tally.pass_versions[pass_id] - len(events),
            pass_actors[pass_id],
        )
        for pass_id, events in sorted(pass_events.items())
    ]
    batch.pass_versions = tally.pass_versions
    batch.exits = [ExitCount(*key, *change) for key, change in tally.exits.items()]
    return batch


def _rejection(scan: Scan, field: str, reason: str) -> PendingEvent:
    return PendingEvent(
        ScanRejected(
            scan_id=scan.scan_id,
            checkpoint_id=scan.checkpoint_id,
            field=field,
            reason=reason,
            received_at=scan.scanned_at,
        ),
        event_id=scan_event_id(scan.checkpoint_id, scan.scan_id, "outcome"),
        occurred_at=scan.scanned_at,
    )

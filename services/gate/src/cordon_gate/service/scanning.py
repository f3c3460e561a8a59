"""Use case: decide a batch of scans and record them, idempotently by device scan id.

The same code serves a group of single HTTP scans, an HTTP batch and a batch from the Kafka
feed: the whole context is loaded with one query (stored answers, checkpoints, policies,
passes, people), every scan is decided in order, and all resulting events are appended in
one statement.
"""

from __future__ import annotations

import hashlib
import hmac
import uuid
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

import asyncpg

from cordon_contracts.gate import ScanRejected
from cordon_core.envelope import EventMetadata, PendingEvent
from cordon_core.store import RETRY_CONFLICTS, EventIdConflict, PostgresEventStore, StreamAppend
from cordon_gate.adapters.state import GateState
from cordon_gate.domain.decisions import Scan, decide
from cordon_gate.domain.outcomes import (
    DecidedScan,
    local_day,
    pass_stream,
    scan_event_id,
    scan_stream,
)
from cordon_gate.domain.state import PassState

DECIDE_AGAIN: tuple[type[Exception], ...] = (*RETRY_CONFLICTS, EventIdConflict)
"""Conflicts with a concurrent decision: deciding the same scans again resolves them (the
second look finds the other's answer, or the pass's new version)."""


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


@dataclass(frozen=True)
class ScanResult:
    scan_id: str
    checkpoint_id: str
    decision: str
    """"allow", "deny", or "rejected" (could not be decided; see ``rejection``)."""
    reasons: tuple[str, ...] = ()
    alerts: tuple[str, ...] = ()
    event_id: uuid.UUID | None = None
    event_type: str | None = None
    policy_version: int | None = None
    status_as_of: datetime | None = None
    duplicate: bool = False
    rejection: tuple[str, str] | None = None
    """(field, reason) when rejected."""


class Pseudonymizer:
    """Stable pseudonymous ids for visitors' documents (keyed HMAC, district-wide)."""

    def __init__(self, key: str) -> None:
        self._key = key.encode()

    def visitor_id(self, document_type: str, document_number: str) -> str:
        digest = hmac.new(
            self._key, f"{document_type}:{document_number.upper()}".encode(), hashlib.sha256
        )
        return f"v-{digest.hexdigest()[:20]}"


class ScanDesk:
    def __init__(
        self,
        store: PostgresEventStore,
        state: GateState,
        *,
        timezone: ZoneInfo,
        district: str,
    ) -> None:
        self.store = store
        self.state = state
        self.timezone = timezone
        self.district = district

    async def decide(
        self,
        conn: asyncpg.Connection,
        incoming: Sequence[IncomingScan],
        *,
        actor: str,
        record_rejections: bool,
    ) -> list[ScanResult]:
        """Decide and record ``incoming`` inside the caller's transaction.

        A scan whose outcome is already stored gets that same answer (a retry). A scan
        that names an unknown checkpoint is rejected: recorded as ``ScanRejected`` when
        ``record_rejections`` (the Kafka feed), otherwise only reported (HTTP answers 4xx).
        """
        outcome_ids = [
            scan_event_id(i.scan.checkpoint_id, i.scan.scan_id, "outcome") for i in incoming
        ]
        scans = [i.scan for i in incoming]
        context = await self.state.context(
            conn,
            outcome_ids,
            checkpoint_ids=(s.checkpoint_id for s in scans),
            pass_codes=(s.subject_id for s in scans if s.subject_kind == "pass_holder"),
            days=(local_day(s, self.timezone) for s in scans),
            person_ids=(s.subject_id for s in scans if s.subject_kind != "pass_holder"),
        )
        # Retries are rare: only then are the stored answers read in full.
        stored = await self.store.find(list(context.stored), conn=conn) if context.stored else {}
        checkpoints, policies = context.checkpoints, context.policies
        passes, people = context.passes, context.people

        results: list[ScanResult] = []
        appends: list[StreamAppend] = []
        pass_events: dict[str, list[PendingEvent]] = defaultdict(list)
        pass_versions: dict[str, int] = {}
        pass_actors: dict[str, str] = {}
        exits: dict[tuple[str, str, date], tuple[int, int]] = {}
        """(before, after) of each person's exit count this batch changes."""
        uses: list[tuple[str, date, str]] = []
        visitors: list[dict[str, Any]] = []
        for item, outcome_id in zip(incoming, outcome_ids, strict=True):
            scan = item.scan
            if outcome_id in stored:
                results.append(_from_stored(scan, stored[outcome_id]))
                continue
            checkpoint = checkpoints.get(scan.checkpoint_id)
            if checkpoint is None:
                results.append(_rejected(scan, "checkpoint_id", "unknown checkpoint"))
                if record_rejections:
                    appends.append(self._rejection(scan, item, item.actor or actor))
                continue
            day = local_day(scan, self.timezone)
            pass_ = passes.get(scan.subject_id) if scan.subject_kind == "pass_holder" else None
            if pass_ is not None:
                pass_ = replace(pass_, version=pass_versions.get(pass_.pass_id, pass_.version))
            person_id = pass_.holder_person_id if pass_ else scan.subject_id
            person = people.get(person_id) if scan.subject_kind != "visitor" else None
            policy = policies[checkpoint.community_id]
            who = None
            if scan.subject_kind != "pass_holder" or pass_ is not None:
                exit_key = (person_id, checkpoint.community_id, day)
                who = context.person_at_gate(*exit_key)
                if exit_key in exits:
                    who = replace(who, exits_today=exits[exit_key][1])
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
                before = exits.get(exit_key, (who.exits_today, 0))[0]
                exits[exit_key] = (before, who.exits_today + 1)
            meta = EventMetadata.new(
                actor=item.actor or actor,
                district=self.district,
                community=checkpoint.community_id,
                correlation_id=item.correlation_id,
            )
            events = decided.scan_events()
            appends.append(
                StreamAppend(
                    scan_stream(scan.checkpoint_id, scan.scan_id),
                    events,
                    0,
                    meta,
                    partition_key=scan.checkpoint_id,
                )
            )
            used = decided.pass_used(self.timezone)
            if used is not None and pass_ is not None:
                pass_events[pass_.pass_id].append(used)
                pass_actors.setdefault(pass_.pass_id, item.actor or actor)
                pass_versions[pass_.pass_id] = pass_.version + 1
                uses.append((pass_.pass_id, day, scan.direction))
            if item.visitor is not None and decided.decision.allowed:
                visitors.append(
                    {
                        **vars(item.visitor),
                        "visitor_id": person_id,
                        "seen": scan.scanned_at,
                        "reason": scan.visit_reason,
                    }
                )
            outcome = events[0].payload
            results.append(
                ScanResult(
                    scan_id=scan.scan_id,
                    checkpoint_id=scan.checkpoint_id,
                    decision="allow" if decided.decision.allowed else "deny",
                    reasons=decided.decision.reasons,
                    alerts=decided.decision.alerts,
                    event_id=events[0].event_id,
                    event_type=outcome.event_type,
                    policy_version=policy.version,
                    status_as_of=person.as_of if person else None,
                )
            )
        # In pass id order, as every statement below: concurrent decisions lock the same
        # passes' rows in the same order, so they wait for each other but never deadlock.
        for pass_id, events in sorted(pass_events.items()):
            first_version = pass_versions[pass_id] - len(events)
            appends.append(
                StreamAppend(
                    pass_stream(pass_id),
                    events,
                    first_version,
                    EventMetadata.new(actor=pass_actors[pass_id], district=self.district),
                    partition_key=pass_id,
                )
            )
        if not appends:
            return results
        counts = [(*key, *change) for key, change in exits.items()]
        one_statement = not (uses or visitors or counts) and all(
            a.expected_version == 0 for a in appends
        )
        if one_statement or conn.is_in_transaction():
            # Only new streams and nothing else: the store writes them with one INSERT,
            # which commits by itself outside a transaction (a resident's single scan costs
            # two round trips: the context and this).
            await self._record(conn, appends, uses, pass_versions, visitors, counts)
        else:
            async with conn.transaction():
                await self._record(conn, appends, uses, pass_versions, visitors, counts)
        return results

    async def _record(
        self,
        conn: asyncpg.Connection,
        appends: list[StreamAppend],
        uses: list[tuple[str, date, str]],
        pass_versions: dict[str, int],
        visitors: list[dict[str, Any]],
        counts: list[tuple[str, str, date, int, int]],
    ) -> None:
        # The outcomes were just looked up, and every caller restarts the whole
        # transaction on a conflict: no second look, no savepoint.
        await self.store.append_many(appends, conn=conn, savepoint=False, known_new=True)
        await self.state.record_pass_uses(conn, uses, pass_versions)
        await self.state.count_exits(conn, counts)
        await self.state.register_visitors(conn, visitors)

    def _rejection(self, scan: Scan, item: IncomingScan, actor: str) -> StreamAppend:
        event = PendingEvent(
            ScanRejected(
                scan_id=scan.scan_id,
                checkpoint_id=scan.checkpoint_id,
                field="checkpoint_id",
                reason="unknown checkpoint",
                received_at=scan.scanned_at,
            ),
            event_id=scan_event_id(scan.checkpoint_id, scan.scan_id, "outcome"),
            occurred_at=scan.scanned_at,
        )
        meta = EventMetadata.new(
            actor=actor, district=self.district, correlation_id=item.correlation_id
        )
        return StreamAppend(
            scan_stream(scan.checkpoint_id, scan.scan_id),
            [event],
            0,
            meta,
            partition_key=scan.checkpoint_id,
        )


def _rejected(scan: Scan, field: str, reason: str) -> ScanResult:
    return ScanResult(
        scan_id=scan.scan_id,
        checkpoint_id=scan.checkpoint_id,
        decision="rejected",
        rejection=(field, reason),
    )


def _from_stored(scan: Scan, envelope: Any) -> ScanResult:
    payload = envelope.payload
    if isinstance(payload, ScanRejected):
        return replace(_rejected(scan, payload.field, payload.reason), duplicate=True)
    reasons = tuple(getattr(payload, "reasons", ()))
    return ScanResult(
        scan_id=scan.scan_id,
        checkpoint_id=scan.checkpoint_id,
        decision="deny" if reasons else "allow",
        reasons=reasons,
        alerts=tuple(payload.alerts),
        event_id=envelope.event_id,
        event_type=envelope.event_type,
        policy_version=payload.policy_version,
        status_as_of=payload.status_as_of,
        duplicate=True,
    )


__all__ = [
    "DECIDE_AGAIN",
    "IncomingScan",
    "PassState",
    "Pseudonymizer",
    "ScanDesk",
    "ScanResult",
    "VisitorIdentity",
]

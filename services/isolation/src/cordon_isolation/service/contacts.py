"""Use cases of contact tracing: list a positive person's close-contact candidates, and the
office's confirmation (which places the policy's order) or dismissal of each, recorded as
events on the stream ``contacts:<person_id>`` in one transaction with the order."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

import asyncpg

from cordon_contracts.isolation import (
    ORDER_REASONS,
    ContactCandidateConfirmed,
    ContactCandidateDismissed,
    OrderReason,
)
from cordon_core.envelope import EventMetadata, PendingEvent
from cordon_core.store import PostgresEventStore
from cordon_isolation.adapters.contacts import ContactRecords
from cordon_isolation.adapters.state import IsolationState
from cordon_isolation.domain.contacts import Candidate, CandidateList, ranked
from cordon_isolation.domain.errors import Conflict, NotFound
from cordon_isolation.domain.orders import IsolationRequest
from cordon_isolation.domain.policy import IsolationPolicy
from cordon_isolation.domain.reactions import derived_id, order_id_for
from cordon_isolation.service.orders import IsolationDesk


def contacts_stream(person_id: str) -> str:
    return f"contacts:{person_id}"


@dataclass(frozen=True)
class CandidateReport:
    person_id: str
    policy: IsolationPolicy
    since: datetime
    until: datetime
    passages: int
    candidates: list[Candidate]


class ContactTracing:
    def __init__(
        self, store: PostgresEventStore, state: IsolationState, desk: IsolationDesk
    ) -> None:
        self.store, self.state, self.desk = store, state, desk
        self.records = ContactRecords(state.schema)

    async def candidates(
        self, conn: asyncpg.Connection, person_id: str, as_of: datetime, ring: int = 1
    ) -> CandidateReport:
        """Ring one: shared passages in the look-back, the household, the building; ring
        two adds the same for each contact the office confirmed."""
        if not await self.records.known(conn, person_id):
            raise NotFound(f"person_id: {person_id!r} is unknown to this service")
        policy = await self.state.policy(conn, self.desk.district)
        since = as_of - timedelta(days=policy.contact_lookback_days)
        window = timedelta(minutes=policy.contact_window_minutes)
        found = CandidateList(person_id)
        mine, shared = await self.records.shared_passages(conn, person_id, since, as_of, window)
        for candidate in shared:
            found.add(candidate)
        for candidate in await self.records.housemates(conn, person_id, policy.contact_building):
            found.add(candidate)
        decisions = await self.records.decisions(conn, person_id)
        if ring >= 2:
            confirmed = [c for c, d in decisions.items() if d["decision"] == "confirmed"]
            for contact in sorted(confirmed):
                _, theirs = await self.records.shared_passages(
                    conn, contact, since, as_of, window, via=contact
                )
                theirs += await self.records.housemates(
                    conn, contact, policy.contact_building, via=contact
                )
                for candidate in theirs:
                    found.add(candidate)
        orders = await self.records.active_orders(conn, list(found.found))
        listed = [
            replace(
                c,
                active_order=orders.get(c.candidate_id),
                decision=(decisions.get(c.candidate_id) or {}).get("decision"),
            )
            if c.candidate_id in orders or c.candidate_id in decisions
            else c
            for c in found.found.values()
        ]
        return CandidateReport(
            person_id, policy, since, as_of, mine, ranked(listed, policy.contact_ranking)
        )

    async def _candidate(
        self, conn: asyncpg.Connection, person_id: str, candidate_id: str, now: datetime
    ) -> tuple[IsolationPolicy, Candidate]:
        report = await self.candidates(conn, person_id, now, ring=2)
        for candidate in report.candidates:
            if candidate.candidate_id == candidate_id:
                return report.policy, candidate
        raise NotFound(f"candidate_id: {candidate_id!r} is not a candidate of {person_id!r}")

    async def confirm(
        self,
        conn: asyncpg.Connection,
        person_id: str,
        candidate_id: str,
        *,
        decided_by: str,
        meta: EventMetadata,
        now: datetime,
    ) -> list[str]:
        """Confirm the candidate and place the policy's order; a confirmed candidate
        confirmed again records nothing. Returns the event types recorded."""
        decided = (await self.records.decisions(conn, person_id)).get(candidate_id)
        if decided is not None and decided["decision"] == "confirmed":
            return []
        policy, candidate, version, event_id = await self._deciding(
            conn, person_id, candidate_id, now, "contact-confirmed"
        )
        order_id = order_id_for(event_id, candidate_id)
        community = (
            await self.records.community_of(conn, candidate_id)
            or await self.records.community_of(conn, person_id)
            or "unknown"
        )
        confirmed = ContactCandidateConfirmed(
            **self._fields(person_id, candidate, policy, decided_by, now),
            order_id=order_id,
            order_level=policy.contact_order_level,
        )
        await self._append(conn, person_id, version, confirmed, event_id, meta, now)
        reason: OrderReason = "secondary_contact" if candidate.via else "close_contact"
        placed = await self.desk.place(
            conn,
            IsolationRequest(
                person_id=candidate_id, level=policy.contact_order_level,
                community_id=community, reason=ORDER_REASONS[reason], reason_code=reason,
                starts_at=now, planned_end_at=now + timedelta(days=policy.contact_order_days),
                order_id=order_id, policy_version=policy.version, source_event_id=str(event_id),
            ),
            replace(meta, community=community),
            now,
        )  # fmt: skip
        await self.records.save_decision(
            conn, person_id, candidate_id, "confirmed", now, decided_by, order_id
        )
        return [confirmed.event_type, *(e.event_type for e in placed.events)]

    async def dismiss(
        self,
        conn: asyncpg.Connection,
        person_id: str,
        candidate_id: str,
        *,
        decided_by: str,
        meta: EventMetadata,
        now: datetime,
    ) -> list[str]:
        """Dismiss the candidate; dismissed again records nothing, and a confirmed one is
        refused (its order stands: cancel the order instead)."""
        decided = (await self.records.decisions(conn, person_id)).get(candidate_id)
        if decided is not None and decided["decision"] == "dismissed":
            return []
        if decided is not None:
            raise Conflict(
                f"candidate_id: {candidate_id!r} was confirmed and its order placed;"
                " cancel the order instead"
            )
        policy, candidate, version, event_id = await self._deciding(
            conn, person_id, candidate_id, now, "contact-dismissed"
        )
        dismissed = ContactCandidateDismissed(
            **self._fields(person_id, candidate, policy, decided_by, now)
        )
        await self._append(conn, person_id, version, dismissed, event_id, meta, now)
        await self.records.save_decision(
            conn, person_id, candidate_id, "dismissed", now, decided_by, None
        )
        return [dismissed.event_type]

    async def _deciding(
        self,
        conn: asyncpg.Connection,
        person_id: str,
        candidate_id: str,
        now: datetime,
        kind: str,
    ) -> tuple[IsolationPolicy, Candidate, int, uuid.UUID]:
        """The candidate as listed now, the contacts stream's version, and the decision's
        event id (derived: the same decision at the same version is the same event)."""
        policy, candidate = await self._candidate(conn, person_id, candidate_id, now)
        version = await self.store.stream_version(contacts_stream(person_id), conn=conn)
        return policy, candidate, version, derived_id(kind, person_id, candidate_id, version)

    @staticmethod
    def _fields(
        person_id: str,
        candidate: Candidate,
        policy: IsolationPolicy,
        decided_by: str,
        now: datetime,
    ) -> dict[str, object]:
        return {
            "person_id": person_id, "candidate_id": candidate.candidate_id,
            "evidence": list(candidate.evidence), "shared_passages": candidate.shared_passages,
            "closest_gap_s": candidate.closest_gap_s, "via": candidate.via,
            "decided_by": decided_by, "decided_at": now, "policy_version": policy.version,
        }  # fmt: skip

    async def _append(
        self,
        conn: asyncpg.Connection,
        person_id: str,
        version: int,
        event: ContactCandidateConfirmed | ContactCandidateDismissed,
        event_id: uuid.UUID,
        meta: EventMetadata,
        now: datetime,
    ) -> None:
        await self.store.append(
            contacts_stream(person_id),
            [PendingEvent(event, event_id=event_id, occurred_at=now)],
            expected_version=version,
            metadata=meta,
            partition_key=person_id,
            conn=conn,
        )

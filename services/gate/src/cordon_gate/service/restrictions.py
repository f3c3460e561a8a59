"""Use cases of the office on a person: bar them from the community's gates, lift the bar,
give them their own daily exit quota. Each is a no-op, recording nothing, when the person
is already so: a retried command says so instead of recording a second event.

Restrictions are held by the person (a resident's or pass holder's person id, or a visitor
id), so they apply whatever the person shows at the gate.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, replace
from datetime import datetime

import asyncpg

from cordon_contracts.gate import (
    OfficeReason,
    PersonBarLifted,
    PersonBarred,
    PersonExitQuotaAssigned,
)
from cordon_core.envelope import DomainEvent, EventMetadata, PendingEvent
from cordon_core.store import PostgresEventStore
from cordon_gate.adapters.state import GateState
from cordon_gate.domain.restrictions import PersonRestrictions


def restriction_stream(community_id: str, person_id: str) -> str:
    return f"restriction:{community_id}:{person_id}"


@dataclass(frozen=True)
class OfficeCommand:
    """Who decided what, why, and when; ``note`` is the office's own words, kept private."""

    reason_code: OfficeReason
    at: datetime
    actor: str
    note: str | None = None
    correlation_id: uuid.UUID | None = None


class RestrictionDesk:
    def __init__(self, store: PostgresEventStore, state: GateState, *, district: str) -> None:
        self.store = store
        self.state = state
        self.district = district

    async def bar(
        self,
        conn: asyncpg.Connection,
        person_id: str,
        community_id: str,
        command: OfficeCommand,
        *,
        pass_id: str | None = None,
    ) -> bool:
        """Bar the person (禁止该人员出入); False when they already were (nothing recorded)."""
        current = await self.state.restrictions_for_update(conn, person_id, community_id)
        if current.barred:
            return False
        note_id = await self._note(conn, person_id, community_id, command)
        event = PersonBarred(
            person_id=person_id,
            community_id=community_id,
            reason_code=command.reason_code,
            note_id=note_id,
            barred_at=command.at,
            pass_id=pass_id,
        )
        await self._record(conn, person_id, community_id, current, event, command, barred=True)
        return True

    async def lift(
        self, conn: asyncpg.Connection, person_id: str, community_id: str, command: OfficeCommand
    ) -> bool:
        """Lift the person's bar; False when they were not barred (nothing recorded)."""
        current = await self.state.restrictions_for_update(conn, person_id, community_id)
        if not current.barred:
            return False
        note_id = await self._note(conn, person_id, community_id, command)
        event = PersonBarLifted(
            person_id=person_id,
            community_id=community_id,
            reason_code=command.reason_code,
            note_id=note_id,
            lifted_at=command.at,
        )
        await self._record(conn, person_id, community_id, current, event, command, barred=False)
        return True

    async def assign_exit_quota(
        self,
        conn: asyncpg.Connection,
        person_id: str,
        community_id: str,
        daily_exits: int | None,
        command: OfficeCommand,
    ) -> bool:
        """Give the person their own daily exit quota (None removes it); False when it is
        already that (nothing recorded)."""
        current = await self.state.restrictions_for_update(conn, person_id, community_id)
        if current.version > 0 and current.daily_exit_quota == daily_exits:
            return False
        if current.version == 0 and daily_exits is None:
            return False
        note_id = await self._note(conn, person_id, community_id, command)
        event = PersonExitQuotaAssigned(
            person_id=person_id,
            community_id=community_id,
            reason_code=command.reason_code,
            note_id=note_id,
            daily_exits=daily_exits,
            assigned_at=command.at,
        )
        await self._record(
            conn, person_id, community_id, current, event, command, daily_exit_quota=daily_exits
        )
        return True

    async def _note(
        self, conn: asyncpg.Connection, person_id: str, community_id: str, command: OfficeCommand
    ) -> str | None:
        if not command.note:
            return None
        subject = restriction_stream(community_id, person_id)
        return await self.state.write_note(conn, subject, command.note, command.actor, command.at)

    async def _record(
        self,
        conn: asyncpg.Connection,
        person_id: str,
        community_id: str,
        current: PersonRestrictions,
        event: DomainEvent,
        command: OfficeCommand,
        **changes: object,
    ) -> None:
        meta = EventMetadata.new(
            actor=command.actor,
            district=self.district,
            community=community_id,
            correlation_id=command.correlation_id,
        )
        await self.store.append(
            restriction_stream(community_id, person_id),
            [PendingEvent(event)],
            expected_version=current.version,
            metadata=meta,
            partition_key=person_id,
            conn=conn,
        )
        updated = replace(current, version=current.version + 1, **changes)  # type: ignore[arg-type]
        await self.state.save_restrictions(conn, person_id, community_id, updated)

"""Use cases of the community office: checkpoints, devices, policies and passes.

Each appends its events and updates the gate's working state in one transaction.
"""

from __future__ import annotations

import secrets
import uuid
from collections.abc import Sequence
from dataclasses import asdict, replace
from datetime import datetime

import asyncpg

from cordon_contracts.gate import (
    OFFICE_REASON_WORDING,
    CheckpointClosed,
    CheckpointOpened,
    CheckpointReason,
    CheckpointRegistered,
    DeviceRegistered,
    GatePolicyPublished,
    PassIssued,
    PassReissued,
    PassRevoked,
)
from cordon_core.envelope import DomainEvent, EventMetadata, PendingEvent
from cordon_core.store import ConcurrencyError, PostgresEventStore, StreamAppend
from cordon_gate.adapters.state import GateState
from cordon_gate.domain.outcomes import pass_stream
from cordon_gate.domain.passes import PassRequest
from cordon_gate.domain.state import Checkpoint, GatePolicy, PassState
from cordon_gate.service.restrictions import OfficeCommand, RestrictionDesk


class NotFound(LookupError):
    def __init__(self, what: str, key: str) -> None:
        super().__init__(f"no {what} {key!r}")
        self.what = what
        self.key = key


class AlreadyExists(ValueError):
    pass


class UnknownCommunities(LookupError):
    """Passes named communities with no registered gate: they would admit no one, and an
    unknown value (an ID number typed in) would travel on the topic."""

    def __init__(self, rows: Sequence[int]) -> None:
        super().__init__(f"communities without a gate in rows {list(rows)}")
        self.rows = list(rows)


class UnknownHolders(LookupError):
    """Passes named residents the gate has not heard of from the registry (yet)."""

    def __init__(self, rows: Sequence[int]) -> None:
        super().__init__(f"unknown holders in rows {list(rows)}")
        self.rows = list(rows)


class GateOffice:
    def __init__(
        self,
        store: PostgresEventStore,
        state: GateState,
        restrictions: RestrictionDesk,
        *,
        district: str,
    ) -> None:
        self.store = store
        self.state = state
        self.restrictions = restrictions
        self.district = district

    def _meta(self, actor: str, community: str, correlation_id: uuid.UUID | None) -> EventMetadata:
        return EventMetadata.new(
            actor=actor, district=self.district, community=community, correlation_id=correlation_id
        )

    async def _append(
        self,
        conn: asyncpg.Connection,
        stream: str,
        payload: DomainEvent,
        expected: int,
        meta: EventMetadata,
        key: str,
    ) -> None:
        await self.store.append(
            stream,
            [PendingEvent(payload)],
            expected_version=expected,
            metadata=meta,
            partition_key=key,
            conn=conn,
        )

    async def register_checkpoint(
        self,
        conn: asyncpg.Connection,
        checkpoint: Checkpoint,
        *,
        actor: str,
        correlation_id: uuid.UUID | None = None,
    ) -> bool:
        """Register; False (nothing recorded) when the same checkpoint is registered already
        (a retry). The same id with another definition is refused."""
        found = (await self.state.checkpoints(conn, [checkpoint.checkpoint_id])).get(
            checkpoint.checkpoint_id
        )
        if found is not None:
            if replace(found, is_open=checkpoint.is_open) == checkpoint:
                return False
            raise AlreadyExists(f"checkpoint {checkpoint.checkpoint_id!r} is already registered")
        event = CheckpointRegistered(
            checkpoint_id=checkpoint.checkpoint_id,
            community_id=checkpoint.community_id,
            compound_id=checkpoint.compound_id,
            name=checkpoint.name,
            requires_negative_test=checkpoint.requires_negative_test,
            negative_test_hours=checkpoint.negative_test_hours,
        )
        meta = self._meta(actor, checkpoint.community_id, correlation_id)
        events = [PendingEvent(event)]
        if checkpoint.is_open:
            events.append(
                PendingEvent(
                    CheckpointOpened(
                        checkpoint_id=checkpoint.checkpoint_id,
                        community_id=checkpoint.community_id,
                        reason="registered",
                        reason_code="registered",
                    )
                )
            )
        await self.store.append(
            f"checkpoint:{checkpoint.checkpoint_id}",
            events,
            expected_version=0,
            metadata=meta,
            partition_key=checkpoint.checkpoint_id,
            conn=conn,
        )
        await self.state.save_checkpoint(conn, checkpoint, len(events))
        return True

    async def set_open(
        self,
        conn: asyncpg.Connection,
        checkpoint_id: str,
        *,
        is_open: bool,
        reason_code: CheckpointReason,
        note: str | None,
        at: datetime,
        actor: str,
        correlation_id: uuid.UUID | None = None,
    ) -> Checkpoint:
        """Open or close; a no-op (nothing recorded) when it already is so."""
        version = await self.state.checkpoint_version(conn, checkpoint_id)
        checkpoints = await self.state.checkpoints(conn, [checkpoint_id])
        if version is None or checkpoint_id not in checkpoints:
            raise NotFound("checkpoint", checkpoint_id)
        current = checkpoints[checkpoint_id]
        if current.is_open == is_open:
            return current
        stream = f"checkpoint:{checkpoint_id}"
        note_id = await self.state.write_note(conn, stream, note, actor, at) if note else None
        kind = CheckpointOpened if is_open else CheckpointClosed
        event = kind(
            checkpoint_id=checkpoint_id,
            community_id=current.community_id,
            reason=reason_code,
            reason_code=reason_code,
            note_id=note_id,
        )
        meta = self._meta(actor, current.community_id, correlation_id)
        await self._append(conn, f"checkpoint:{checkpoint_id}", event, version, meta, checkpoint_id)
        updated = replace(current, is_open=is_open)
        await self.state.save_checkpoint(conn, updated, version + 1)
        return updated

    async def register_device(
        self,
        conn: asyncpg.Connection,
        checkpoint_id: str,
        device_id: str,
        *,
        actor: str,
        correlation_id: uuid.UUID | None = None,
    ) -> str:
        """Returns the device's token, shown once; only its hash is kept."""
        checkpoints = await self.state.checkpoints(conn, [checkpoint_id])
        if checkpoint_id not in checkpoints:
            raise NotFound("checkpoint", checkpoint_id)
        token = secrets.token_urlsafe(32)
        meta = self._meta(actor, checkpoints[checkpoint_id].community_id, correlation_id)
        try:
            await self._append(
                conn,
                f"device:{device_id}",
                DeviceRegistered(device_id=device_id, checkpoint_id=checkpoint_id),
                0,
                meta,
                checkpoint_id,
            )
        except ConcurrencyError as error:
            raise AlreadyExists(f"device {device_id!r} is already registered") from error
        await self.state.save_device(conn, device_id, checkpoint_id, token)
        return token

    async def publish_policy(
        self,
        conn: asyncpg.Connection,
        policy: GatePolicy,
        *,
        actor: str,
        correlation_id: uuid.UUID | None = None,
    ) -> tuple[GatePolicy, bool]:
        """Publish ``policy`` as the community's next version (its version is assigned).
        The same rules as the current version publish nothing: (current, False)."""
        latest = await self.state.policy(conn, policy.community_id)
        if latest is not None and replace(latest, version=0) == replace(policy, version=0):
            return latest, False
        current = latest.version if latest is not None else 0
        published = replace(policy, version=current + 1)
        meta = self._meta(actor, policy.community_id, correlation_id)
        await self._append(
            conn,
            f"policy:{policy.community_id}",
            GatePolicyPublished(**asdict(published)),
            current,
            meta,
            policy.community_id,
        )
        await self.state.save_policy(conn, published)
        return published, True

    async def issue_passes(
        self,
        conn: asyncpg.Connection,
        requests: Sequence[PassRequest],
        *,
        actor: str,
        correlation_id: uuid.UUID | None = None,
    ) -> list[tuple[str, str]]:
        """Issue every pass or none: (pass id, pass code) for each request, in order. A code
        goes on the printed pass / QR and is kept only as a hash.

        A pass's community must have a registered gate (else ``UnknownCommunities``). A
        holder named by person id must be a resident the registry told the gate of; one who
        is not a resident is named by their document instead (else ``UnknownHolders``). A
        refusal names the rows, and nothing is recorded."""
        with_gates = await self.state.communities_with_gates(
            conn, {r.community_id for r in requests}
        )
        if no_gate := [row for row, r in enumerate(requests) if r.community_id not in with_gates]:
            raise UnknownCommunities(no_gate)
        residents = [r.holder_person_id for r in requests if r.holder_is_resident]
        known = await self.state.people(conn, residents) if residents else {}
        unknown = [
            row
            for row, r in enumerate(requests)
            if r.holder_is_resident and r.holder_person_id not in known
        ]
        if unknown:
            raise UnknownHolders(unknown)
        issued = [(f"pass-{uuid.uuid4().hex[:12]}", secrets.token_urlsafe(12)) for _ in requests]
        events = [
            PassIssued(
                pass_id=pass_id, kind=r.kind, holder_person_id=r.holder_person_id,
                community_id=r.community_id, valid_from=r.valid_from, valid_until=r.valid_until,
                daily_exit_quota=r.daily_exit_quota,
            )
            for (pass_id, _), r in zip(issued, requests, strict=True)
        ]  # fmt: skip
        appends = [
            StreamAppend(
                pass_stream(e.pass_id),
                [PendingEvent(e)],
                0,
                self._meta(actor, e.community_id, correlation_id),
                e.pass_id,
            )
            for e in events
        ]
        # New streams and fresh event ids: one INSERT of the events, one of the passes; the
        # unit of work reruns the whole command on a conflict, so no savepoint is needed.
        await self.store.append_many(appends, conn=conn, savepoint=False, known_new=True)
        await self.state.save_passes(
            conn,
            [(PassState.issued(e), code) for e, (_, code) in zip(events, issued, strict=True)],
        )
        return issued

    async def revoke_pass(
        self,
        conn: asyncpg.Connection,
        pass_id: str,
        command: OfficeCommand,
        *,
        bar_holder: bool = False,
    ) -> tuple[bool, bool]:
        """Revoke on the spot (当场销毁出行证) and, with ``bar_holder``, bar its holder from
        the community's gates (禁止该人员出入) in the same transaction.

        Returns (revoked now, holder barred now): a retry finds both done and records
        nothing."""
        pass_ = await self.state.pass_for_update(conn, pass_id)
        if pass_ is None:
            raise NotFound("pass", pass_id)
        barred = False
        if bar_holder:
            barred = await self.restrictions.bar(
                conn, pass_.holder_person_id, pass_.community_id, command, pass_id=pass_id
            )
        if pass_.revoked:
            return False, barred
        note_id = None
        if command.note:
            note_id = await self.state.write_note(
                conn, pass_stream(pass_id), command.note, command.actor, command.at
            )
        event = PassRevoked(
            pass_id=pass_id,
            reason=OFFICE_REASON_WORDING[command.reason_code],
            reason_code=command.reason_code,
            note_id=note_id,
            revoked_at=command.at,
            holder_barred=bar_holder,
        )
        meta = self._meta(command.actor, pass_.community_id, command.correlation_id)
        await self._append(conn, pass_stream(pass_id), event, pass_.version, meta, pass_id)
        await self.state.revoke_pass(conn, pass_id, pass_.version + 1)
        return True, barred

    async def reissue_pass(
        self, conn: asyncpg.Connection, pass_id: str, command: OfficeCommand
    ) -> str:
        """A lost pass: a new code for the same pass (its quota and uses go on); the old code
        stops working. Returns the new code, shown once; no code is ever shown again."""
        pass_ = await self.state.pass_for_update(conn, pass_id)
        if pass_ is None:
            raise NotFound("pass", pass_id)
        if pass_.revoked:
            raise AlreadyExists(f"pass {pass_id!r} is revoked: issue a new one")
        note_id = None
        if command.note:
            note_id = await self.state.write_note(
                conn, pass_stream(pass_id), command.note, command.actor, command.at
            )
        code = secrets.token_urlsafe(12)
        event = PassReissued(
            pass_id=pass_id,
            reason_code=command.reason_code,
            note_id=note_id,
            reissued_at=command.at,
        )
        meta = self._meta(command.actor, pass_.community_id, command.correlation_id)
        await self._append(conn, pass_stream(pass_id), event, pass_.version, meta, pass_id)
        await self.state.reissue_pass(conn, pass_id, code, pass_.version + 1)
        return code

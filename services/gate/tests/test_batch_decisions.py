"""Deciding a batch of scans from a loaded context, as plain Python (no infrastructure):
exit quotas counted across the scans of one batch and across the day, pass versions, and
what becomes of a scan that names an unknown checkpoint."""

from __future__ import annotations

import uuid
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

from cordon_contracts.gate import PassUsed, ScanRejected
from cordon_core.envelope import Envelope, PendingEvent
from cordon_gate.domain.batch import (
    BatchDecision,
    ExitCount,
    IncomingScan,
    Rejections,
    decide_batch,
)
from cordon_gate.domain.context import ScanContext
from cordon_gate.domain.decisions import Scan
from cordon_gate.domain.restrictions import PersonRestrictions
from cordon_gate.domain.state import Checkpoint, GatePolicy, PassState, PersonStatus

SHANGHAI = ZoneInfo("Asia/Shanghai")
NOW = datetime(2022, 4, 1, 8, 0, tzinfo=UTC)  # 16:00 in Shanghai
TODAY = date(2022, 4, 1)
GATE = Checkpoint("east", "maple", "compound-1", "East gate", True, False, 48)
DEFAULTS = GatePolicy("maple")
RESIDENT = PersonStatus("p1", "maple", None, None, NOW - timedelta(hours=1), "owner")
PASS = PassState(
    "pass-1",
    "temporary",
    "p1",
    "maple",
    NOW - timedelta(days=1),
    NOW + timedelta(days=6),
    daily_exit_quota=None,
    revoked=False,
    version=3,
)


def context(
    *,
    policy: GatePolicy = DEFAULTS,
    passes: dict[str, PassState] | None = None,
    exits: dict[tuple[str, str, date], int] | None = None,
    restrictions: dict[tuple[str, str], PersonRestrictions] | None = None,
) -> ScanContext:
    held: dict[tuple[str, str], tuple[PassState, ...]] = {
        (p.holder_person_id, p.community_id): (p,) for p in (passes or {}).values()
    }
    return ScanContext(
        stored=set(),
        checkpoints={"east": GATE},
        policies={"maple": policy},
        passes=passes or {},
        people={"p1": RESIDENT},
        restrictions=restrictions or {},
        held=held,
        exits=exits or {},
    )


def scan(scan_id: str, **changes: object) -> IncomingScan:
    base = Scan(scan_id, "east", NOW, "out", "resident", "p1", 36.5, "green")
    return IncomingScan(replace(base, **changes), actor="device:d1")  # type: ignore[arg-type]


def decided(
    scans: list[IncomingScan],
    loaded: ScanContext,
    *,
    rejections: Rejections = "report",
    stored: dict[uuid.UUID, Envelope] | None = None,
) -> BatchDecision:
    return decide_batch(
        scans, loaded, stored or {}, timezone=SHANGHAI, actor="device", rejections=rejections
    )


ONE_EXIT_FOR_OWNERS = GatePolicy("maple", version=2, daily_exit_quotas={"owner": 1})


def test_the_second_exit_of_one_batch_is_denied_by_a_quota_of_one() -> None:
    batch = decided([scan("s1"), scan("s2")], context(policy=ONE_EXIT_FOR_OWNERS))

    assert [r.decision for r in batch.results] == ["allow", "deny"]
    assert batch.results[1].reasons == ("exit_quota_exhausted",)
    assert batch.exits == [ExitCount("p1", "maple", TODAY, 0, 1)]


def test_exits_counted_earlier_today_count_against_the_quota() -> None:
    counted = {("p1", "maple", TODAY): 1}
    batch = decided([scan("s1")], context(policy=ONE_EXIT_FOR_OWNERS, exits=counted))

    assert batch.results[0].reasons == ("exit_quota_exhausted",)
    assert batch.exits == []  # a denied exit counts nothing


def test_a_count_carried_into_the_batch_moves_from_its_stored_value() -> None:
    policy = replace(ONE_EXIT_FOR_OWNERS, daily_exit_quotas={"owner": 3})
    counted = {("p1", "maple", TODAY): 1}
    batch = decided([scan("s1"), scan("s2"), scan("s3")], context(policy=policy, exits=counted))

    assert [r.decision for r in batch.results] == ["allow", "allow", "deny"]
    assert batch.exits == [ExitCount("p1", "maple", TODAY, 1, 3)]


def test_the_quota_resets_at_local_midnight_not_at_utc_midnight() -> None:
    # 23:30 and 00:30 in Shanghai: two local days, although both are 1 April in UTC.
    late = scan("s1", scanned_at=datetime(2022, 4, 1, 15, 30, tzinfo=UTC))
    early = scan("s2", scanned_at=datetime(2022, 4, 1, 16, 30, tzinfo=UTC))
    batch = decided([late, early], context(policy=ONE_EXIT_FOR_OWNERS))

    assert [r.decision for r in batch.results] == ["allow", "allow"]
    assert batch.exits == [
        ExitCount("p1", "maple", date(2022, 4, 1), 0, 1),
        ExitCount("p1", "maple", date(2022, 4, 2), 0, 1),
    ]


def test_entries_never_count_against_an_exit_quota() -> None:
    batch = decided(
        [scan("s1", direction="in"), scan("s2", direction="in"), scan("s3")],
        context(policy=ONE_EXIT_FOR_OWNERS),
    )

    assert [r.decision for r in batch.results] == ["allow", "allow", "allow"]
    assert batch.exits == [ExitCount("p1", "maple", TODAY, 0, 1)]


def test_a_persons_own_quota_counts_exits_made_on_a_pass_and_as_a_resident_alike() -> None:
    own = {("p1", "maple"): PersonRestrictions(daily_exit_quota=1, version=1)}
    on_pass = scan("s1", subject_kind="pass_holder", subject_id="CODE-0001")
    as_resident = scan("s2")
    batch = decided([on_pass, as_resident], context(passes={"CODE-0001": PASS}, restrictions=own))

    assert [r.decision for r in batch.results] == ["allow", "deny"]
    assert batch.results[1].reasons == ("exit_quota_exhausted",)


def test_a_pass_used_twice_in_one_batch_is_appended_at_consecutive_versions() -> None:
    uses = [
        scan(f"s{i}", subject_kind="pass_holder", subject_id="CODE-0001", direction=d)
        for i, d in enumerate(("out", "in"))
    ]
    batch = decided(uses, context(passes={"CODE-0001": PASS}))

    [record] = batch.passes
    assert (record.pass_id, record.first_version, record.actor) == ("pass-1", 3, "device:d1")
    assert [type(e.payload) for e in record.events] == [PassUsed, PassUsed]
    assert batch.pass_versions == {"pass-1": 5}
    assert batch.uses == [("pass-1", TODAY, "out"), ("pass-1", TODAY, "in")]
    assert not batch.only_new_scans


def test_a_residents_scans_alone_are_only_new_streams() -> None:
    batch = decided([scan("s1", direction="in")], context())

    assert batch.only_new_scans and not batch.records_nothing
    assert [[e.payload.event_type for e in r.events] for r in batch.scans] == [["PersonEntered"]]


def test_an_unknown_checkpoint_is_reported_and_the_others_recorded() -> None:
    batch = decided([scan("s1", checkpoint_id="west"), scan("s2")], context())

    assert batch.results[0].rejection == ("checkpoint_id", "unknown checkpoint")
    assert [r.scan.scan_id for r in batch.scans] == ["s2"]


def test_the_feed_records_an_unknown_checkpoint_as_rejected() -> None:
    batch = decided([scan("s1", checkpoint_id="west")], context(), rejections="record")

    [record] = batch.scans
    assert [type(e.payload) for e in record.events] == [ScanRejected]
    assert record.community_id is None


def test_a_batch_with_an_unknown_checkpoint_is_refused_whole() -> None:
    uses = [
        scan("s1", subject_kind="pass_holder", subject_id="CODE-0001"),
        scan("s2", checkpoint_id="west"),
    ]
    batch = decided(uses, context(passes={"CODE-0001": PASS}), rejections="refuse_batch")

    assert batch.records_nothing and batch.uses == [] and batch.exits == []
    assert batch.results[1].rejection == ("checkpoint_id", "unknown checkpoint")


def test_a_scan_decided_before_gets_its_stored_answer_and_records_nothing() -> None:
    first = decided([scan("s1", direction="in")], context())
    [record] = first.scans
    stored = {record.events[0].event_id: _envelope(record.events[0])}

    again = decided([scan("s1", direction="in")], context(), stored=stored)

    assert again.records_nothing
    [result] = again.results
    assert result.duplicate and result.decision == "allow"
    assert result.event_id == first.results[0].event_id


def _envelope(event: PendingEvent) -> Envelope:
    return Envelope(
        event_id=event.event_id,
        event_type=event.payload.event_type,
        schema_version=1,
        stream_id="scan:east:s1",
        stream_version=1,
        partition_key="east",
        occurred_at=event.occurred_at,
        recorded_at=event.occurred_at,
        correlation_id=uuid.uuid4(),
        causation_id=None,
        actor="device:d1",
        district="d",
        community="maple",
        payload=event.payload,
    )

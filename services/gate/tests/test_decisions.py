"""The decision rules, as plain Python (no infrastructure): one test per rule."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

from cordon_gate.domain.decisions import Decision, Scan, decide
from cordon_gate.domain.restrictions import PersonAtGate, PersonRestrictions
from cordon_gate.domain.state import Checkpoint, GatePolicy, PassState, PersonStatus

NOW = datetime(2022, 4, 1, 8, 0, tzinfo=UTC)
GATE = Checkpoint("east", "maple", "compound-1", "East gate", True, False, 48)
POLICY = GatePolicy("maple")
RESIDENT = PersonStatus("p1", "maple", None, None, NOW - timedelta(hours=1))
PASS = PassState(
    "pass-1",
    "temporary",
    "p1",
    "maple",
    NOW - timedelta(days=1),
    NOW + timedelta(days=6),
    daily_exit_quota=1,
    revoked=False,
    version=1,
)


def scan(**changes: object) -> Scan:
    base = Scan("s1", "east", NOW, "in", "resident", "p1", 36.5, "green")
    return replace(base, **changes)  # type: ignore[arg-type]


def verdict(
    s: Scan,
    *,
    checkpoint: Checkpoint = GATE,
    policy: GatePolicy = POLICY,
    person: PersonStatus | None = RESIDENT,
    pass_: PassState | None = None,
    who: PersonAtGate | None = None,
) -> Decision:
    return decide(s, checkpoint, policy, person, pass_, who)


def holder(exits_today: int = 0, **restrictions: object) -> PersonAtGate:
    """The pass's holder p1, holding PASS (one exit a day)."""
    return PersonAtGate("p1", PersonRestrictions(**restrictions), (PASS,), "owner", exits_today)  # type: ignore[arg-type]


def test_a_resident_with_a_green_code_and_normal_temperature_is_allowed() -> None:
    assert verdict(scan()) == Decision(allowed=True)


def test_temperature_at_the_threshold_is_a_fever_and_denied() -> None:
    d = verdict(scan(temperature_c=37.3))
    assert (d.allowed, d.reasons, d.alerts, d.fever) == (False, ("fever",), ("fever",), True)
    assert verdict(scan(temperature_c=37.2)).allowed


def test_the_threshold_comes_from_the_community_policy() -> None:
    assert verdict(scan(temperature_c=37.3), policy=replace(POLICY, fever_threshold_c=37.5)).allowed


def test_a_red_code_is_denied_with_an_alert() -> None:
    d = verdict(scan(health_code="red"))
    assert (d.allowed, d.reasons, d.alerts) == (False, ("red_code",), ("red_code",))


def test_a_yellow_code_is_denied_or_allowed_with_an_alert_as_the_policy_says() -> None:
    assert verdict(scan(health_code="yellow")).reasons == ("yellow_code",)
    relaxed = verdict(scan(health_code="yellow"), policy=replace(POLICY, yellow_code="alert"))
    assert (relaxed.allowed, relaxed.alerts) == (True, ("yellow_code",))


def test_an_itinerary_in_a_risk_area_follows_the_policy() -> None:
    assert verdict(scan(itinerary_risk=True)).alerts == ("itinerary_risk",)
    strict = replace(POLICY, itinerary_risk="deny")
    assert verdict(scan(itinerary_risk=True), policy=strict).reasons == ("itinerary_risk",)


def test_exit_denied_while_home_or_centralized_isolation_is_active() -> None:
    for level in ("home", "centralized"):
        isolated = replace(RESIDENT, isolation_level=level)
        d = verdict(scan(direction="out"), person=isolated)
        assert (d.reasons, d.alerts) == (("isolated",), ("isolated_exit_attempt",))
        assert verdict(scan(direction="in"), person=isolated).allowed, "coming home is allowed"


def test_exit_under_home_health_monitoring_follows_the_policy() -> None:
    monitored = replace(RESIDENT, isolation_level="monitoring")
    assert verdict(scan(direction="out"), person=monitored).alerts == ("health_monitoring_exit",)
    strict = replace(POLICY, health_monitoring_exit="deny")
    d = verdict(scan(direction="out"), person=monitored, policy=strict)
    assert d.reasons == ("health_monitoring",)


def test_a_checkpoint_can_require_a_negative_test_within_its_hours() -> None:
    strict_gate = replace(GATE, requires_negative_test=True, negative_test_hours=48)
    tested = replace(RESIDENT, last_negative_test_at=NOW - timedelta(hours=47))
    stale = replace(RESIDENT, last_negative_test_at=NOW - timedelta(hours=49))

    assert verdict(scan(), checkpoint=strict_gate).reasons == ("no_recent_negative_test",)
    assert verdict(scan(), checkpoint=strict_gate, person=tested).allowed
    assert verdict(scan(), checkpoint=strict_gate, person=stale).reasons == (
        "no_recent_negative_test",
    )
    shown = scan(negative_test_at=NOW - timedelta(hours=20))
    assert verdict(shown, checkpoint=strict_gate, person=stale).allowed


def test_a_non_resident_must_register_as_a_visitor() -> None:
    assert verdict(scan(), person=None).reasons == ("not_a_resident",)
    elsewhere = replace(RESIDENT, community_id="willow")
    assert verdict(scan(), person=elsewhere).reasons == ("not_a_resident",)
    assert verdict(scan(subject_kind="visitor", subject_id="v-1"), person=None).allowed


def test_a_policy_may_refuse_visitors_entirely() -> None:
    closed = replace(POLICY, visitors="refuse")
    d = verdict(scan(subject_kind="visitor", subject_id="v-1"), person=None, policy=closed)
    assert d.reasons == ("visitors_refused",)


def test_a_pass_within_its_quota_is_allowed_and_used() -> None:
    d = verdict(scan(subject_kind="pass_holder", direction="out"), pass_=PASS, who=holder())
    assert (d.allowed, d.uses_pass, d.counts_exit) == (True, True, True)


def test_an_exhausted_revoked_expired_foreign_or_unknown_pass_is_denied() -> None:
    out = scan(subject_kind="pass_holder", direction="out")
    assert verdict(out, pass_=PASS, who=holder(exits_today=1)).reasons == ("pass_quota_exhausted",)
    assert verdict(out, pass_=replace(PASS, revoked=True)).reasons == ("pass_revoked",)
    expired = replace(PASS, valid_until=NOW - timedelta(seconds=1))
    assert verdict(out, pass_=expired).reasons == ("pass_not_valid_now",)
    foreign = replace(PASS, community_id="willow")
    assert verdict(out, pass_=foreign).reasons == ("pass_wrong_community",)
    assert verdict(out, pass_=None).reasons == ("pass_unknown",)


def test_the_daily_quota_limits_exits_not_entries() -> None:
    entering = scan(subject_kind="pass_holder", direction="in")
    assert verdict(entering, pass_=PASS, who=holder(exits_today=1)).allowed


def test_a_pass_holders_used_up_exit_also_denies_their_resident_qr_code() -> None:
    out = scan(direction="out")
    assert verdict(out, who=holder(exits_today=1)).reasons == ("pass_quota_exhausted",)
    assert verdict(out, who=holder(exits_today=0)).allowed


def test_a_barred_person_is_denied_in_and_out_whatever_they_show() -> None:
    for subject_kind, pass_ in (("resident", None), ("pass_holder", PASS), ("visitor", None)):
        for direction in ("in", "out"):
            s = scan(subject_kind=subject_kind, direction=direction)
            d = verdict(s, pass_=pass_, who=holder(barred=True))
            assert "barred" in d.reasons and "barred_person" in d.alerts


def test_the_smallest_quota_that_applies_binds_and_a_revoked_pass_gives_no_category() -> None:
    policy = replace(POLICY, daily_exit_quotas={"temporary_pass_holder": 2, "tenant": 3})
    out = scan(direction="out")
    own = replace(holder(exits_today=2, daily_exit_quota=5), passes=())
    assert verdict(out, policy=policy, who=own).allowed  # no category applies: own quota 5
    tenant = replace(own, residence_type="tenant", exits_today=3)
    assert verdict(out, policy=policy, who=tenant).reasons == ("exit_quota_exhausted",)
    unlimited_pass = replace(PASS, daily_exit_quota=None)
    temporary = replace(own, passes=(unlimited_pass,))
    assert verdict(out, policy=policy, who=temporary).reasons == ("exit_quota_exhausted",)
    revoked = replace(own, passes=(replace(unlimited_pass, revoked=True),))
    assert verdict(out, policy=policy, who=revoked).allowed


def test_an_exit_counts_against_a_quota_only_when_one_applies_and_it_is_let_through() -> None:
    out = scan(direction="out")
    free = PersonAtGate("p1", PersonRestrictions())
    assert not verdict(out, who=free).counts_exit
    assert verdict(out, who=holder()).counts_exit
    assert not verdict(scan(direction="in"), who=holder()).counts_exit
    assert not verdict(replace(out, health_code="red"), who=holder()).counts_exit


def test_a_closed_checkpoint_refuses_every_scan() -> None:
    assert verdict(scan(), checkpoint=replace(GATE, is_open=False)).reasons == (
        "checkpoint_closed",
    )


def test_a_denial_lists_every_reason_at_once() -> None:
    d = verdict(
        scan(temperature_c=38.4, health_code="red"), checkpoint=replace(GATE, is_open=False)
    )
    assert d.reasons == ("checkpoint_closed", "fever", "red_code")
    assert d.alerts == ("fever", "red_code")

"""Who is told what, quiet hours, rate limits, backoff and templates: plain Python, an
injected clock, no I/O."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest

from cordon_contracts import gate, isolation, lab
from cordon_notification.adapters.templates import Templates
from cordon_notification.domain.delivery import (
    QuietHours,
    RateLimit,
    backoff,
    delivery_id,
    due_at,
)
from cordon_notification.domain.notices import notices_for

SHANGHAI = ZoneInfo("Asia/Shanghai")
T0 = datetime(2022, 4, 1, 14, 0, tzinfo=UTC)  # 22:00 in Shanghai
NIGHT = QuietHours(time(22, 0), time(7, 0))


def scan(**fields: object) -> dict[str, object]:
    return {
        "scan_id": "s1", "checkpoint_id": "east", "community_id": "heping",
        "compound_id": "c1", "direction": "out", "scanned_at": T0, "subject_kind": "resident",
        "person_id": "p1", "temperature_c": 36.5, "health_code": "red",
        "itinerary_risk": False, "policy_version": 0, "status_as_of": T0, **fields,
    }  # fmt: skip


def test_a_fever_is_an_urgent_notice_for_the_local_staff() -> None:
    fever = gate.FeverDetected(
        scan_id="s1", checkpoint_id="east", community_id="heping", compound_id="c1",
        person_id="p1", subject_kind="resident", temperature_c=38.2, threshold_c=37.3,
        scanned_at=T0,
    )  # fmt: skip

    [notice] = notices_for(fever)

    assert (notice.template, notice.audiences, notice.urgent) == (
        "fever_detected",
        ("local_staff",),
        True,
    )


def test_a_denial_tells_its_code_alerts_but_leaves_the_fever_to_fever_detected() -> None:
    denied = gate.ExitDenied(
        **scan(alerts=["fever", "red_code", "isolated_exit_attempt"]),
        reasons=["fever", "red_code", "isolated"],
    )

    notices = notices_for(denied)

    assert [(n.template, n.urgent) for n in notices] == [
        ("red_code_at_gate", True),
        ("isolated_exit_attempt", True),
    ]


def test_a_yellow_code_is_told_but_not_urgent() -> None:
    [notice] = notices_for(
        gate.EntryDenied(**scan(alerts=["yellow_code"]), reasons=["yellow_code"])
    )
    assert (notice.template, notice.urgent) == ("yellow_code_at_gate", False)


def test_a_breach_escalated_to_the_sub_district_tells_it_too() -> None:
    breach = isolation.IsolationBreached(
        order_id="o1", person_id="p1", breach_id="b1", kind="left_home", observed_at=T0,
        reported_by="gw-1", escalated_to="sub_district",
    )  # fmt: skip

    [notice] = notices_for(breach)

    assert notice.audiences == ("local_staff", "office", "sub_district") and notice.urgent


def test_residents_hear_of_their_isolation_results_and_release() -> None:
    events = [
        isolation.IsolationStarted(
            order_id="o1", person_id="p1", level="home", community_id="heping",
            reason="close contact", starts_at=T0, planned_end_at=T0 + timedelta(days=7),
        ),
        lab.TestResultReceived(
            sample_id="s1", person_id="p1", collected_at=T0, result="negative", lab="lab-1"
        ),
        isolation.IsolationEnded(order_id="o1", person_id="p1", ended_at=T0, rule="7 days"),
    ]  # fmt: skip

    told = [n for e in events for n in notices_for(e)]

    assert [(n.template, n.audiences) for n in told] == [
        ("isolation_notice", ("resident",)),
        ("test_result", ("resident",)),
        ("isolation_released", ("resident",)),
    ]


def test_quiet_hours_hold_normal_messages_until_morning_but_not_urgent_ones() -> None:
    normal = due_at(T0, urgent=False, quiet=NIGHT, zone=SHANGHAI)
    urgent = due_at(T0, urgent=True, quiet=NIGHT, zone=SHANGHAI)
    afternoon = T0 - timedelta(hours=6)

    assert normal == datetime(2022, 4, 2, 7, 0, tzinfo=SHANGHAI)
    assert urgent == T0
    assert due_at(afternoon, urgent=False, quiet=NIGHT, zone=SHANGHAI) == afternoon


def test_quiet_hours_after_midnight_end_the_same_morning() -> None:
    two_am = datetime(2022, 4, 2, 2, 0, tzinfo=SHANGHAI)
    assert due_at(two_am, urgent=False, quiet=NIGHT, zone=SHANGHAI) == datetime(
        2022, 4, 2, 7, 0, tzinfo=SHANGHAI
    )


def test_a_rate_limit_holds_what_is_beyond_the_allowance_except_urgent() -> None:
    limit = RateLimit(2, timedelta(minutes=10))
    queued = [("gw", "webhook", False)] * 3 + [("gw", "webhook", True), ("bh", "webhook", False)]

    assert limit.held({("gw", "webhook"): 1}, queued) == [False, True, True, False, False]


def test_backoff_doubles_up_to_its_maximum() -> None:
    assert [backoff(n, 2, 10).total_seconds() for n in (1, 2, 3, 4)] == [2, 4, 8, 10]


def test_a_delivery_id_names_one_event_recipient_and_channel() -> None:
    event = uuid.uuid4()
    assert delivery_id(event, "gw", "webhook") == delivery_id(event, "gw", "webhook")
    assert delivery_id(event, "gw", "webhook") != delivery_id(event, "gw", "email")


FACTS: dict[str, dict[str, object]] = {
    "fever_detected": {"checkpoint_id": "east", "temperature_c": 38.2, "threshold_c": 37.3,
                       "scanned_at": T0, "subject_kind": "resident"},
    "red_code_at_gate": {"checkpoint_id": "east", "scanned_at": T0, "reasons": ["red_code"],
                         "direction": "in"},
    "yellow_code_at_gate": {"checkpoint_id": "east", "scanned_at": T0, "reasons": [],
                            "direction": "in"},
    "isolated_exit_attempt": {"checkpoint_id": "east", "scanned_at": T0, "reasons": ["isolated"],
                              "direction": "out"},
    "check_in_missed": {"due_at": T0, "order_id": "o1"},
    "support_requested": {"kind": "medicine", "requested_at": T0, "order_id": "o1",
                          "urgent": True},
    "isolation_breached": {"kind": "left_home", "observed_at": T0, "order_id": "o1",
                           "escalated_to": "police"},
    "isolation_notice": {"level": "home", "starts_at": T0, "ends_at": T0 + timedelta(days=7)},
    "isolation_extended": {"ends_at": T0, "reason": "positive household member"},
    "isolation_released": {"ended_at": T0},
    "test_result": {"result": "negative", "collected_at": T0},
    "check_in_reminder": {"day": "2022-04-01"},
    "digest": {"items": [{"subject": "one"}, {"subject": "two"}]},
    "daily_report": {"day": "2022-04-01", "area_id": "heping",
                     "counts": [("fever_detected", 3)]},
}  # fmt: skip


@pytest.mark.parametrize("language", ["zh-CN", "en"])
@pytest.mark.parametrize("template", sorted(FACTS))
def test_every_template_renders_in_both_languages(template: str, language: str) -> None:
    facts = {"person_id": "p1", "building_id": "b1", "household_id": "h1", **FACTS[template]}

    rendered = Templates(SHANGHAI).render(template, language, facts)

    assert rendered.subject and rendered.body and "{{" not in rendered.body


def test_a_fever_reads_in_chinese_and_english_with_local_times() -> None:
    facts = {"person_id": "p1", "building_id": "b1", "household_id": "h1",
             **FACTS["fever_detected"]}  # fmt: skip
    zh = Templates(SHANGHAI).render("fever_detected", "zh-CN", facts)
    en = Templates(SHANGHAI).render("fever_detected", "en", facts)

    assert zh.subject == "【紧急】east 发现发热：38.2 °C" and "2022-04-01 22:00" in zh.body  # noqa: RUF001
    assert en.subject == "[URGENT] Fever at east: 38.2 °C" and "2022-04-01 22:00" in en.body


def test_an_unknown_language_falls_back_to_the_default() -> None:
    rendered = Templates(SHANGHAI, "en").render("isolation_released", "fr", {"ended_at": T0})
    assert rendered.subject == "You are released from isolation"

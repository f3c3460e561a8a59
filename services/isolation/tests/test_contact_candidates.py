"""Close contacts from gate traffic, as the service runs: the gate's passages (published by a
stand-in on the gate topic) and the registry's households give a positive person's
candidates, each with its evidence and ranked by the policy; the office confirms (a
monitoring order follows) or dismisses each, and every step is an event."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
import pytest
from isolation_harness import (
    STAFF,
    TIMEOUT,
    call,
    household,
    isolation_events,
    new_id,
    order_level,
)

from cordon_contracts.gate import PersonEntered, PersonExited
from cordon_core.settings import ServiceSettings
from cordon_testing import ServiceProcess, wait_until
from cordon_testing.upstream import Upstream


def passage(
    person: str,
    checkpoint: str,
    community: str,
    at: datetime,
    kind: str = "resident",
    exited: bool = False,
) -> PersonEntered | PersonExited:
    event = PersonExited if exited else PersonEntered
    return event(
        scan_id=uuid.uuid4().hex, checkpoint_id=checkpoint, community_id=community,
        compound_id=f"{community}-compound", direction="out" if exited else "in",
        scanned_at=at, subject_kind=kind, person_id=person, temperature_c=36.5,
        health_code="green", itinerary_risk=False, policy_version=0, status_as_of=None,
    )  # fmt: skip


@dataclass
class Scene:
    """A positive person P of community ``community``, and who passed near them."""

    community: str
    positive: str
    housemate: str
    neighbour: str  # same building, another household
    twice: str  # 5 min after P at A, and again after P's exit
    before: str  # 10 min before P at A
    visitor: str  # a visitor's pseudonym, 1 min after P at A
    far: str  # 40 min after P at A: outside the 15-minute window
    elsewhere: str  # 1 min after P, at checkpoint B (P never passed B)
    long_ago: str  # 1 min after P's passage 6 days ago: before the 4-day look-back
    second_ring: str  # 19 min after P at A (out of P's window), 14 after ``twice``


async def passages_projected(settings: ServiceSettings, person_ids: list[str]) -> int:
    conn = await asyncpg.connect(settings.database_url)
    try:
        count: int = await conn.fetchval(
            "SELECT count(*) FROM isolation.passages WHERE person_id = ANY($1::text[])",
            person_ids,
        )
        return count
    finally:
        await conn.close()


@pytest.fixture(scope="module")
async def scene(
    isolation: ServiceProcess,
    registry_service: Upstream,
    gate_stand_in: Upstream,
    module_settings: ServiceSettings,
) -> Scene:
    community = new_id("c")
    positive, housemate = await household(registry_service, isolation, community, 2)
    [neighbour] = await household(registry_service, isolation, community, 1)
    s = Scene(
        community, positive, housemate, neighbour, twice=new_id("p"), before=new_id("p"),
        visitor=new_id("v"), far=new_id("p"), elsewhere=new_id("p"), long_ago=new_id("p"),
        second_ring=new_id("p"),
    )  # fmt: skip
    a, b = f"{community}-a", f"{community}-b"
    t0 = datetime.now(UTC) - timedelta(hours=3)
    old = datetime.now(UTC) - timedelta(days=6)
    m = timedelta(minutes=1)
    at_a = [
        passage(positive, a, community, old),
        passage(s.long_ago, a, community, old + m),
        passage(positive, a, community, t0, exited=True),
        passage(s.twice, a, community, t0 + 5 * m),
        passage(s.before, a, community, t0 - 10 * m, exited=True),
        passage(s.visitor, a, community, t0 + m, kind="visitor"),
        passage(s.far, a, community, t0 + 40 * m),
        passage(positive, a, community, t0 + 120 * m),
        passage(s.twice, a, community, t0 + 121 * m, exited=True),
        passage(s.second_ring, a, community, t0 + 19 * m),
    ]
    await gate_stand_in.publish(f"scan:{a}", *at_a, community=community)
    await gate_stand_in.publish(
        f"scan:{b}", passage(s.elsewhere, b, community, t0 + m), community=community
    )
    everyone = [
        positive, s.long_ago, s.twice, s.before, s.visitor, s.far, s.elsewhere, s.second_ring
    ]  # fmt: skip
    await wait_until(
        lambda: passages_projected(module_settings, everyone), until=lambda n: n == 11,
        timeout=TIMEOUT, what="the gate's passages in the isolation service's read model",
    )  # fmt: skip
    return s


async def candidates_of(isolation: ServiceProcess, person: str, query: str = "") -> dict[str, Any]:
    response = await call(isolation, STAFF, "GET", f"/v1/people/{person}/contact-candidates{query}")
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def by_id(body: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {c["candidate_id"]: c for c in body["candidates"]}


async def test_people_who_passed_the_same_checkpoint_within_the_window_are_candidates(
    isolation: ServiceProcess, scene: Scene
) -> None:
    body = await candidates_of(isolation, scene.positive)
    found = by_id(body)

    assert body["policy_version"] == 0 and body["window_minutes"] == 15
    assert body["lookback_days"] == 4 and body["passages"] == 2  # the 6-day-old one is out
    twice = found[scene.twice]
    assert twice["evidence"] == ["passage"] and twice["shared_passages"] == 2
    assert twice["closest_gap_s"] == 60.0
    assert [(p["checkpoint_id"], p["gap_s"]) for p in twice["passages"]] == [
        (f"{scene.community}-a", 60.0), (f"{scene.community}-a", 300.0),
    ]  # fmt: skip
    assert found[scene.before]["passages"][0]["gap_s"] == -600.0  # before P's passage
    assert found[scene.visitor]["subject_kind"] == "visitor"
    assert found[scene.visitor]["closest_gap_s"] == 60.0


async def test_passages_outside_the_window_at_another_checkpoint_or_before_the_look_back_dont_count(
    isolation: ServiceProcess, scene: Scene
) -> None:
    found = by_id(await candidates_of(isolation, scene.positive))

    assert scene.far not in found  # 40 minutes after: outside the 15-minute window
    assert scene.elsewhere not in found  # checkpoint B, which P never passed
    assert scene.long_ago not in found  # 6 days ago: before the 4-day look-back
    assert scene.positive not in found


async def test_household_first_then_more_shared_passages_then_the_closest_gap_then_the_building(
    isolation: ServiceProcess, scene: Scene
) -> None:
    body = await candidates_of(isolation, scene.positive)

    assert [c["candidate_id"] for c in body["candidates"]] == [
        scene.housemate, scene.twice, scene.visitor, scene.before, scene.neighbour,
    ]  # fmt: skip
    found = by_id(body)
    assert found[scene.housemate]["evidence"] == ["household"]
    assert found[scene.neighbour]["evidence"] == ["building"]
    assert body["ranking"] == ["household", "shared_passages", "closest_gap", "building"]


async def test_confirming_starts_a_monitoring_order_and_a_retried_confirm_does_nothing_more(
    isolation: ServiceProcess, scene: Scene, module_settings: ServiceSettings
) -> None:
    path = f"/v1/people/{scene.positive}/contact-candidates/{scene.twice}/confirm"

    first = await call(isolation, STAFF, "POST", path, json={"decided_by": "staff-7"})
    again = await call(isolation, STAFF, "POST", path, json={"decided_by": "staff-7"})

    assert first.status_code == 200, first.text
    assert first.json()["events"] == ["ContactCandidateConfirmed", "IsolationStarted"]
    assert again.status_code == 200 and again.json()["events"] == []
    found = await order_level(isolation, scene.twice, "monitoring")
    [(kind, confirmed)] = await isolation_events(module_settings, f"contacts:{scene.positive}")
    assert kind == "ContactCandidateConfirmed"
    assert confirmed["candidate_id"] == scene.twice and confirmed["shared_passages"] == 2
    assert confirmed["order_id"] == found["order"]["order_id"]
    assert confirmed["order_level"] == "monitoring" and confirmed["decided_by"] == "staff-7"
    [(started_kind, started)] = await isolation_events(module_settings, f"isolation:{scene.twice}")
    assert started_kind == "IsolationStarted" and started["reason_code"] == "close_contact"
    listed = by_id(await candidates_of(isolation, scene.positive))[scene.twice]
    assert listed["decision"] == "confirmed"
    assert listed["active_order"] == {"order_id": confirmed["order_id"], "level": "monitoring"}


async def test_dismissing_a_candidate_records_its_event_and_a_confirmed_one_cannot_be_dismissed(
    isolation: ServiceProcess, scene: Scene, module_settings: ServiceSettings
) -> None:
    base = f"/v1/people/{scene.positive}/contact-candidates"

    dismissed = await call(
        isolation, STAFF, "POST", f"{base}/{scene.before}/dismiss", json={"decided_by": "staff-7"}
    )
    refused = await call(
        isolation, STAFF, "POST", f"{base}/{scene.twice}/dismiss", json={"decided_by": "staff-7"}
    )

    assert dismissed.status_code == 200 and dismissed.json()["events"] == [
        "ContactCandidateDismissed"
    ]
    assert refused.status_code == 409 and "candidate_id" in refused.text
    kinds = [k for k, _ in await isolation_events(module_settings, f"contacts:{scene.positive}")]
    assert kinds.count("ContactCandidateDismissed") == 1
    assert await isolation_events(module_settings, f"isolation:{scene.before}") == []
    assert by_id(await candidates_of(isolation, scene.positive))[scene.before]["decision"] == (
        "dismissed"
    )


async def test_the_second_ring_lists_the_contacts_of_confirmed_contacts(
    isolation: ServiceProcess, scene: Scene
) -> None:
    # ``twice`` was confirmed above; ``second_ring`` passed A 14 minutes after them, 19 after
    # P: a contact of the contact, not of P.
    ring_one = by_id(await candidates_of(isolation, scene.positive))
    body = await candidates_of(isolation, scene.positive, "?ring=2")

    assert scene.second_ring not in ring_one
    found = by_id(body)
    assert found[scene.second_ring]["via"] == scene.twice
    assert found[scene.second_ring]["evidence"] == ["contact_of_contact"]
    assert found[scene.second_ring]["closest_gap_s"] == 14 * 60.0
    assert body["candidates"][-1]["via"] is not None  # ring two after ring one
    assert found[scene.housemate]["via"] is None  # ring one keeps its own evidence
    assert scene.positive not in found


async def test_confirming_a_second_ring_contact_orders_monitoring_as_a_secondary_contact(
    isolation: ServiceProcess, scene: Scene, module_settings: ServiceSettings
) -> None:
    path = f"/v1/people/{scene.positive}/contact-candidates/{scene.second_ring}/confirm"

    confirmed = await call(isolation, STAFF, "POST", path, json={"decided_by": "staff-7"})

    assert confirmed.status_code == 200, confirmed.text
    await order_level(isolation, scene.second_ring, "monitoring")
    [(_, started)] = await isolation_events(module_settings, f"isolation:{scene.second_ring}")
    assert started["reason_code"] == "secondary_contact"
    assert started["community_id"] == scene.community  # from the passages: not a resident
    decisions = await isolation_events(module_settings, f"contacts:{scene.positive}")
    assert decisions[-1][1]["via"] == scene.twice
    assert decisions[-1][1]["evidence"] == ["contact_of_contact"]


async def test_a_confirm_sent_again_with_its_idempotency_key_gets_the_first_answer_back(
    isolation: ServiceProcess, scene: Scene, module_settings: ServiceSettings
) -> None:
    path = f"/v1/people/{scene.positive}/contact-candidates/{scene.visitor}/confirm"
    key = {"Idempotency-Key": str(uuid.uuid4())}

    first = await call(isolation, STAFF, "POST", path, key, json={"decided_by": "staff-7"})
    again = await call(isolation, STAFF, "POST", path, key, json={"decided_by": "staff-7"})

    assert first.status_code == 200 and again.status_code == 200
    assert again.headers.get("Idempotent-Replayed") == "true"
    assert again.json() == first.json()
    assert first.json()["events"] == ["ContactCandidateConfirmed", "IsolationStarted"]
    assert len(await isolation_events(module_settings, f"isolation:{scene.visitor}")) == 1


async def test_hostile_inputs_are_refused_naming_the_field(
    isolation: ServiceProcess, scene: Scene
) -> None:
    base = f"/v1/people/{scene.positive}/contact-candidates"

    unknown = await call(isolation, STAFF, "GET", f"/v1/people/{new_id('p')}/contact-candidates")
    nul = await call(isolation, STAFF, "GET", "/v1/people/p%00x/contact-candidates")
    future = await call(isolation, STAFF, "GET", f"{base}?as_of=2099-01-01T00:00:00Z")
    ring = await call(isolation, STAFF, "GET", f"{base}?ring=3")
    stranger = await call(isolation, "not-the-office", "GET", base)
    not_a_candidate = await call(
        isolation, STAFF, "POST", f"{base}/{scene.far}/confirm", json={"decided_by": "staff-7"}
    )
    id_number = await call(
        isolation, STAFF, "POST", f"{base}/{scene.visitor}/confirm",
        json={"decided_by": "110101199003077777"},
    )  # fmt: skip

    assert unknown.status_code == 404 and "person_id" in unknown.text
    # The shared input guard refuses a NUL anywhere in the path before routing: it names
    # the path, as for every service.
    assert nul.status_code == 422 and nul.json()["detail"][0]["loc"] == ["path"]
    assert future.status_code == 422 and "as_of" in future.text
    assert ring.status_code == 422 and "ring" in ring.text
    assert stranger.status_code == 401
    assert not_a_candidate.status_code == 404 and "candidate_id" in not_a_candidate.text
    assert id_number.status_code == 422 and "decided_by" in id_number.text


async def test_the_window_is_policy_and_the_answer_names_its_version(
    isolation: ServiceProcess, scene: Scene
) -> None:
    published = await call(
        isolation, STAFF, "PUT", "/v1/policy", json={"contact_window_minutes": 45}
    )
    assert published.status_code == 200, published.text

    body = await candidates_of(isolation, scene.positive)

    assert body["policy_version"] == published.json()["version"] >= 1
    assert body["window_minutes"] == 45
    assert scene.far in by_id(body)  # 40 minutes after P: inside 45


async def test_passages_older_than_the_retention_are_pruned_as_the_traffic_moves_on(
    isolation: ServiceProcess, gate_stand_in: Upstream, module_settings: ServiceSettings
) -> None:
    community, old_timer, today = new_id("c"), new_id("p"), new_id("p")
    gate = f"{community}-a"
    now = datetime.now(UTC)

    # 20 days ago: beyond CORDON_ISOLATION_PASSAGES_KEEP_DAYS (15) before the next passages.
    await gate_stand_in.publish(
        f"scan:{gate}", passage(old_timer, gate, community, now - timedelta(days=20))
    )
    # Pruning runs once per hour of traffic time, and the scene's traffic (up to an hour
    # ago) pruned already: the next prune comes with a passage more than an hour later.
    later = now + timedelta(hours=2)
    await gate_stand_in.publish(f"scan:{gate}", passage(today, gate, community, later))

    await wait_until(
        lambda: passages_projected(module_settings, [today]), until=lambda n: n == 1,
        timeout=TIMEOUT, what="today's passage",
    )  # fmt: skip
    assert await passages_projected(module_settings, [old_timer]) == 0

"""The office's commands at the gate, as it runs (real Kafka and PostgreSQL): every write is
safe to retry, the office's own words never leave the service, a lost pass is reissued and
never shown again, and the listings the office works from."""

from __future__ import annotations

import json
import uuid
from typing import Any

import httpx
from gate_harness import ADMIN, Community, resident

from cordon_core.privacy import personal_numbers
from cordon_core.settings import ServiceSettings
from cordon_testing import wait_until
from cordon_testing.kafka import header, read_topic
from cordon_testing.upstream import Upstream

NOTE = "骑手王五身份证11010519491231002X电话13912345678多次冲卡辱骂值守人员"


async def gate_events(settings: ServiceSettings, subject_prefix: str) -> list[Any]:
    records = await read_topic(
        settings.kafka_bootstrap, f"{settings.topic_prefix}.gate.events", timeout=20
    )
    return [r for r in records if (header(r, "ce_subject") or "").startswith(subject_prefix)]


def types(records: list[Any]) -> list[str]:
    return [str(header(r, "ce_type")).removeprefix("cordon.") for r in records]


async def test_revoking_twice_records_one_pass_revoked_and_bars_the_holder_once(
    community: Community, registry_service: Upstream, module_settings: ServiceSettings
) -> None:
    holder = await resident(community, registry_service)
    issued = await community.issue_pass(holder, "temporary", days=7)
    revoke = {"reason_code": "pass_abuse", "note": NOTE, "bar_holder": True}

    first = await community.admin("POST", f"/v1/passes/{issued['pass_id']}/revoke", revoke)
    second = await community.admin("POST", f"/v1/passes/{issued['pass_id']}/revoke", revoke)
    records = await wait_until(
        lambda: gate_events(module_settings, f"pass:{issued['pass_id']}"),
        until=lambda rs: "PassRevoked" in types(rs),
        what="the revocation on the gate's topic",
    )
    barred = await wait_until(
        lambda: gate_events(module_settings, f"restriction:{community.id}:{holder}"),
        until=lambda rs: bool(rs),
        what="the bar on the gate's topic",
    )

    assert first.json() == {
        "pass_id": issued["pass_id"],
        "status": "revoked",
        "holder_barred": True,
    }
    assert second.json() == {
        "pass_id": issued["pass_id"],
        "status": "already_revoked",
        "holder_barred": False,
    }
    assert types(records).count("PassRevoked") == 1
    assert types(barred) == ["PersonBarred"]
    revoked = json.loads(next(r.value for r in records if types([r]) == ["PassRevoked"]))
    assert (revoked["reason_code"], revoked["holder_barred"]) == ("pass_abuse", True)
    note = await community.admin("GET", f"/v1/notes/{revoked['note_id']}")
    assert (note.json()["text"], note.json()["subject"]) == (NOTE, f"pass:{issued['pass_id']}")


async def test_the_offices_own_words_never_leave_the_gate(
    community: Community, registry_service: Upstream, module_settings: ServiceSettings
) -> None:
    holder = await resident(community, registry_service)
    issued = await community.issue_pass(holder, "temporary", days=7)
    person = {"person_id": holder, "reason_code": "checkpoint_misconduct", "note": NOTE}

    answers = [
        await community.admin(
            "POST", f"/v1/checkpoints/{community.checkpoint}/close", {"reason": NOTE}
        ),
        await community.admin(
            "POST", f"/v1/checkpoints/{community.checkpoint}/open", {"note": NOTE}
        ),
        await community.admin("POST", f"/v1/passes/{issued['pass_id']}/reissue", {"note": NOTE}),
        await community.admin(
            "PUT", f"/v1/communities/{community.id}/exit-quotas", {**person, "daily_exits": 1}
        ),
        await community.admin("POST", f"/v1/communities/{community.id}/bans", person),
        await community.admin("POST", f"/v1/communities/{community.id}/bans/lift", person),
        await community.admin(
            "POST",
            f"/v1/passes/{issued['pass_id']}/revoke",
            {"reason_code": "pass_abuse", "note": NOTE},
        ),
    ]
    visitor = {"document_type": "resident_id", "document_number": "110105194912310021",
               "name": "王五", "phone": "13912345678", "reason": NOTE}  # fmt: skip
    await community.decision(visitor=visitor)
    ours = await wait_until(
        lambda: read_topic(
            module_settings.kafka_bootstrap, f"{module_settings.topic_prefix}.gate.events"
        ),
        until=lambda rs: (
            sum(
                header(r, "ce_type") in ("cordon.PassRevoked", "cordon.VisitorRegistered")
                and header(r, "ce_community") == community.id
                for r in rs
            )
            == 2
        ),
        what="the revocation and the visitor on the gate's topic",
    )

    assert [a.status_code for a in answers] == [200] * 7, [a.text for a in answers]
    assert len(personal_numbers(NOTE)) == 2, "the note holds an ID number and a phone number"
    wire = [r for r in ours if header(r, "ce_community") == community.id]
    for record in wire:
        text = record.value.decode()
        assert not personal_numbers(text), text
        assert "王五" not in text and "冲卡" not in text, text


async def test_a_lost_pass_is_reissued_and_its_old_code_stops_working(
    community: Community, registry_service: Upstream
) -> None:
    holder = await resident(community, registry_service)
    issued = await community.issue_pass(holder, "temporary", days=7)

    reissued = await community.admin(
        "POST", f"/v1/passes/{issued['pass_id']}/reissue", {"reason_code": "pass_lost"}
    )
    old = await community.decision(pass_code=issued["pass_code"])
    new = await community.decision(pass_code=reissued.json()["pass_code"])
    listed = await community.admin("GET", f"/v1/passes?community_id={community.id}")

    assert reissued.json()["pass_id"] == issued["pass_id"]
    assert reissued.json()["pass_code"] != issued["pass_code"]
    assert old["reasons"] == ["pass_unknown"] and new["decision"] == "allow"
    assert [p["pass_id"] for p in listed.json()] == [issued["pass_id"]]
    assert issued["pass_code"] not in listed.text
    assert reissued.json()["pass_code"] not in listed.text


async def test_the_office_lists_its_checkpoints_devices_passes_and_restricted_people(
    community: Community, registry_service: Upstream
) -> None:
    holder = await resident(community, registry_service)
    issued = await community.issue_pass(holder, "service", days=7)
    revoked = await community.issue_pass(holder, "temporary", days=7)
    await community.admin(
        "POST", f"/v1/passes/{revoked['pass_id']}/revoke", {"reason_code": "no_longer_needed"}
    )
    await community.admin(
        "PUT",
        f"/v1/communities/{community.id}/exit-quotas",
        {"person_id": holder, "daily_exits": 1, "reason_code": "office_decision"},
    )

    checkpoints = await community.admin("GET", f"/v1/checkpoints?community_id={community.id}")
    devices = await community.admin("GET", f"/v1/devices?community_id={community.id}")
    passes = await community.admin("GET", f"/v1/passes?holder_person_id={holder}")
    every_pass = await community.admin(
        "GET", f"/v1/passes?holder_person_id={holder}&include_revoked=true"
    )
    restricted = await community.admin("GET", f"/v1/communities/{community.id}/restrictions")

    assert [c["checkpoint_id"] for c in checkpoints.json()] == [community.checkpoint]
    assert [d["device_id"] for d in devices.json()] == [f"{community.checkpoint}-pad"]
    assert community.token not in devices.text
    assert [p["pass_id"] for p in passes.json()] == [issued["pass_id"]]
    assert sorted(p["pass_id"] for p in every_pass.json()) == sorted(
        [issued["pass_id"], revoked["pass_id"]]
    )
    assert "pass_code" not in every_pass.text
    assert restricted.json() == [
        {"person_id": holder, "community_id": community.id, "barred": False,
         "daily_exit_quota": 1}
    ]  # fmt: skip


async def test_a_retry_with_the_same_idempotency_key_gets_the_first_answer_and_records_nothing(
    community: Community, registry_service: Upstream, module_settings: ServiceSettings
) -> None:
    holder = await resident(community, registry_service)
    bar = {"person_id": holder, "reason_code": "checkpoint_misconduct"}
    key = {"Authorization": f"Bearer {ADMIN}", "Idempotency-Key": uuid.uuid4().hex}
    policy = {"daily_exit_quotas": {"temporary_pass_holder": 1}}

    async with httpx.AsyncClient(base_url=community.gate.url) as client:
        bans = [
            await client.post(f"/v1/communities/{community.id}/bans", json=bar, headers=key)
            for _ in range(2)
        ]
        path = f"/v1/communities/{community.id}/gate-policy"
        policies = [await client.put(path, json=policy, headers={**key, "Idempotency-Key": k})
                    for k in ("p1", "p1", "p2")]  # fmt: skip
    records = await wait_until(
        lambda: gate_events(module_settings, f"restriction:{community.id}:{holder}"),
        until=lambda rs: bool(rs),
        what="the bar on the gate's topic",
    )
    published = await gate_events(module_settings, f"policy:{community.id}")

    assert bans[0].json() == bans[1].json() == {"person_id": holder, "status": "barred"}
    assert bans[1].headers.get("Idempotent-Replayed") == "true"
    assert types(records) == ["PersonBarred"]
    assert [p.json()["status"] for p in policies] == ["published", "published", "unchanged"]
    assert types(published) == ["GatePolicyPublished"]


async def test_registering_the_same_checkpoint_again_records_nothing(
    community: Community,
) -> None:
    body = {"checkpoint_id": f"{community.id}-north", "community_id": community.id,
            "compound_id": f"{community.id}-compound", "name": "North gate"}  # fmt: skip

    first = await community.admin("POST", "/v1/checkpoints", body)
    again = await community.admin("POST", "/v1/checkpoints", body)
    other = await community.admin("POST", "/v1/checkpoints", {**body, "name": "Another"})

    assert (first.status_code, first.json()["status"]) == (201, "registered")
    assert (again.status_code, again.json()["status"]) == (200, "already_registered")
    assert other.status_code == 409

"""Restrictions bind the person, whatever they show (禁止该人员出入, 限定每天只能出入一次):
every identifier a scan can carry against every restriction, with the gate in its own
process on real Kafka and PostgreSQL."""

from __future__ import annotations

import asyncio
import uuid
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import pytest
from gate_harness import T0, Community, resident

from cordon_testing import ServiceProcess
from cordon_testing.upstream import Upstream

IDENTIFIERS = ("resident_qr", "pass_code", "visitor_document")
RESTRICTIONS = ("ban", "ban_on_revocation", "own_exit_quota", "pass_exit_quota", "category_quota")


@dataclass
class Rider:
    """A person who can be scanned in two ways: the way under test and another one."""

    community: Community
    person_id: str
    pass_id: str
    pass_code: str
    document: dict[str, str] | None
    """Set for a holder who is not a resident: their document shown as a visitor."""

    def shows(self, identifier: str) -> dict[str, Any]:
        if identifier == "pass_code":
            return {"pass_code": self.pass_code}
        if identifier == "visitor_document":
            assert self.document is not None
            return {"visitor": {**self.document, "name": "王五", "phone": "13912345678",
                                "reason": "送外卖", "purpose": "delivery"}}  # fmt: skip
        return {"person_id": self.person_id}

    def other_than(self, identifier: str) -> str:
        if identifier == "pass_code":
            return "visitor_document" if self.document else "resident_qr"
        return "pass_code"

    async def scan(self, identifier: str, direction: str, **fields: Any) -> dict[str, Any]:
        return await self.community.decision(
            **self.shows(identifier), direction=direction, **fields
        )

    def who(self) -> dict[str, Any]:
        """How the office names them in a command."""
        if self.document is not None:
            return {"visitor_document": self.document}
        return {"person_id": self.person_id}


async def rider(
    community: Community,
    registry_service: Upstream,
    identifier: str,
    *,
    daily_exit_quota: int | None = None,
) -> Rider:
    """A temporary-pass holder: a registered resident, or (for the visitor path) someone
    known only by a document, whose pass was issued to that document."""
    document = None
    holder: dict[str, Any]
    if identifier == "visitor_document":
        document = {"document_type": "passport", "document_number": f"E{uuid.uuid4().hex[:9]}"}
        holder = {"holder_visitor_document": document}
    else:
        holder = {"holder_person_id": await resident(community, registry_service)}
    response = await community.admin(
        "POST",
        "/v1/passes",
        {
            "kind": "temporary",
            **holder,
            "community_id": community.id,
            "valid_from": T0.isoformat(),
            "valid_until": (T0 + timedelta(days=30)).isoformat(),
            "daily_exit_quota": daily_exit_quota,
        },
    )
    assert response.status_code == 201, response.text
    issued = response.json()
    return Rider(
        community, issued["holder_person_id"], issued["pass_id"], issued["pass_code"], document
    )


async def restrict(r: Rider, restriction: str) -> None:
    """The office puts ``restriction`` on the rider."""
    c = r.community
    if restriction == "ban":
        response = await c.admin(
            "POST",
            f"/v1/communities/{c.id}/bans",
            {**r.who(), "reason_code": "checkpoint_misconduct"},
        )
    elif restriction == "ban_on_revocation":
        response = await c.admin(
            "POST",
            f"/v1/passes/{r.pass_id}/revoke",
            {"reason_code": "pass_abuse", "bar_holder": True},
        )
    elif restriction == "own_exit_quota":
        response = await c.admin(
            "PUT",
            f"/v1/communities/{c.id}/exit-quotas",
            {**r.who(), "daily_exits": 1, "reason_code": "office_decision"},
        )
    elif restriction == "category_quota":
        response = await c.admin(
            "PUT",
            f"/v1/communities/{c.id}/gate-policy",
            {"daily_exit_quotas": {"temporary_pass_holder": 1}},
        )
    else:
        return  # pass_exit_quota: the pass was issued with one exit a day
    assert response.status_code == 200, response.text


@pytest.mark.parametrize("restriction", RESTRICTIONS)
@pytest.mark.parametrize("identifier", IDENTIFIERS)
async def test_a_restriction_binds_the_person_whatever_identifier_they_show(
    community: Community, registry_service: Upstream, identifier: str, restriction: str
) -> None:
    quota = 1 if restriction == "pass_exit_quota" else None
    r = await rider(community, registry_service, identifier, daily_exit_quota=quota)
    other = r.other_than(identifier)

    before = await r.scan(identifier, "in")
    await restrict(r, restriction)
    if restriction.startswith("ban"):
        entering = await r.scan(identifier, "in")
        leaving = await r.scan(identifier, "out")

        assert before["decision"] == "allow", before
        for d in (entering, leaving):
            assert d["decision"] == "deny" and "barred" in d["reasons"], d
            assert "barred_person" in d["alerts"]
    else:
        first_exit = await r.scan(other, "out")
        second_exit = await r.scan(
            identifier, "out", scanned_at=(T0 + timedelta(hours=2)).isoformat()
        )
        back_in = await r.scan(identifier, "in", scanned_at=(T0 + timedelta(hours=3)).isoformat())
        next_day = await r.scan(identifier, "out", scanned_at=(T0 + timedelta(days=1)).isoformat())

        expected = (
            "pass_quota_exhausted" if restriction == "pass_exit_quota" else ("exit_quota_exhausted")
        )
        assert before["decision"] == "allow" and first_exit["decision"] == "allow", first_exit
        assert (second_exit["decision"], second_exit["reasons"]) == ("deny", [expected])
        assert back_in["decision"] == "allow", "a quota counts exits only"
        assert next_day["decision"] == "allow", "a new local day, a new quota"


async def test_a_barred_person_is_let_through_again_once_the_office_lifts_the_bar(
    community: Community, registry_service: Upstream
) -> None:
    r = await rider(community, registry_service, "resident_qr")
    bar = {**r.who(), "reason_code": "checkpoint_misconduct"}

    first = await community.admin("POST", f"/v1/communities/{community.id}/bans", bar)
    again = await community.admin("POST", f"/v1/communities/{community.id}/bans", bar)
    barred = await r.scan("pass_code", "in")
    lifted = await community.admin(
        "POST",
        f"/v1/communities/{community.id}/bans/lift",
        {**r.who(), "reason_code": "ban_served"},
    )
    lifted_again = await community.admin(
        "POST",
        f"/v1/communities/{community.id}/bans/lift",
        {**r.who(), "reason_code": "ban_served"},
    )
    after = await r.scan("resident_qr", "in")

    assert (first.json()["status"], again.json()["status"]) == ("barred", "already_barred")
    assert barred["reasons"] == ["barred"]
    assert (lifted.json()["status"], lifted_again.json()["status"]) == ("lifted", "not_barred")
    assert after["decision"] == "allow"


async def test_one_exit_a_day_lets_exactly_one_out_when_two_identifiers_are_scanned_at_once(
    gate: ServiceProcess, registry_service: Upstream
) -> None:
    east = await Community(gate, f"c{uuid.uuid4().hex[:8]}").register()
    west = Community(gate, east.id)
    west.checkpoint = f"{east.id}-west"
    await west.register()
    r = await rider(east, registry_service, "resident_qr", daily_exit_quota=1)
    r_west = Rider(west, r.person_id, r.pass_id, r.pass_code, None)

    answers = await asyncio.gather(
        *(
            side.scan(identifier, "out")
            for side in (r, r_west)
            for identifier in ("resident_qr", "pass_code")
            for _ in range(2)
        )
    )

    assert sorted(a["decision"] for a in answers) == ["allow"] + ["deny"] * 7, answers

"""Passes for a list (``POST /v1/passes/batch``), at the gate as it runs (real Kafka and
PostgreSQL): every pass of a list admits its holder as a single pass does, a list is issued
whole or not at all, its codes are shown once (a retry issues nothing), and hostile lists
get a 4xx naming the row and field with nothing recorded."""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

import httpx
from gate_harness import ADMIN, T0, Community, resident

from cordon_core.settings import ServiceSettings
from cordon_testing.refusals import ServiceRecord
from cordon_testing.upstream import Upstream

ID_NUMBER = "11010519491231002X"


def row(community: Community, *, days: float = 7, **holder: Any) -> dict[str, Any]:
    """A temporary pass valid from T0 for ``days``, held by ``holder`` (a person id or a
    document)."""
    return {
        "kind": "temporary",
        "community_id": community.id,
        "valid_from": T0.isoformat(),
        "valid_until": (T0 + timedelta(days=days)).isoformat(),
        **holder,
    }


def document(number: str) -> dict[str, Any]:
    return {"holder_visitor_document": {"document_type": "passport", "document_number": number}}


async def post_batch(
    community: Community, passes: Any, headers: dict[str, str] | None = None
) -> httpx.Response:
    async with httpx.AsyncClient(base_url=community.gate.url, timeout=60) as client:
        return await client.post(
            "/v1/passes/batch",
            json={"passes": passes},
            headers=headers if headers is not None else {"Authorization": f"Bearer {ADMIN}"},
        )


async def passes_of(community: Community) -> list[dict[str, Any]]:
    listed = await community.admin("GET", f"/v1/passes?community_id={community.id}&limit=1000")
    assert listed.status_code == 200, listed.text
    found: list[dict[str, Any]] = listed.json()
    return found


def named(response: httpx.Response) -> list[str]:
    """The fields a 422 names, as ``passes.3.valid_until``."""
    return [".".join(str(p) for p in e["loc"][1:]) for e in response.json()["detail"]]


async def test_each_pass_of_a_list_admits_its_holder_at_the_checkpoint(
    community: Community, registry_service: Upstream
) -> None:
    residents = [await resident(community, registry_service) for _ in range(3)]
    rider = document(f"E{uuid.uuid4().hex[:8]}")
    rows = [row(community, holder_person_id=p) for p in residents] + [row(community, **rider)]

    issued = await post_batch(community, rows)
    passes = issued.json()["passes"]
    decisions = [await community.decision(pass_code=p["pass_code"]) for p in passes]
    as_visitor = await community.decision(
        visitor={**rider["holder_visitor_document"], "name": "王五", "phone": "13800000000",
                 "reason": "送水", "purpose": "delivery"},
    )  # fmt: skip

    assert issued.status_code == 201, issued.text
    assert [p["holder_person_id"] for p in passes[:3]] == residents, "in row order"
    assert passes[3]["holder_person_id"].startswith("v-"), "the document's visitor id"
    assert len({p["pass_code"] for p in passes}) == 4
    assert [d["decision"] for d in decisions] == ["allow"] * 4, decisions
    assert as_visitor["decision"] == "allow"
    listed = await passes_of(community)
    assert sorted(p["pass_id"] for p in listed) == sorted(p["pass_id"] for p in passes)
    assert not any("pass_code" in p for p in listed), "no listing shows a code again"


async def test_one_bad_row_refuses_the_whole_list_naming_its_row_and_nothing_is_issued(
    community: Community, registry_service: Upstream, module_settings: ServiceSettings
) -> None:
    holders = [await resident(community, registry_service) for _ in range(4)]
    rows = [row(community, holder_person_id=p) for p in holders]
    rows[2]["valid_until"] = "2099-01-01T00:00:00+08:00"
    before = await ServiceRecord(module_settings, "gate").count()

    refused = await post_batch(community, rows)
    stranger = await post_batch(
        community, [*rows[:2], row(community, holder_person_id="p-never-registered")]
    )

    assert refused.status_code == 422 and named(refused) == ["passes.2.valid_until"]
    assert "at most 90 days" in refused.text
    # A holder is looked up inside the list's transaction (the gate's knowledge of residents
    # changes as the registry's events arrive): found unknown there, the list is refused whole.
    assert stranger.status_code == 422 and named(stranger) == ["passes.2.holder_person_id"]
    assert "has not heard of this person" in stranger.text
    assert await ServiceRecord(module_settings, "gate").count() == before, "nothing recorded"
    assert await passes_of(community) == []


async def test_a_list_retried_with_its_idempotency_key_is_refused_and_issues_nothing_more(
    community: Community, registry_service: Upstream, module_settings: ServiceSettings
) -> None:
    holders = [await resident(community, registry_service) for _ in range(2)]
    rows = [row(community, holder_person_id=p) for p in holders]
    key = {"Authorization": f"Bearer {ADMIN}", "Idempotency-Key": uuid.uuid4().hex}

    first = await post_batch(community, rows, key)
    after_first = await ServiceRecord(module_settings, "gate").count()
    retry = await post_batch(community, rows, key)
    other_list = await post_batch(community, rows[:1], key)

    assert first.status_code == 201, first.text
    assert retry.status_code == 409, "its answer held codes shown once: never shown again"
    assert "shown only once" in retry.text and ADMIN not in retry.text
    assert not any(p["pass_code"] in retry.text for p in first.json()["passes"])
    assert other_list.status_code == 409, "a key is for one request"
    assert await ServiceRecord(module_settings, "gate").count() == after_first
    assert len(await passes_of(community)) == 2


async def test_a_pass_of_a_list_admits_only_at_its_own_communitys_gates(
    community: Community, registry_service: Upstream, gate: Any
) -> None:
    elsewhere = await Community(gate, f"c{uuid.uuid4().hex[:8]}").register()
    holder = await resident(community, registry_service)
    [issued] = (await post_batch(community, [row(community, holder_person_id=holder)])).json()[
        "passes"
    ]

    at_home = await community.decision(pass_code=issued["pass_code"])
    at_the_other = await elsewhere.decision(pass_code=issued["pass_code"])
    no_token = await post_batch(community, [row(community, holder_person_id=holder)], {})
    device = await post_batch(
        community,
        [row(community, holder_person_id=holder)],
        {"Authorization": f"Bearer {community.token}"},
    )

    assert at_home["decision"] == "allow"
    assert at_the_other["decision"] == "deny"
    assert "pass_wrong_community" in at_the_other["reasons"]
    assert no_token.status_code == 401 and device.status_code == 401, "the office's token only"


async def test_the_same_holder_twice_in_a_list_is_refused_naming_the_later_row(
    community: Community, registry_service: Upstream, module_settings: ServiceSettings
) -> None:
    holder, other = [await resident(community, registry_service) for _ in range(2)]
    rider = document(f"E{uuid.uuid4().hex[:8]}")
    before = await ServiceRecord(module_settings, "gate").count()

    same_person = await post_batch(
        community,
        [row(community, holder_person_id=p) for p in (holder, other, holder)],
    )
    same_document = await post_batch(
        community, [row(community, **rider), {**row(community, **rider), "kind": "service"}]
    )

    assert same_person.status_code == 422 and named(same_person) == ["passes.2.holder_person_id"]
    assert "the same holder as row 0" in same_person.text
    assert same_document.status_code == 422 and named(same_document) == [
        "passes.1.holder_visitor_document"
    ]
    assert await ServiceRecord(module_settings, "gate").count() == before


async def test_hostile_lists_get_a_4xx_naming_the_field_and_record_nothing(
    community: Community, registry_service: Upstream, module_settings: ServiceSettings
) -> None:
    holder, other = [await resident(community, registry_service) for _ in range(2)]
    good = row(community, holder_person_id=holder)
    second = row(community, holder_person_id=other)
    before = await ServiceRecord(module_settings, "gate").count()
    cases: list[tuple[str, Any, list[str]]] = [
        ("an empty list", [], ["passes"]),
        ("over 1,000 rows", [good] * 1001, ["passes"]),
        ("valid until 2099", [good, {**second, "valid_until": "2099-12-31T00:00:00+08:00"}],
         ["passes.1.valid_until"]),
        ("valid for 91 days", [row(community, holder_person_id=holder, days=91)],
         ["passes.0.valid_until"]),
        ("valid until 9999", [{**good, "valid_until": "9999-12-31T00:00:00+00:00"}],
         ["passes.0.valid_until"]),
        ("ending before it starts", [row(community, holder_person_id=holder, days=-1)],
         ["passes.0.valid_until"]),
        ("a NUL in a document", [row(community, **document("E123\u00004567"))],
         ["passes.0.holder_visitor_document.document_number"]),
        ("an ID number as the person id", [row(community, holder_person_id=ID_NUMBER)],
         ["passes.0.holder_person_id"]),
        ("another community's row", [good, {**second, "community_id": "c-another"}],
         ["passes.1.community_id"]),
        ("a row with both holders", [{**good, **document("E12345678")}], ["passes.0"]),
        ("a window in 2099", [{**good, "valid_from": "2099-01-01T00:00:00+08:00",
                               "valid_until": "2099-01-02T00:00:00+08:00"}],
         ["passes.0.valid_from"]),
        ("a community with no gate", [{**good, "community_id": "c-nowhere"},
                                      {**second, "community_id": "c-nowhere"}],
         ["passes.0.community_id", "passes.1.community_id"]),
        ("an ID number as the community", [{**good, "community_id": ID_NUMBER}],
         ["passes.0.community_id"]),
        ("no rows at all", None, ["passes"]),
    ]  # fmt: skip

    answers = [(what, await post_batch(community, passes)) for what, passes, _ in cases]

    got = [(what, r.status_code, named(r)) for what, r in answers]
    assert got == [(what, 422, fields) for what, _, fields in cases]
    assert all(len(r.content) < 20_000 for _, r in answers), "errors do not echo the list"
    assert all(ID_NUMBER not in r.text for _, r in answers), "an ID number is never echoed"
    # The single endpoint shares the rules: a pass for 2099 is a typing slip.
    single = await community.admin("POST", "/v1/passes", {
        **good, "valid_from": "2099-01-01T00:00:00+08:00",
        "valid_until": "2099-01-02T00:00:00+08:00"})  # fmt: skip
    assert (single.status_code, [e["loc"] for e in single.json()["detail"]]) == (
        422, [["body", "valid_from"]])  # fmt: skip
    assert await ServiceRecord(module_settings, "gate").count() == before, "nothing recorded"
    assert await passes_of(community) == []


async def test_a_list_of_a_thousand_riders_is_issued_in_one_request(
    community: Community,
) -> None:
    riders = [row(community, **document(f"R{uuid.uuid4().hex[:12]}")) for _ in range(1000)]

    issued = await post_batch(community, riders)

    assert issued.status_code == 201, issued.text[:500]
    assert len(issued.json()["passes"]) == 1000
    assert len(await passes_of(community)) == 1000

"""A community's staff token, issued by the registry, works in the gate's and the isolation
service's office routes, held to its community; a district token acts everywhere; a grid
worker's token, an unknown one and a revoked one are refused.

The registry, the gate and the isolation service run as their own processes on real Kafka
and PostgreSQL: the token reaches the gate and the isolation service only as the registry's
``StaffTokenIssued`` event (its SHA-256), and its revocation as ``StaffTokensRevoked``.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from cordon_core.settings import ServiceSettings
from cordon_core.staff_access import TRUST_S
from cordon_testing import ServiceProcess, wait_until
from cordon_testing.plugin import settings_env
from cordon_testing.system import READY_TIMEOUT_S, TOKENS, system_env

SERVICES = ("registry", "gate", "isolation")
RUN = uuid.uuid4().hex[:6]
MAPLE, BIRCH = f"maple{RUN}", f"birch{RUN}"


class Desk:
    """One caller of the three services with one bearer token."""

    def __init__(self, processes: dict[str, ServiceProcess], token: str) -> None:
        self.processes, self.token = processes, token

    async def call(
        self, service: str, method: str, path: str, body: Any = None, **params: Any
    ) -> httpx.Response:
        async with httpx.AsyncClient(base_url=self.processes[service].url, timeout=30) as client:
            return await client.request(
                method,
                path,
                json=body,
                params=params or None,
                headers={"Authorization": f"Bearer {self.token}"},
            )


@pytest.fixture(scope="module")
def processes(
    module_settings: ServiceSettings, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[dict[str, ServiceProcess]]:
    env = {**settings_env(module_settings), **system_env()}
    log_dir: Path = tmp_path_factory.mktemp("office-tokens")
    running = {name: ServiceProcess(f"cordon_{name}", env, log_dir) for name in SERVICES}
    try:
        for process in running.values():
            process.launch()
        for process in running.values():
            process.wait_ready(READY_TIMEOUT_S)
        yield running
    finally:
        for process in running.values():
            process.stop()


def admin(processes: dict[str, ServiceProcess], service: str) -> Desk:
    return Desk(processes, TOKENS[service])


async def issued(registry: Desk, staff_id: str, role: str, community: str | None) -> str:
    body = {"staff_id": staff_id, "role": role, "community_id": community}
    response = await registry.call("registry", "POST", "/v1/staff-tokens", body)
    assert response.status_code == 201, response.text
    token: str = response.json()["token"]
    return token


async def admitted(desk: Desk, service: str, path: str) -> None:
    """Wait until ``service`` has read the token's event and stops answering 401."""

    async def not_unauthorized() -> bool:
        return (await desk.call(service, "GET", path)).status_code != 401

    await wait_until(not_unauthorized, timeout=60, what=f"{service} to know the token")


@pytest.fixture(scope="module")
async def desks(processes: dict[str, ServiceProcess]) -> dict[str, Desk]:
    """Two communities with a gate each, and a token per role."""
    registry = admin(processes, "registry")
    places = [
        (f"sd{RUN}", "sub_district", None),
        (MAPLE, "community", f"sd{RUN}"),
        (BIRCH, "community", f"sd{RUN}"),
    ]
    for place_id, kind, parent in places:
        body = {"place_id": place_id, "kind": kind, "name": place_id, "parent_id": parent}
        response = await registry.call("registry", "POST", "/v1/places", body)
        assert response.status_code == 201, response.text
    gate = admin(processes, "gate")
    for community in (MAPLE, BIRCH):
        checkpoint = {
            "checkpoint_id": f"{community}-east",
            "community_id": community,
            "compound_id": f"{community}-1",
            "name": "East gate",
        }
        response = await gate.call("gate", "POST", "/v1/checkpoints", checkpoint)
        assert response.status_code == 201, response.text
    desks = {
        "maple": Desk(processes, await issued(registry, f"m{RUN}", "community_staff", MAPLE)),
        "district": Desk(processes, await issued(registry, f"d{RUN}", "district_staff", None)),
        "grid": Desk(processes, await issued(registry, f"g{RUN}", "grid_worker", MAPLE)),
    }
    for desk in desks.values():
        await admitted(desk, "gate", "/v1/checkpoints")
        await admitted(desk, "isolation", "/v1/ledger")
    return desks


def refused_at(response: httpx.Response, *loc: str | int) -> None:
    assert response.status_code == 403, response.text
    [problem] = response.json()["detail"]
    assert problem["loc"] == list(loc), problem


async def test_community_staff_work_their_own_gates_and_no_others(desks: dict[str, Desk]) -> None:
    maple = desks["maple"]
    listed = await maple.call("gate", "GET", "/v1/checkpoints")
    assert listed.status_code == 200, listed.text
    assert {c["community_id"] for c in listed.json()} == {MAPLE}

    closed = await maple.call("gate", "POST", f"/v1/checkpoints/{MAPLE}-east/close", {})
    assert closed.status_code == 200, closed.text
    refused_at(
        await maple.call("gate", "POST", f"/v1/checkpoints/{BIRCH}-east/close", {}),
        "path",
        "checkpoint_id",
    )
    refused_at(
        await maple.call("gate", "GET", "/v1/checkpoints", community_id=BIRCH),
        "query",
        "community_id",
    )
    other = {"checkpoint_id": f"{BIRCH}-west", "community_id": BIRCH, "compound_id": "b1"}
    refused_at(
        await maple.call("gate", "POST", "/v1/checkpoints", {**other, "name": "West"}),
        "body",
        "community_id",
    )
    refused_at(
        await maple.call("gate", "PUT", f"/v1/communities/{BIRCH}/gate-policy", {}),
        "path",
        "community_id",
    )

    start = datetime.now(UTC) + timedelta(hours=1)
    passes = [
        {
            "kind": "temporary",
            "holder_visitor_document": {
                "document_type": "passport",
                "document_number": f"E{RUN}{i}",
            },
            "community_id": community,
            "valid_from": start.isoformat(),
            "valid_until": (start + timedelta(days=3)).isoformat(),
        }
        for i, community in enumerate((MAPLE, BIRCH))
    ]
    refused_at(
        await maple.call("gate", "POST", "/v1/passes/batch", {"passes": passes}),
        "body",
        "passes",
        1,
        "community_id",
    )
    own = await maple.call("gate", "POST", "/v1/passes", passes[0])
    assert own.status_code == 201, own.text
    birch_pass = await desks["district"].call("gate", "POST", "/v1/passes", passes[1])
    assert birch_pass.status_code == 201, birch_pass.text
    refused_at(
        await maple.call(
            "gate",
            "POST",
            f"/v1/passes/{birch_pass.json()['pass_id']}/revoke",
            {"reason_code": "pass_lent"},
        ),
        "path",
        "pass_id",
    )
    seen = await maple.call("gate", "GET", "/v1/passes")
    assert [p["community_id"] for p in seen.json()] == [MAPLE]


async def test_community_staff_isolate_their_own_people_and_no_others(
    desks: dict[str, Desk],
) -> None:
    maple, district = desks["maple"], desks["district"]

    def order(person: str, community: str) -> dict[str, Any]:
        return {
            "person_id": person,
            "community_id": community,
            "level": "home",
            "reason_code": "close_contact",
            "days": 7,
            "unregistered": True,
        }

    placed = await maple.call("isolation", "POST", "/v1/orders", order(f"m{RUN}-1", MAPLE))
    assert placed.status_code == 201, placed.text
    refused_at(
        await maple.call("isolation", "POST", "/v1/orders", order(f"b{RUN}-1", BIRCH)),
        "body",
        "community_id",
    )
    birch = await district.call("isolation", "POST", "/v1/orders", order(f"b{RUN}-2", BIRCH))
    assert birch.status_code == 201, birch.text

    # Birch's person, whatever Maple's staff name: their record, their release, a check-in.
    person = f"b{RUN}-2"
    refused_at(await maple.call("isolation", "GET", f"/v1/people/{person}"), "path", "person_id")
    check_in = {"temperature_c": 36.6, "recorded_by": f"m{RUN}"}
    refused_at(
        await maple.call("isolation", "POST", f"/v1/people/{person}/isolation/check-ins", check_in),
        "path",
        "person_id",
    )
    # Refused before deciding: not a 409 listing what Birch's release still lacks.
    refused_at(
        await maple.call("isolation", "POST", f"/v1/people/{person}/isolation/release"),
        "path",
        "person_id",
    )
    # ... and an order for them "in Maple" would extend Birch's order: refused too.
    refused_at(
        await maple.call("isolation", "POST", "/v1/orders", order(person, MAPLE)),
        "body",
        "person_id",
    )
    assert (await district.call("isolation", "GET", f"/v1/people/{person}")).status_code == 200

    ledger = await maple.call("isolation", "GET", "/v1/ledger")
    assert ledger.status_code == 200, ledger.text
    assert {row["community_id"] for row in ledger.json()} == {MAPLE}
    refused_at(
        await maple.call("isolation", "GET", "/v1/ledger", community_id=BIRCH),
        "query",
        "community_id",
    )
    refused_at(await maple.call("isolation", "PUT", "/v1/policy", {}), "body")


async def test_a_grid_worker_an_unknown_and_a_revoked_token_are_refused(
    processes: dict[str, ServiceProcess], desks: dict[str, Desk]
) -> None:
    for service, path in (("gate", "/v1/checkpoints"), ("isolation", "/v1/ledger")):
        refused_at(await desks["grid"].call(service, "GET", path), "header", "authorization")
        unknown = await Desk(processes, "not-a-token").call(service, "GET", path)
        assert unknown.status_code == 401, unknown.text

    registry = admin(processes, "registry")
    late = Desk(processes, await issued(registry, f"late{RUN}", "community_staff", MAPLE))
    await admitted(late, "gate", "/v1/checkpoints")
    await admitted(late, "isolation", "/v1/ledger")
    revoked = await registry.call("registry", "DELETE", f"/v1/staff-tokens/late{RUN}")
    assert revoked.status_code == 200, revoked.text

    async def refused_everywhere() -> bool:
        answers = [
            (await late.call("gate", "GET", "/v1/checkpoints")).status_code,
            (await late.call("isolation", "GET", "/v1/ledger")).status_code,
        ]
        return answers == [401, 401]

    # A service trusts a token it has looked up for TRUST_S, then reads the revocation.
    await wait_until(refused_everywhere, timeout=60 + TRUST_S, what="the revocation to hold")

"""Every service's OpenAPI document, fuzzed against the real service (its own process, real
Kafka and PostgreSQL) with every schemathesis check and with each role's token.

Zero failures is the bar: no 5xx, no status code or body the document does not declare, no
schema-valid request refused, no schema-invalid one accepted. The run is bounded and
seeded so that it is the same on every machine; ``CORDON_FUZZ_EXAMPLES`` and
``CORDON_FUZZ_SEED`` run it longer or elsewhere (docs/architecture.md, "Fuzzing").
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
import schemathesis

from cordon_core.settings import ServiceSettings
from cordon_testing import ServiceProcess
from cordon_testing.plugin import settings_env

EXAMPLES = int(os.environ.get("CORDON_FUZZ_EXAMPLES", "5"))
"""Generated examples per operation, each sent with every role's token: CI's budget."""
SEED = int(os.environ.get("CORDON_FUZZ_SEED", "20261202"))
COVERAGE = os.environ.get("CORDON_FUZZ_COVERAGE") == "1"
"""schemathesis's coverage phase (every boundary of every field): thorough, and several
times longer, so it runs on demand."""

ADMIN = "fuzz-admin-token"
COMMUNITY = "fuzz-community"

Roles = dict[str, dict[str, str]]
"""Role name -> the headers that authenticate it (``anonymous``: none)."""


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def gate_roles(url: str) -> Roles:
    """The office's admin token, and a device registered at a checkpoint."""
    with httpx.Client(base_url=url, headers=bearer(ADMIN)) as client:
        checkpoint = {"checkpoint_id": "fuzz-gate", "community_id": COMMUNITY,
                      "compound_id": f"{COMMUNITY}-1", "name": "Fuzz gate"}  # fmt: skip
        client.post("/v1/checkpoints", json=checkpoint).raise_for_status()
        device = client.post("/v1/checkpoints/fuzz-gate/devices", json={"device_id": "fuzz-pad"})
        device.raise_for_status()
    return {"admin": bearer(ADMIN), "device": bearer(device.json()["token"])}


def registry_roles(url: str) -> Roles:
    """The bootstrap admin token, and a district staff member's token issued with it."""
    with httpx.Client(base_url=url, headers=bearer(ADMIN)) as client:
        issued = client.post(
            "/v1/staff-tokens", json={"staff_id": "fuzz-staff", "role": "district_staff"}
        )
        issued.raise_for_status()
    return {"admin": bearer(ADMIN), "staff": bearer(issued.json()["token"])}


def isolation_roles(url: str) -> Roles:
    return {"staff": bearer(ADMIN), "lab": bearer("fuzz-lab-token")}


def notification_roles(url: str) -> Roles:
    """The admin token, and a recipient's inbox token."""
    with httpx.Client(base_url=url, headers=bearer(ADMIN)) as client:
        issued = client.post("/v1/inbox-tokens/fuzz-staff")
        issued.raise_for_status()
    return {"admin": bearer(ADMIN), "inbox": bearer(issued.json()["token"])}


def projector_roles(url: str) -> Roles:
    return {"admin": bearer(ADMIN), "dashboard": bearer("fuzz-district-token")}


def unchecked(operation: str, *checks: str) -> dict[str, Any]:
    """schemathesis's setting that skips ``checks`` for ``operation`` (e.g. "POST /v1/scans");
    each use says why they do not apply there."""
    return {"include-name": operation, "checks": {c: {"enabled": False} for c in checks}}


ACCEPTANCE = "positive_data_acceptance"


@dataclass(frozen=True)
class FuzzedService:
    module: str
    env: dict[str, str]
    roles: Callable[[str], Roles]
    operations: list[dict[str, Any]] = field(default_factory=list)
    """schemathesis per-operation settings: a check that does not apply, and why."""


# Where schemathesis's "a schema-valid request is accepted" cannot apply: the request schema
# states every rule JSON Schema can express, and these refusals (422 naming the field) come
# from rules it cannot: a window that moves with the clock, a relation between two fields, a
# check digit, or what is recorded (a person, a sample). Each service's doc lists them.
GATE_UNCHECKED = [
    # scanned_at: at most CORDON_MAX_SCAN_AGE_S old and CORDON_MAX_CLOCK_SKEW_S ahead.
    unchecked("POST /v1/scans", ACCEPTANCE),
    unchecked("POST /v1/scans/batch", ACCEPTANCE),
    # valid_until after valid_from, at most CORDON_MAX_PASS_DAYS; a holder the registry named;
    # in a list, one community and each holder once.
    unchecked("POST /v1/passes", ACCEPTANCE),
    unchecked("POST /v1/passes/batch", ACCEPTANCE),
]
REGISTRY_UNCHECKED = [
    # A resident ID's check digit (GB 11643), and a document already registered.
    unchecked("POST /v1/residents", ACCEPTANCE),
    unchecked("GET /v1/communities/{community_id}/residents/search", ACCEPTANCE),
    # valid_until after valid_from.
    unchecked("PUT /v1/risk-areas/{area_code}", ACCEPTANCE),
    # A dose after the person's birth, on a day not ahead of the clock.
    unchecked("POST /v1/residents/{person_id}/vaccinations", ACCEPTANCE),
    # visited_at and each stay compared with the clock and the round's window.
    unchecked("POST /v1/screening-rounds/{round_id}/visits", ACCEPTANCE),
    # A place goes under a parent of the kind above it (a grid under a community): the
    # parent's kind is recorded state.
    unchecked("POST /v1/places", ACCEPTANCE),
    # A spreadsheet's columns and rows are checked as a file (refusals name row and column):
    # "text/csv" cannot say which columns it needs. And a text/csv body is text whatever it
    # holds: there is no "schema-violating" CSV to send.
    unchecked("POST /v1/communities/{community_id}/imports", ACCEPTANCE, "negative_data_rejection"),
    unchecked(
        "POST /v1/communities/{community_id}/vaccination-imports",
        ACCEPTANCE,
        "negative_data_rejection",
    ),
]
ISOLATION_UNCHECKED = [
    # An order ends after it starts and starts at most CORDON_MAX_ORDER_LEAD_DAYS ahead.
    unchecked("POST /v1/orders", ACCEPTANCE),
    # The same for each row of a list, which is also one community's and names each person once.
    unchecked("POST /v1/orders/batch", ACCEPTANCE),
    # A campaign closes after it opens; a sample is not collected ahead of the clock.
    unchecked("POST /v1/campaigns", ACCEPTANCE),
    unchecked("POST /v1/samples", ACCEPTANCE),
    # A lab's rows for samples never collected here are refused in the report (the others
    # are recorded): the schema cannot know which samples exist.
    unchecked("POST /v1/lab/results", ACCEPTANCE),
    unchecked("POST /v1/lab/results/csv", ACCEPTANCE),
    # A moment between 1900 and 2199 (cordon_core.inputs): JSON Schema's date-time format
    # has no minimum or maximum to say it with.
    unchecked("POST /v1/people/{person_id}/isolation/check-ins", ACCEPTANCE),
    unchecked("POST /v1/people/{person_id}/isolation/breaches", ACCEPTANCE),
    # as_of at most 5 minutes ahead of the clock and within the passages kept.
    unchecked("GET /v1/people/{person_id}/contact-candidates", ACCEPTANCE),
]
AREA_VIEWS = (
    "",
    "/map",
    "/gates",
    "/gates/stream",
    "/daily-report",
    "/isolation-ledger",
    "/screening",
)
PROJECTOR_UNCHECKED = [
    # as_of and day between 1900 and 2199, as above.
    *(unchecked(f"GET /v1/areas/{{area_id}}{view}", ACCEPTANCE) for view in AREA_VIEWS),
    unchecked("GET /v1/gate-traffic", ACCEPTANCE),
    unchecked("GET /v1/communities/{community_id}/gate-traffic", ACCEPTANCE),
]

SERVICES = {
    "gate": FuzzedService(
        "cordon_gate", {"CORDON_GATE_ADMIN_TOKEN": ADMIN}, gate_roles, GATE_UNCHECKED
    ),
    "registry": FuzzedService(
        "cordon_registry",
        {"CORDON_REGISTRY_ADMIN_TOKEN": ADMIN},
        registry_roles,
        REGISTRY_UNCHECKED,
    ),
    "isolation": FuzzedService(
        "cordon_isolation",
        {"CORDON_ISOLATION_ADMIN_TOKEN": ADMIN, "CORDON_LAB_TOKENS": "fuzz-lab:fuzz-lab-token"},
        isolation_roles,
        ISOLATION_UNCHECKED,
    ),
    "notification": FuzzedService(
        "cordon_notification", {"CORDON_NOTIFICATION_ADMIN_TOKEN": ADMIN}, notification_roles
    ),
    "projector": FuzzedService(
        "cordon_projector",
        {
            "CORDON_DASHBOARD_ADMIN_TOKEN": ADMIN,
            "CORDON_DASHBOARD_TOKENS": json.dumps({"fuzz-district-token": {"kind": "district"}}),
        },
        projector_roles,
        PROJECTOR_UNCHECKED,
    ),
}


@dataclass(frozen=True)
class Running:
    name: str
    process: ServiceProcess
    roles: Roles


def selected_services(items: list[pytest.Item]) -> set[str]:
    """The services whose fuzz test this session runs."""
    names: set[str] = set()
    for item in items:
        callspec = getattr(item, "callspec", None)
        if item.path == Path(__file__) and callspec is not None:
            names.add(str(callspec.params["running"]))
    return names


@pytest.fixture(scope="module")
def every_service(
    request: pytest.FixtureRequest,
    module_settings: ServiceSettings,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[dict[str, Running]]:
    """The services this run fuzzes (all five, or those ``-k`` selects), started at once:
    a start is mostly waiting for PostgreSQL, Kafka and consumer groups. Each service has its
    own topics."""
    processes = {}
    for name in sorted(selected_services(request.session.items)):
        env = {**settings_env(module_settings), **SERVICES[name].env}
        env["CORDON_TOPIC_PREFIX"] = f"{env['CORDON_TOPIC_PREFIX']}{name[:3]}"
        processes[name] = ServiceProcess(SERVICES[name].module, env, tmp_path_factory.mktemp(name))
    try:
        with ThreadPoolExecutor(len(processes)) as starting:
            # Generous: on a machine shared with other work, five start-ups take a while.
            list(starting.map(lambda p: p.start(ready_timeout=300), processes.values()))
        yield {
            name: Running(name, p, {"anonymous": {}, **SERVICES[name].roles(p.url)})
            for name, p in processes.items()
        }
    finally:
        for process in processes.values():
            process.stop()


@pytest.fixture(params=sorted(SERVICES))
def running(request: pytest.FixtureRequest, every_service: dict[str, Running]) -> Running:
    return every_service[request.param]


@pytest.fixture
def api(running: Running, request: pytest.FixtureRequest) -> schemathesis.BaseSchema:
    # schemathesis 4.32's lazy schemas rename the test node for each operation through an
    # attribute pytest 9 no longer has: give it one to rename (reporting only).
    request.node._nodeid = request.node.nodeid
    config = schemathesis.Config.from_dict(
        {
            "seed": SEED,
            # NUL is refused everywhere, and every schema says so (schema_rules); but
            # schemathesis cuts the recursive schema of ignored extra fields short and would
            # nest a NUL deep inside one. The input tests send NUL to every service instead.
            # Tokens come from the roles below, not from generated Authorization headers (a
            # generated bad header would be replaced by a good token, and then accepted).
            "generation": {
                "max-examples": EXAMPLES,
                "mode": "all",
                "allow-x00": False,
                "with-security-parameters": False,
            },
            "phases": {"coverage": {"enabled": COVERAGE}},
            "operations": SERVICES[running.name].operations,
        }
    )
    return schemathesis.openapi.from_url(f"{running.process.url}/openapi.json", config=config)


schema = schemathesis.pytest.from_fixture("api")


@pytest.mark.timeout(900)  # the first one also waits for the services to start
@schema.parametrize()
def test_every_operation_keeps_its_openapi_promise_for_every_role(
    case: schemathesis.Case[Any], running: Running
) -> None:
    for headers in running.roles.values():
        case.call_and_validate(headers=headers)

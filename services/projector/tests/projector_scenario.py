"""A scripted district for the projector's tests: events the registry, isolation and the
gate publish, on their own topics, with the times the scenario says."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

import asyncpg

from cordon_contracts import gate, isolation, lab, registry
from cordon_core.envelope import DomainEvent, Envelope, EventMetadata, PendingEvent
from cordon_core.runtime import ServiceRuntime
from cordon_core.settings import ServiceSettings
from cordon_testing import wait_until

SHANGHAI = ZoneInfo("Asia/Shanghai")
DISTRICT = "d"


def local(text: str) -> datetime:
    """A Shanghai wall-clock time, e.g. ``local("2022-04-01 23:59:59")``."""
    return datetime.fromisoformat(text).replace(tzinfo=SHANGHAI)


@dataclass
class Upstreams:
    """Stand-ins for the registry, isolation and the gate, publishing through their relays."""

    services: dict[str, ServiceRuntime]
    published: list[Envelope] = field(default_factory=list)

    async def publish(
        self, service: str, stream: str, *payloads: DomainEvent, at: datetime | None = None
    ) -> None:
        pending = [PendingEvent(p, occurred_at=at) if at else PendingEvent(p) for p in payloads]
        meta = EventMetadata.new(actor="test", district=DISTRICT)
        self.published += await self.services[service].store.append(
            stream, pending, expected_version=None, metadata=meta
        )


@contextlib.asynccontextmanager
async def upstreams(settings: ServiceSettings) -> AsyncIterator[Upstreams]:
    contracts = {
        "registry": registry.registry,
        "isolation": isolation.registry,
        "gate": gate.registry,
    }
    lab_events = lab.registry
    async with contextlib.AsyncExitStack() as stack:
        services = {}
        for name, events in contracts.items():
            if name == "isolation":
                combined = type(events)()
                combined.include(events)
                combined.include(lab_events)
                events = combined
            runtime = ServiceRuntime(service=name, settings=settings, registry=events)
            services[name] = await stack.enter_async_context(runtime.running())
        yield Upstreams(services)


async def wait_projected(
    database_url: str, projections: Sequence[Any], published: Sequence[Envelope]
) -> None:
    """Until every projection's inbox holds every published event of its types."""
    conn = await asyncpg.connect(database_url)
    try:
        for projection in projections:
            ids: list[Any] = [
                e.event_id for e in published if e.event_type in projection.event_types
            ]

            async def count(ids: list[Any] = ids, name: str = projection.name) -> int:
                n: int = await conn.fetchval(
                    "SELECT count(*) FROM projector.inbox"
                    " WHERE consumer = $1 AND event_id = ANY($2::uuid[])",
                    f"projection-{name}",
                    ids,
                )
                return n

            await wait_until(
                count,
                until=(len(ids)).__eq__,
                timeout=60,
                what=f"projection {projection.name}",
            )
    finally:
        await conn.close()


# ------------------------------------------------------------------------- the district

PLACES = [
    ("sd1", "sub_district", None),
    ("c1", "community", "sd1"),
    ("g1", "grid", "c1"),
    ("k1", "compound", "g1"),
    ("b1", "building", "k1"),
    ("b2", "building", "k1"),
    ("g2", "grid", "c1"),
    ("k2", "compound", "g2"),
    ("b3", "building", "k2"),
]
HOME = {"b1": ("g1", "k1"), "b2": ("g1", "k1"), "b3": ("g2", "k2")}
RESIDENTS = {"p1": ("b1", "h1"), "p2": ("b1", "h1"), "p3": ("b1", "h2"), "p4": ("b3", "h7")}
RESIDENTS.update({f"q{i}": ("b2", f"h{3 + i // 5}") for i in range(20)})
DOSES = {"p1": 2, "p2": 2, "p3": 2, "p4": 1, "q18": 1, "q19": 0}


def residence(person: str, building: str, household: str) -> dict[str, str]:
    grid, compound = HOME[building]
    return {
        "person_id": person,
        "household_id": household,
        "building_id": building,
        "compound_id": compound,
        "grid_id": grid,
        "community_id": "c1",
        "sub_district_id": "sd1",
    }


def dose(person: str, n: int, on: date) -> registry.VaccinationRecorded:
    return registry.VaccinationRecorded(
        person_id=person,
        household_id=RESIDENTS[person][1],
        community_id="c1",
        dose_number=n,
        vaccinated_on=on,
        source="registry",
        recorded_at=local("2022-03-01 09:00"),
    )


def started(order: str, person: str, level: str, at: str) -> isolation.IsolationStarted:
    return isolation.IsolationStarted(
        order_id=order,
        person_id=person,
        level=level,
        community_id="c1",
        reason="contact",  # type: ignore[arg-type]
        starts_at=local(at),
        planned_end_at=local("2022-04-14 10:00"),
    )


def passage(n: int, at: datetime, kind: type[Any] = gate.PersonEntered, **extra: Any) -> Any:
    direction = "out" if kind in (gate.PersonExited, gate.ExitDenied) else "in"
    return kind(
        scan_id=f"s{n}",
        checkpoint_id="c1-east",
        community_id="c1",
        compound_id="k1",
        direction=direction,
        scanned_at=at,
        subject_kind="resident",
        person_id=f"q{n % 20}",
        temperature_c=36.5,
        health_code="green",
        itinerary_risk=False,
        policy_version=0,
        status_as_of=None,
        **extra,
    )


async def publish_before(up: Upstreams) -> None:
    """The state at the as-of moment: everyone registered, three orders, q18 one dose."""
    for place_id, kind, parent in PLACES:
        await up.publish(
            "registry",
            f"place:{place_id}",
            registry.PlaceAdded(
                place_id=place_id,
                kind=kind,
                parent_id=parent,  # type: ignore[arg-type]
                community_id=None if kind in ("sub_district", "community") else "c1",
                name=place_id.upper(),
                added_at=local("2022-03-01 08:00"),
            ),
        )
    for person, (building, household) in RESIDENTS.items():
        await up.publish(
            "registry",
            f"person:{person}",
            registry.ResidentRegistered(
                **residence(person, building, household),
                residence_type="owner",
                registered_at=local("2022-03-01 08:00"),
            ),
        )
        for n in range(1, DOSES.get(person, 2) + 1):
            await up.publish("registry", f"person:{person}", dose(person, n, date(2021, n, 1)))
    await up.publish(
        "isolation", "person:p1", started("o1", "p1", "monitoring", "2022-04-01 10:00")
    )
    await up.publish(
        "isolation", "person:p3", started("o2", "p3", "centralized", "2022-04-01 08:00")
    )
    await up.publish("isolation", "person:q5", started("o3", "q5", "home", "2022-03-31 18:00"))


async def publish_after(up: Upstreams) -> None:
    """An order upgraded, a resident moving, a release, a second dose crossing 95%; the
    gate's traffic around midnight, tests, screening."""
    await up.publish(
        "isolation",
        "person:p1",
        isolation.IsolationLevelChanged(
            order_id="o1",
            person_id="p1",
            from_level="monitoring",
            to_level="home",
            reason="contact of a positive",
        ),
        at=local("2022-04-01 20:00"),
    )
    await up.publish(
        "registry",
        "person:p2",
        registry.ResidentMoved(
            **residence("p2", "b3", "h7"),
            from_household_id="h1",
            moved_at=local("2022-04-01 12:00"),
        ),
    )
    await up.publish(
        "isolation",
        "person:p3",
        isolation.IsolationEnded(
            order_id="o2", person_id="p3", ended_at=local("2022-04-01 23:30"), rule="negative x2"
        ),
    )
    await up.publish("registry", "person:q18", dose("q18", 2, date(2022, 4, 1)))
    scans = [
        passage(1, local("2022-04-01 08:00")),
        passage(2, local("2022-04-01 08:00:30"), gate.PersonExited),
        passage(3, local("2022-04-01 23:59:59")),
        passage(4, local("2022-04-02 00:00:01")),
        passage(5, local("2022-04-01 09:10"), gate.EntryDenied, reasons=["fever", "red_code"]),
    ]
    for scan in scans:
        if isinstance(scan, gate.EntryDenied):
            scan = scan.model_copy(update={"health_code": "red", "temperature_c": 38.2})
        await up.publish("gate", "checkpoint:c1-east", scan)
    await up.publish(
        "gate",
        "checkpoint:c1-east",
        gate.FeverDetected(
            scan_id="s5",
            checkpoint_id="c1-east",
            community_id="c1",
            compound_id="k1",
            person_id="q5",
            subject_kind="resident",
            temperature_c=38.2,
            threshold_c=37.3,
            scanned_at=local("2022-04-01 09:10"),
        ),
    )
    for sample, person, at, result in [
        ("x1", "p1", "2022-04-01 12:00", "negative"),
        ("x2", "p3", "2022-04-01 23:50", "positive"),
        ("x3", "q1", "2022-04-02 00:10", "negative"),
    ]:
        await up.publish(
            "isolation",
            f"person:{person}",
            lab.TestResultReceived(
                sample_id=sample,
                person_id=person,
                collected_at=local(at),
                result=result,  # type: ignore[arg-type]
                lab="lab1",
            ),
        )
    await up.publish(
        "registry",
        "round:r1",
        registry.ScreeningRoundOpened(
            round_id="r1",
            community_id="c1",
            name="R1",
            window_days=14,
            opened_at=local("2022-04-01 09:00"),
        ),
    )
    for visit, household, at in [
        ("v1", "h1", "2022-04-01 10:00"),
        ("v2", "h2", "2022-04-01 11:00"),
        ("v3", "h3", "2022-04-02 09:00"),
    ]:
        await up.publish(
            "registry",
            f"household:{household}",
            registry.HouseholdVisited(
                round_id="r1",
                visit_id=visit,
                household_id=household,
                grid_id="g1",
                community_id="c1",
                staff_id="gw1",
                visited_at=local(at),
                present_person_ids=[],
                absent_person_ids=[],
                symptomatic_person_ids=[],
                returnee_contact_person_ids=[],
            ),
        )
    # Late: the gate's event for a scan at 22:00 on the 1st arrives after everything else.
    await up.publish("gate", "checkpoint:c1-east", passage(6, local("2022-04-01 22:00")))

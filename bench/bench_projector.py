#!/usr/bin/env python
"""The projector under load: replaying a district's events into every read model, beside
the raw cost of reading them, and the lag from a gate scan to the live dashboard.

Run from the repository root:

    UV_PYTHON_DOWNLOADS=never uv run python bench/bench_projector.py            # 1,000,000 events
    UV_PYTHON_DOWNLOADS=never uv run python bench/bench_projector.py --quick    # 20,000, < 60 s

Against real Apache Kafka and PostgreSQL: the servers named by CORDON_KAFKA_BOOTSTRAP and
CORDON_DATABASE_URL when both are set, otherwise a private pair started with
``cordon_devenv.infra.start_infrastructure`` (free ports) and stopped at the end. Every run
uses fresh databases (dropped afterwards) and a fresh topic prefix (topics deleted afterwards).

1. Events: a generated district's events, built as the real contract payloads
   (cordon_contracts) in Envelopes and produced with ``envelope_to_record`` straight to
   ``<prefix>.gate.events`` (scan outcomes, fevers, visitors: ~79%), ``<prefix>.registry.events``
   (places, residents, moves, departures, vaccinations, screening rounds and visits: ~17%) and
   ``<prefix>.isolation.events`` (orders and their changes, lab results: ~4%), keyed as the
   services key them. Not through the relay: this measures the projector. Not timed.
2. Raw baseline: one plain aiokafka consumer (no group) reads every record of the three
   topics from the beginning to the end offsets, decoding nothing: records/s.
3. Rebuild: every projection of ``build_projector`` rebuilt together
   (``cordon_core.projection.rebuild_together``), exactly what ``cordon-projector rebuild``
   does: one pass over the three topics from offset 0, each record decoded once (records of
   types no projection wants skipped from their ``ce_type`` header) and applied by every
   projection that wants it, one transaction per projection and fetched batch with its inbox
   rows. events/s = events produced / total wall time; the ratio to the raw baseline.
4. Catch-up (``--skip-catchup`` to leave out): the projector as its own OS process on a
   second fresh database, its seven live consumers (FastStream, one group each) starting
   at offset 0 and running concurrently: time from spawning the process until every
   group's committed offsets reach the end offsets.
5. Dashboard lag: the gate and the projector as OS processes on a second topic prefix (the
   projector keeps the read models of step 4, so dashboard queries run against a populated
   district); checkpoints and devices registered through the gate's office API; visitor
   scans posted open loop for ``--seconds`` at each ``--rate`` (single scans,
   ``POST /v1/scans``) and each ``--batch-rate`` (batches of ``--batch-size`` scans of one
   checkpoint, ``POST /v1/scans/batch``, as the gate benchmark's district gateways send
   them), ``--lag-pause`` s apart, while subscribed to the projector's live stream
   (``/v1/areas/<community>/gates/stream``, server-sent events). Per scan: from the gate's
   HTTP response to the first pushed view in which its checkpoint's count (entries + exits
   + denials, today) covers it, p50/p99. "Covers it" is conservative: the count must reach
   the number of scans of that checkpoint *sent* before the response arrived (a scan's
   event is published in transaction-id order, and its transaction began after its
   request was sent); a batch's scans all count from its response. The load average is
   recorded before each load.

Checks (exit status 1 when one fails): every projection's inbox holds exactly the events
of its types, nothing was dead-lettered, and the read models' totals equal the generated
ones (e.g. entries in ``gate_traffic_daily`` = PersonEntered produced); after step 4 the
same for the process's tables; every scan of step 5 was answered and appeared live.
"""

from __future__ import annotations

import argparse
import asyncio
import bisect
import contextlib
import itertools
import json
import os
import random
import shutil
import signal
import sys
import tempfile
import time
import uuid
from collections import Counter, defaultdict
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import asyncpg
import httpx
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient
from harness import (
    NOTHING_MEASURED,
    CpuMeter,
    HttpPool,
    delete_topics,
    host_facts,
    local_kafka_version,
    percentile,
    save_results,
    say,
)

from cordon_contracts import gate, isolation, lab, registry
from cordon_core.cloudevents import envelope_to_record
from cordon_core.envelope import DomainEvent, Envelope
from cordon_core.kafka import ensure_topics, topic_partitions
from cordon_core.migrations import apply_migrations
from cordon_core.observability import configure_logging
from cordon_core.projection import consumer_name, rebuild_together
from cordon_core.settings import ServiceSettings
from cordon_devenv.infra import Infrastructure, temporary_infrastructure
from cordon_projector.bootstrap import ProjectorSettings, build_projector
from cordon_testing.plugin import fresh_database, settings_env
from cordon_testing.processes import ServiceProcess

ADMIN = "bench-admin-token"
DASHBOARD_TOKEN = "bench-district-token"
TIMEZONE = "Asia/Shanghai"
DISTRICT = "bench-district"
LAG_COMMUNITY = "lagc"


# ----------------------------------------------------------------------- infrastructure


async def machine_facts(srv: Infrastructure) -> dict[str, Any]:
    kafka = local_kafka_version(srv.kafka_bootstrap)
    if kafka is None:
        with contextlib.suppress(Exception):
            from cordon_devenv.kafka import kafka_version

            kafka = f"{kafka_version()} (cordon-devenv's pinned version)"
    conn = await asyncpg.connect(srv.database_url)
    try:
        pg = await conn.fetchval("SHOW server_version")
    finally:
        await conn.close()
    return {
        **host_facts(),
        "kafka": f"Apache Kafka {kafka or 'unknown'} ({srv.broker_kind})",
        "postgresql": f"PostgreSQL {pg}",
    }


def ms(seconds: Sequence[float], pct: float) -> float:
    """A percentile of sorted seconds in milliseconds; NaN when nothing was measured."""
    return round(percentile(seconds, pct, empty=NOTHING_MEASURED) * 1000, 1)


def host_figures(meter: CpuMeter) -> dict[str, Any]:
    """How busy the whole host was during a phase (cores), and the load average after it."""
    assert meter.first is not None and meter.last is not None
    return {
        "host_busy_cores": meter.cores()["host"],
        "bench_process_cpu_s": round(meter.last.bench - meter.first.bench, 1),
        "loadavg_1m_after": round(meter.last.load_1m, 2),
    }


# ------------------------------------------------------------------------ the district


SHANGHAI_OFFSET = timedelta(hours=8)
DENIAL_REASONS: list[gate.DenialReason] = [
    "red_code",
    "yellow_code",
    "itinerary_risk",
    "not_a_resident",
    "no_recent_negative_test",
    "pass_not_valid_now",
    "checkpoint_closed",
]
EXIT_DENIAL_REASONS: list[gate.DenialReason] = ["isolated", "health_monitoring", "red_code"]
SCAN_OUTCOMES = (gate.PersonEntered, gate.PersonExited, gate.EntryDenied, gate.ExitDenied)


@dataclass
class Expected:
    """What the generated events must add up to in the read models."""

    types: Counter[str] = field(default_factory=Counter)
    yellow_codes: int = 0
    red_codes: int = 0
    denial_reasons: int = 0
    places: int = 0
    residents: int = 0
    residents_absent: int = 0
    persons_with_doses: int = 0
    doses: int = 0
    orders: int = 0
    orders_ended: int = 0
    orders_cancelled: int = 0
    samples: int = 0
    positives: int = 0
    rounds: int = 0
    visits: int = 0
    per_topic: Counter[str] = field(default_factory=Counter)

    @property
    def events(self) -> int:
        return sum(self.types.values())


class Generator:
    """A district scaled to ``events``: places, residents with doses, moves and departures,
    screening rounds with household visits, isolation orders with their changes, lab
    results, and the gates' traffic (the bulk) spread over ``days`` ending now."""

    def __init__(self, events: int, prefix: str, days: int, seed: int) -> None:
        self.n = events
        self.prefix = prefix
        self.days = days
        self.rng = random.Random(seed)
        self.expected = Expected()
        self.versions: Counter[str] = Counter()
        self.now = datetime.now(UTC).replace(microsecond=0)
        self.start = self.now - timedelta(days=days)
        # Shape: ~1 resident per 25 events, 2.5 per household, 40 households per building.
        self.residents = max(120, events // 25)
        households = max(48, self.residents * 2 // 5)
        self.communities = max(2, min(12, events // 100_000 + 2))
        self.sub_districts = max(1, self.communities // 4)
        self.grids_per_community = 4 if events < 100_000 else 8
        buildings = max(self.communities * self.grids_per_community * 2, households // 40)
        self.building_ids: list[tuple[str, str, str, str, str]] = []
        """(building, compound, grid, community, sub_district)"""
        self.places: list[tuple[str, Any, str | None, str | None]] = []
        self.households: list[tuple[str, str]] = []  # (household, building)
        self.checkpoints: list[tuple[str, str, str]] = []  # (checkpoint, community, compound)
        self._plan(buildings, households)

    def _plan(self, buildings: int, households: int) -> None:
        comms = []
        for s in range(self.sub_districts):
            self.places.append((f"sd{s}", "sub_district", None, None))
        for c in range(self.communities):
            community, sd = f"c{c}", f"sd{c % self.sub_districts}"
            comms.append((community, sd))
            self.places.append((community, "community", sd, None))
        per_grid = max(1, buildings // (self.communities * self.grids_per_community))
        for community, sd in comms:
            for g in range(self.grids_per_community):
                grid = f"{community}-g{g}"
                self.places.append((grid, "grid", community, community))
                for k in range(2):
                    compound = f"{grid}-k{k}"
                    self.places.append((compound, "compound", grid, community))
                    for b in range(max(1, per_grid // 2)):
                        building = f"{compound}-b{b}"
                        self.places.append((building, "building", compound, community))
                        self.building_ids.append((building, compound, grid, community, sd))
                if g < 3:
                    self.checkpoints.append((f"{community}-gate{g}", community, f"{grid}-k0"))
        for h in range(households):
            self.households.append((f"h{h}", self.building_ids[h % len(self.building_ids)][0]))
        self.building_of = {b[0]: b for b in self.building_ids}

    # ------------------------------------------------------------------ envelopes

    def envelope(
        self,
        service: str,
        stream: str,
        key: str,
        payload: DomainEvent,
        at: datetime,
        community: str | None,
        correlation: uuid.UUID | None = None,
    ) -> tuple[str, bytes, bytes, list[tuple[str, bytes]]]:
        self.versions[stream] += 1
        envelope = Envelope(
            event_id=uuid.UUID(int=self.rng.getrandbits(128), version=4),
            event_type=payload.event_type,
            schema_version=payload.schema_version,
            stream_id=stream,
            stream_version=self.versions[stream],
            partition_key=key,
            occurred_at=at,
            recorded_at=at + timedelta(milliseconds=self.rng.randint(5, 900)),
            correlation_id=correlation or uuid.UUID(int=self.rng.getrandbits(128), version=4),
            causation_id=None,
            actor=f"bench:{service}",
            district=DISTRICT,
            community=community,
            payload=payload,
            source=f"/cordon/{service}",
        )
        self.expected.types[payload.event_type] += 1
        topic = f"{self.prefix}.{service}.events"
        self.expected.per_topic[topic] += 1
        record_key, value, headers = envelope_to_record(envelope)
        return topic, record_key, value, headers

    def when(self) -> datetime:
        return self.start + timedelta(seconds=self.rng.random() * self.days * 86400)

    # ---------------------------------------------------------------- the registry

    def registry_events(self) -> Iterator[tuple[str, bytes, bytes, list[tuple[str, bytes]]]]:
        rng, e = self.rng, self.expected
        at0 = self.start - timedelta(days=30)
        for place_id, kind, parent, community in self.places:
            e.places += 1
            yield self.envelope(
                "registry",
                f"place:{place_id}",
                place_id,
                registry.PlaceAdded(
                    place_id=place_id,
                    kind=kind,
                    parent_id=parent,
                    community_id=community,
                    name=place_id.upper(),
                    added_at=at0,
                ),
                at0,
                community,
            )
        present: dict[str, tuple[str, str]] = {}
        for p in range(self.residents):
            person = f"p{p}"
            household, building = self.households[p % len(self.households)]
            b, k, g, c, sd = self.building_of[building]
            e.residents += 1
            present[person] = (household, c)
            yield self.envelope(
                "registry",
                f"person:{person}",
                person,
                registry.ResidentRegistered(
                    person_id=person,
                    household_id=household,
                    building_id=b,
                    compound_id=k,
                    grid_id=g,
                    community_id=c,
                    sub_district_id=sd,
                    residence_type="owner" if rng.random() < 0.8 else "tenant",
                    registered_at=at0,
                ),
                at0,
                c,
            )
            doses = rng.choices((0, 1, 2, 3), weights=(4, 3, 60, 33))[0]
            if doses:
                e.persons_with_doses += 1
                e.doses += doses
            for n in range(1, doses + 1):
                yield self.envelope(
                    "registry",
                    f"person:{person}",
                    person,
                    registry.VaccinationRecorded(
                        person_id=person,
                        household_id=household,
                        community_id=c,
                        dose_number=n,
                        vaccinated_on=date(2021, 3 * n, 1),
                        vaccine="CoronaVac",
                        source="registry",
                        recorded_at=at0,
                    ),
                    at0,
                    c,
                )
            roll = rng.random()
            if roll < 0.01:  # moved to another household
                to_household, to_building = rng.choice(self.households)
                b2, k2, g2, c2, sd2 = self.building_of[to_building]
                yield self.envelope(
                    "registry",
                    f"person:{person}",
                    person,
                    registry.ResidentMoved(
                        person_id=person,
                        household_id=to_household,
                        building_id=b2,
                        compound_id=k2,
                        grid_id=g2,
                        community_id=c2,
                        sub_district_id=sd2,
                        from_household_id=household,
                        moved_at=self.when(),
                    ),
                    self.when(),
                    c2,
                )
                present[person] = (to_household, c2)
            elif roll < 0.015:  # left the district
                e.residents_absent += 1
                yield self.envelope(
                    "registry",
                    f"person:{person}",
                    person,
                    registry.ResidentLeft(
                        person_id=person,
                        household_id=household,
                        community_id=c,
                        reason="moved away",
                        left_at=self.when(),
                    ),
                    self.when(),
                    c,
                )
        self.present = present
        # Screening: two rounds per community, ~90% of households visited in each.
        by_community: dict[str, list[tuple[str, str]]] = defaultdict(list)
        for household, building in self.households:
            _, _, g, c, _ = self.building_of[building]
            by_community[c].append((household, g))
        for c, homes in by_community.items():
            for r in range(2):
                round_id = f"{c}-r{r}"
                opened = self.start + timedelta(days=r * self.days / 2)
                e.rounds += 1
                yield self.envelope(
                    "registry",
                    f"round:{round_id}",
                    round_id,
                    registry.ScreeningRoundOpened(
                        round_id=round_id,
                        community_id=c,
                        name=f"Round {r + 1}",
                        window_days=14,
                        opened_at=opened,
                    ),
                    opened,
                    c,
                )
                for household, g in homes:
                    if rng.random() >= 0.9:
                        continue
                    e.visits += 1
                    visited = opened + timedelta(hours=rng.random() * 48)
                    yield self.envelope(
                        "registry",
                        f"household:{household}",
                        household,
                        registry.HouseholdVisited(
                            round_id=round_id,
                            visit_id=f"{round_id}-{household}",
                            household_id=household,
                            grid_id=g,
                            community_id=c,
                            staff_id=f"gw-{g}",
                            visited_at=visited,
                            present_person_ids=[],
                            absent_person_ids=[],
                            symptomatic_person_ids=[],
                            returnee_contact_person_ids=[],
                        ),
                        visited,
                        c,
                    )

    # ---------------------------------------------------------------- isolation

    def isolation_events(self) -> Iterator[tuple[str, bytes, bytes, list[tuple[str, bytes]]]]:
        rng, e = self.rng, self.expected
        people = list(self.present.items())
        levels: list[isolation.IsolationLevel] = ["centralized", "home", "monitoring"]
        for i in range(max(10, self.residents // 50)):
            person, (household, c) = rng.choice(people)
            order = f"o{i}"
            level = rng.choice(levels)
            starts = self.when()
            e.orders += 1
            stream = f"person:{person}"
            yield self.envelope(
                "isolation",
                stream,
                person,
                isolation.IsolationStarted(
                    order_id=order,
                    person_id=person,
                    level=level,
                    community_id=c,
                    reason="close contact",
                    starts_at=starts,
                    planned_end_at=starts + timedelta(days=14),
                    place=isolation.IsolationPlace(
                        kind="facility" if level == "centralized" else "home",
                        place_id=f"hotel-{c}" if level == "centralized" else household,
                    ),
                ),
                starts,
                c,
            )
            if rng.random() < 0.3:
                to = rng.choice([v for v in levels if v != level])
                yield self.envelope(
                    "isolation",
                    stream,
                    person,
                    isolation.IsolationLevelChanged(
                        order_id=order,
                        person_id=person,
                        from_level=level,
                        to_level=to,
                        reason="reassessed",
                    ),
                    starts + timedelta(days=2),
                    c,
                )
            if rng.random() < 0.2:
                yield self.envelope(
                    "isolation",
                    stream,
                    person,
                    isolation.IsolationExtended(
                        order_id=order,
                        person_id=person,
                        planned_end_at=starts + timedelta(days=21),
                        reason="positive contact",
                    ),
                    starts + timedelta(days=3),
                    c,
                )
            roll = rng.random()
            if roll < 0.5:
                e.orders_ended += 1
                yield self.envelope(
                    "isolation",
                    stream,
                    person,
                    isolation.IsolationEnded(
                        order_id=order,
                        person_id=person,
                        ended_at=starts + timedelta(days=14),
                        rule="14 days, 2 negatives",
                    ),
                    starts + timedelta(days=14),
                    c,
                )
            elif roll < 0.55:
                e.orders_cancelled += 1
                yield self.envelope(
                    "isolation",
                    stream,
                    person,
                    isolation.IsolationCancelled(
                        order_id=order, person_id=person, reason="entered by mistake"
                    ),
                    starts + timedelta(hours=1),
                    c,
                )
        # Lab results: mass testing, ~4% of the events; 0.1% positive, a few corrected.
        results: dict[str, str] = {}
        for s in range(max(20, self.n // 25)):
            person, (_, c) = people[s % len(people)]
            sample = f"x{s}"
            collected = self.when()
            result: lab.TestResult = "positive" if rng.random() < 0.001 else "negative"
            results[sample] = result
            yield self.envelope(
                "isolation",
                f"person:{person}",
                person,
                lab.TestResultReceived(
                    sample_id=sample,
                    person_id=person,
                    collected_at=collected,
                    result=result,
                    lab="lab-1",
                    batch_id=f"b{s // 1000}",
                ),
                collected + timedelta(hours=6),
                c,
            )
            if rng.random() < 0.002:
                corrected: lab.TestResult = "negative" if result == "positive" else "invalid"
                results[sample] = corrected
                yield self.envelope(
                    "isolation",
                    f"person:{person}",
                    person,
                    lab.TestResultCorrected(
                        sample_id=sample,
                        person_id=person,
                        collected_at=collected,
                        previous_result=result,
                        result=corrected,
                        lab="lab-1",
                        reason="re-run",
                    ),
                    collected + timedelta(hours=12),
                    c,
                )
        self.expected.samples = len(results)
        self.expected.positives = sum(1 for r in results.values() if r == "positive")

    # ---------------------------------------------------------------- the gates

    def gate_events(
        self, count: int
    ) -> Iterator[tuple[str, bytes, bytes, list[tuple[str, bytes]]]]:
        """Scan outcomes until ``count`` events, in time order over the days."""
        rng, e = self.rng, self.expected
        people = list(self.present.items())
        produced = 0
        step = self.days * 86400 / max(1, count)
        t = self.start
        i = 0
        while produced < count:
            i += 1
            t += timedelta(seconds=step)
            checkpoint, community, compound = self.checkpoints[i % len(self.checkpoints)]
            stream = f"checkpoint:{checkpoint}"
            roll = rng.random()
            code: gate.HealthCode = (
                "yellow" if rng.random() < 0.02 else "red" if rng.random() < 0.005 else "green"
            )
            common: dict[str, Any] = {
                "scan_id": f"s{i}",
                "checkpoint_id": checkpoint,
                "community_id": community,
                "compound_id": compound,
                "scanned_at": t,
                "subject_kind": "resident",
                "person_id": people[i % len(people)][0],
                "temperature_c": round(36.2 + rng.random() * 0.8, 1),
                "health_code": code,
                "itinerary_risk": False,
                "policy_version": 0,
                "status_as_of": t - timedelta(seconds=30),
            }
            correlation = uuid.UUID(int=rng.getrandbits(128), version=4)
            out: list[DomainEvent] = []
            if roll < 0.05:  # a visitor let in, and registered
                visitor = f"v{rng.randrange(5000)}"
                common |= {"subject_kind": "visitor", "person_id": visitor, "status_as_of": None}
                common["health_code"] = code = "green"
                out.append(gate.PersonEntered(direction="in", **common))
                out.append(
                    gate.VisitorRegistered(
                        visitor_id=visitor,
                        scan_id=common["scan_id"],
                        checkpoint_id=checkpoint,
                        community_id=community,
                        reason="delivery",
                        registered_at=t,
                    )
                )
            elif roll < 0.058:  # a fever: denied and reported
                common["temperature_c"] = round(37.3 + rng.random(), 1)
                out.append(
                    gate.EntryDenied(direction="in", reasons=["fever"], alerts=["fever"], **common)
                )
                out.append(
                    gate.FeverDetected(
                        scan_id=common["scan_id"],
                        checkpoint_id=checkpoint,
                        community_id=community,
                        compound_id=compound,
                        person_id=common["person_id"],
                        subject_kind="resident",
                        temperature_c=common["temperature_c"],
                        threshold_c=37.3,
                        scanned_at=t,
                    )
                )
            elif roll < 0.098:  # refused entry for other reasons (sometimes two)
                reasons = rng.sample(DENIAL_REASONS, 2 if rng.random() < 0.2 else 1)
                out.append(gate.EntryDenied(direction="in", reasons=reasons, **common))
            elif roll < 0.108:  # refused exit
                reasons = [rng.choice(EXIT_DENIAL_REASONS)]
                out.append(gate.ExitDenied(direction="out", reasons=reasons, **common))
            elif roll < 0.554:
                out.append(gate.PersonEntered(direction="in", **common))
            else:
                out.append(gate.PersonExited(direction="out", **common))
            for payload in out:
                if isinstance(payload, gate.EntryDenied | gate.ExitDenied):
                    e.denial_reasons += len(payload.reasons)
                if isinstance(payload, SCAN_OUTCOMES):
                    e.yellow_codes += payload.health_code == "yellow"
                    e.red_codes += payload.health_code == "red"
                produced += 1
                yield self.envelope("gate", stream, checkpoint, payload, t, community, correlation)


async def produce(
    bootstrap: str, idempotence: bool, generator: Generator
) -> tuple[int, float, float]:
    """Every generated record to Kafka; returns (records, generation+produce seconds,
    seconds spent awaiting the broker's acknowledgements at the end)."""
    producer = AIOKafkaProducer(
        bootstrap_servers=bootstrap,
        acks="all",
        enable_idempotence=idempotence,
        linger_ms=50,
        max_batch_size=1024 * 1024,
        max_request_size=8 * 1024 * 1024,
        request_timeout_ms=60000,
    )
    await producer.start()
    started = time.perf_counter()
    sent = 0
    pending: list[asyncio.Future[Any]] = []
    try:

        def streams() -> Iterator[tuple[str, bytes, bytes, list[tuple[str, bytes]]]]:
            yield from generator.registry_events()
            yield from generator.isolation_events()
            rest = generator.n - generator.expected.events
            yield from generator.gate_events(max(rest, 1))

        for topic, key, value, headers in streams():
            pending.append(await producer.send(topic, value=value, key=key, headers=headers))
            sent += 1
            if len(pending) >= 20_000:
                await asyncio.gather(*pending)
                pending.clear()
            if sent % 200_000 == 0:
                say(f"  ... {sent:,} produced ({time.perf_counter() - started:.0f} s)")
        flushed = time.perf_counter()
        await asyncio.gather(*pending)
        return sent, time.perf_counter() - started, time.perf_counter() - flushed
    finally:
        await producer.stop()


# ----------------------------------------------------------------------- raw baseline


async def raw_read(bootstrap: str, topics: Sequence[str], max_records: int = 2000) -> int:
    """Read every record of ``topics`` from the beginning to the current end; decode nothing."""
    kafka = AIOKafkaConsumer(bootstrap_servers=bootstrap, group_id=None, enable_auto_commit=False)
    await kafka.start()
    await asyncio.sleep(0)  # see cordon_core.projection.rebuild
    try:
        partitions = await topic_partitions(kafka, topics)
        kafka.assign(partitions)
        await kafka.seek_to_beginning(*partitions)
        ends = await kafka.end_offsets(partitions)
        starts = await kafka.beginning_offsets(partitions)
        remaining = {tp for tp in partitions if ends[tp] > starts[tp]}
        read = 0
        while remaining:
            fetched = await kafka.getmany(*remaining, timeout_ms=500, max_records=max_records)
            for tp, records in fetched.items():
                read += sum(1 for r in records if r.offset < ends[tp])
            for tp in list(remaining):
                if await kafka.position(tp) >= ends[tp]:
                    remaining.discard(tp)
        return read
    finally:
        await kafka.stop()


# ------------------------------------------------------------------------- verification


async def verify(
    db_url: str, schema: str, expected: Expected, projections: Sequence[Any]
) -> tuple[list[str], list[str]]:
    """Mismatches between the read models in ``schema`` and what was generated, and the
    projector's known defects seen."""
    t = expected.types
    problems: list[str] = []
    defects: list[str] = []
    conn = await asyncpg.connect(db_url)
    try:
        inbox = {
            r["consumer"]: (r["applied"], r["dead"])
            for r in await conn.fetch(
                f"""SELECT consumer, count(*) FILTER (WHERE outcome <> 'dead_lettered') AS applied,
                           count(*) FILTER (WHERE outcome = 'dead_lettered') AS dead
                    FROM {schema}.inbox GROUP BY consumer"""
            )
        }
        for projection in projections:
            want = sum(t[name] for name in projection.event_types)
            got, dead = inbox.get(consumer_name(projection), (0, 0))
            if (got, dead) != (want, 0):
                problems.append(
                    f"{projection.name}: inbox has {got} applied, {dead} dead-lettered;"
                    f" {want} events of its types were produced"
                )

        async def check(what: str, sql: str, want: int) -> None:
            got = await conn.fetchval(sql.format(s=schema))
            if int(got or 0) != want:
                problems.append(f"{what}: {got} in the read model, {want} expected")

        await check(
            "entries (gate_traffic_daily)",
            "SELECT sum(entries) FROM {s}.gate_traffic_daily",
            t["PersonEntered"],
        )
        await check(
            "exits (gate_traffic_daily)",
            "SELECT sum(exits) FROM {s}.gate_traffic_daily",
            t["PersonExited"],
        )
        for column, want in (
            ("entries", t["PersonEntered"]),
            ("exits", t["PersonExited"]),
            ("denials", t["EntryDenied"] + t["ExitDenied"]),
            ("fevers", t["FeverDetected"]),
            ("visitors", t["VisitorRegistered"]),
            ("yellow_codes", expected.yellow_codes),
            ("red_codes", expected.red_codes),
        ):
            await check(
                f"{column} (gate_minute)", f"SELECT sum({column}) FROM {{s}}.gate_minute", want
            )
        await check(
            "denials by reason",
            "SELECT sum(denials) FROM {s}.gate_denial_minute",
            expected.denial_reasons,
        )
        await check("places", "SELECT count(*) FROM {s}.place", expected.places)
        await check(
            "residents present",
            "SELECT count(*) FROM {s}.resident WHERE present",
            expected.residents - expected.residents_absent,
        )
        # Known defect (docs/benchmarks.md, "Projector"): a resident registered and gone in
        # the same batch is never stored, so departed residents can be missing. A defect of
        # the projector, reported apart; --strict counts it as a failure.
        gone = await conn.fetchval(f"SELECT count(*) FROM {schema}.resident WHERE NOT present")
        if gone != expected.residents_absent:
            defects.append(
                f"residents: {expected.residents_absent - gone} of {expected.residents_absent}"
                " departed residents have no row (registered and gone in one batch)"
            )
        await check(
            "vaccinated people",
            "SELECT count(*) FROM {s}.resident_dose",
            expected.persons_with_doses,
        )
        await check("doses", "SELECT sum(doses) FROM {s}.resident_dose", expected.doses)
        await check("isolation orders", "SELECT count(*) FROM {s}.isolation_order", expected.orders)
        await check(
            "orders ended",
            "SELECT count(*) FROM {s}.isolation_order WHERE ended_at IS NOT NULL",
            expected.orders_ended,
        )
        await check(
            "orders cancelled",
            "SELECT count(*) FROM {s}.isolation_order WHERE cancelled",
            expected.orders_cancelled,
        )
        await check(
            "level changes",
            "SELECT count(*) FROM {s}.isolation_level_change",
            t["IsolationLevelChanged"],
        )
        await check("samples", "SELECT count(*) FROM {s}.test_result", expected.samples)
        await check(
            "positives",
            "SELECT count(*) FROM {s}.test_result WHERE result = 'positive'",
            expected.positives,
        )
        await check("screening rounds", "SELECT count(*) FROM {s}.screening_round", expected.rounds)
        await check(
            "households visited", "SELECT count(*) FROM {s}.screening_visit", expected.visits
        )
    finally:
        await conn.close()
    return problems, defects


# ---------------------------------------------------------------------------- rebuild


async def rebuild_all(settings: ProjectorSettings) -> tuple[float, int, Any]:
    """Every projection of ``build_projector`` rebuilt together, exactly as
    ``cordon-projector rebuild`` does: one pass over the three topics, each record decoded
    once and applied by every projection that wants it. Returns (seconds, records read,
    projector)."""
    projector = build_projector(settings)
    runtime = projector.runtime
    chosen = projector.projections
    pool = await asyncpg.create_pool(settings.database_url, min_size=1, max_size=len(chosen) + 1)
    try:
        async with pool.acquire() as conn:
            await apply_migrations(conn, runtime.schema, runtime.migrations)
        started = time.perf_counter()
        last = [started, 0]

        def progress(done: int, total: int) -> None:
            if time.perf_counter() - last[0] >= 15 or (done == total and last[1] != done):
                last[0], last[1] = time.perf_counter(), done
                say(f"  ... {done:,}/{total:,} records ({last[0] - started:.0f} s)")

        read = await rebuild_together(
            [(p, projector.topics_of(p)) for p in chosen],
            pool=pool,
            schema=runtime.schema,
            registry=runtime.registry,
            settings=settings,
            progress=progress,
        )
        return time.perf_counter() - started, read, projector
    finally:
        await pool.close()


# --------------------------------------------------------------------------- catch-up


async def committed_until_end(
    bootstrap: str, groups: dict[str, list[str]], timeout: float
) -> dict[str, float]:
    """Seconds (from now) until each group's committed offsets reach the topics' end."""
    started = time.perf_counter()
    reader = AIOKafkaConsumer(bootstrap_servers=bootstrap, group_id=None)
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await reader.start()
    await asyncio.sleep(0)
    await admin.start()
    done: dict[str, float] = {}
    try:
        ends: dict[str, dict[Any, int]] = {}
        for group, topics in groups.items():
            partitions = await topic_partitions(reader, topics)
            ends[group] = await reader.end_offsets(partitions)
        while len(done) < len(groups) and time.perf_counter() - started < timeout:
            for group in groups:
                if group in done:
                    continue
                offsets = await admin.list_consumer_group_offsets(group)
                if all(
                    (o := offsets.get(tp)) is not None and o.offset >= end
                    for tp, end in ends[group].items()
                    if end > 0
                ):
                    done[group] = time.perf_counter() - started
            await asyncio.sleep(0.5)
        return done
    finally:
        await admin.close()
        await reader.stop()


# ------------------------------------------------------------------------ lag phase


@dataclass
class Sent:
    """One request: a single scan, or a batch of ``count`` scans of one checkpoint."""

    checkpoint: str
    scheduled: float
    count: int = 1
    sent: float = 0.0
    answered: float = 0.0
    status: int = 0
    event_types: Counter[str] = field(default_factory=Counter)


def scan_body(scan_id: str, checkpoint: str, rng: random.Random, visitors: int = 300) -> bytes:
    n = rng.randrange(visitors)
    roll = rng.random()
    body: dict[str, Any] = {
        "scan_id": scan_id,
        "checkpoint_id": checkpoint,
        "scanned_at": datetime.now(UTC).isoformat(),
        "direction": "in" if roll < 0.55 else "out",
        "visitor": {
            "document_type": "resident_id",
            "document_number": f"11010519{n:010d}",
            "name": f"Visitor {n}",
            "phone": f"+86 138 {n:04d} 0000",
            "reason": "delivery",
        },
        "temperature_c": 36.6,
        "health_code": "green",
    }
    if roll < 0.05:
        body |= {"temperature_c": 38.1, "direction": "in"}
    elif roll < 0.10:
        body |= {"health_code": "red", "direction": "in"}
    return json.dumps(body).encode()


def checkpoint_counts(view: dict[str, Any]) -> dict[str, int]:
    return {
        c["checkpoint_id"]: c["entries"] + c["exits"] + c["denials"]
        for c in view.get("checkpoints", [])
    }


class LiveStream:
    """Subscribed to the projector's server-sent events: each pushed view's arrival time
    and its per-checkpoint counts."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.views: list[tuple[float, dict[str, int]]] = []
        self.connected = asyncio.Event()
        self.first_view = asyncio.Event()
        self.task: asyncio.Task[None] | None = None

    async def run(self) -> None:
        async with (
            httpx.AsyncClient(timeout=httpx.Timeout(10, read=None)) as client,
            client.stream("GET", self.url) as response,
        ):
            response.raise_for_status()
            self.connected.set()
            async for line in response.aiter_lines():
                if line.startswith("data:"):
                    now = time.perf_counter()
                    self.views.append((now, checkpoint_counts(json.loads(line[5:]))))
                    self.first_view.set()

    def start(self) -> None:
        self.task = asyncio.create_task(self.run())

    async def stop(self) -> None:
        if self.task is not None:
            self.task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self.task

    def latest(self) -> dict[str, int]:
        return self.views[-1][1] if self.views else {}


def reflected_lags(
    sent: Sequence[Sent], views: Sequence[tuple[float, dict[str, int]]], base: dict[str, int]
) -> tuple[list[float], int]:
    """Per answered scan, seconds from its response to the first pushed view whose count
    for its checkpoint reaches base + the scans of that checkpoint sent before the
    response (a batch's scans all count from its response); and the number of scans never
    reflected."""
    requests: dict[str, list[tuple[float, int]]] = defaultdict(list)
    for s in sent:
        if s.status == 200:
            requests[s.checkpoint].append((s.sent, s.count))
    sent_times: dict[str, list[float]] = {}
    sent_before: dict[str, list[int]] = {}  # scans sent up to and including each request
    for checkpoint, items in requests.items():
        items.sort()
        sent_times[checkpoint] = [at for at, _ in items]
        sent_before[checkpoint] = list(itertools.accumulate(n for _, n in items))
    series: dict[str, tuple[list[float], list[int]]] = {}
    for checkpoint in requests:
        times, counts, high = [], [], 0
        for at, view in views:
            high = max(high, view.get(checkpoint, 0))
            times.append(at)
            counts.append(high)
        series[checkpoint] = (times, counts)
    lags: list[float] = []
    missing = 0
    for s in sent:
        if s.status != 200:
            continue
        before = bisect.bisect_right(sent_times[s.checkpoint], s.answered)
        needed = base.get(s.checkpoint, 0) + (sent_before[s.checkpoint][before - 1])
        times, counts = series[s.checkpoint]
        index = bisect.bisect_left(counts, needed)
        if index == len(counts):
            missing += s.count
            continue
        lags.extend([max(0.0, times[index] - s.answered)] * s.count)
    return lags, missing


def lag_schedule(args: argparse.Namespace) -> list[tuple[int, float]]:
    """(scans per request, scans/s) of each lag measurement: single scans at each
    ``--rate``, then batches of ``--batch-size`` at each ``--batch-rate``."""
    return [(1, r) for r in args.rate] + [(args.batch_size, r) for r in args.batch_rate]


async def measure_lag(
    args: argparse.Namespace,
    http: HttpPool,
    stream: LiveStream,
    tokens: dict[str, str],
    checkpoints: list[str],
    rng: random.Random,
    *,
    rate: float,
    batch: int,
) -> tuple[dict[str, Any], list[str]]:
    """Scans posted open loop at ``rate`` scans/s for ``--seconds`` (one a request, or
    batches of ``batch`` scans of one checkpoint through ``/v1/scans/batch``), then the
    lag from each response to the pushed view that covers it."""
    failures: list[str] = []
    base = stream.latest()
    views_before = len(stream.views)
    total = int(rate * args.seconds)
    requests = max(1, total // batch)
    interval = batch / rate
    tag = uuid.uuid4().hex[:6]
    sent = [
        Sent(checkpoints[i % len(checkpoints)], i * interval, count=batch) for i in range(requests)
    ]
    bodies = []
    for i, s in enumerate(sent):
        scans = [
            scan_body(f"lag-{tag}-{i}-{k}", s.checkpoint, rng, visitors=args.visitors)
            for k in range(batch)
        ]
        bodies.append(scans[0] if batch == 1 else b'{"scans":[' + b",".join(scans) + b"]}")
    path = "/v1/scans" if batch == 1 else "/v1/scans/batch"
    errors: list[str] = []
    meter = CpuMeter()

    async def one(i: int) -> None:
        s = sent[i]
        s.sent = time.perf_counter()
        try:
            s.status, data = await asyncio.wait_for(
                http.post(path, tokens[s.checkpoint], bodies[i]), args.request_timeout
            )
        except (OSError, asyncio.IncompleteReadError, TimeoutError) as error:
            errors.append(repr(error))
            return
        s.answered = time.perf_counter()
        if s.status != 200:
            errors.append(f"{s.status} {data[:200]!r}")
            return
        answer = json.loads(data)
        decisions = answer if isinstance(answer, list) else [answer]
        s.event_types.update(d["event_type"] for d in decisions)
        if len(decisions) != s.count:
            errors.append(f"{s.count} scans sent, {len(decisions)} decisions back")

    mode = "single scans" if batch == 1 else f"batches of {batch}"
    say(
        f"  {requests * batch:,} visitor scans ({mode}) at {rate:g}/s over"
        f" {len(checkpoints)} checkpoints, load {os.getloadavg()[0]:.2f} ..."
    )
    load_before = [round(x, 2) for x in os.getloadavg()]
    tasks: list[asyncio.Task[None]] = []
    with meter:
        start = time.perf_counter()
        for i, s in enumerate(sent):
            s.scheduled += start
            delay = s.scheduled - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            tasks.append(asyncio.create_task(one(i)))
        await asyncio.gather(*tasks)
        answered_all = time.perf_counter()
        deadline = answered_all + args.drain_timeout
        while time.perf_counter() < deadline:
            latest = stream.latest()
            answered = sum(s.count for s in sent if s.status == 200)
            expected_total = sum(base.get(c, 0) for c in checkpoints) + answered
            if sum(latest.get(c, 0) for c in checkpoints) >= expected_total:
                break
            await asyncio.sleep(0.1)
    lags, missing = reflected_lags(sent, stream.views[views_before:], base)
    lags.sort()
    decision = sorted(s.answered - s.sent for s in sent if s.status == 200)
    send_late = sorted(max(0.0, s.sent - s.scheduled) for s in sent)
    answered = sum(s.count for s in sent if s.status == 200)
    outcome_types: Counter[str] = Counter()
    for s in sent:
        outcome_types.update(s.event_types)
    if errors:
        failures.append(
            f"lag phase ({mode}, {rate:g}/s): {len(errors)} requests failed, e.g. {errors[0]}"
        )
    if missing:
        failures.append(
            f"lag phase ({mode}, {rate:g}/s): {missing} answered scans never appeared"
            " on the dashboard"
        )
    return {
        "mode": mode,
        "batch": batch,
        "rate_per_s": rate,
        "seconds": args.seconds,
        "checkpoints": len(checkpoints),
        "scans": requests * batch,
        "requests": requests,
        "answered": answered,
        "answered_per_s": round(answered / max(answered_all - start, 1e-9), 1),
        "outcomes": dict(outcome_types),
        "reflected": len(lags),
        "not_reflected": missing,
        "pushed_views": len(stream.views) - views_before,
        "lag_ms": {
            "p50": ms(lags, 50),
            "p90": ms(lags, 90),
            "p99": ms(lags, 99),
            "max": ms(lags, 100),
        },
        "gate_decision_ms": {
            "p50": ms(decision, 50),
            "p99": ms(decision, 99),
        },
        "send_late_ms_p99": ms(send_late, 99),
        "loadavg": load_before,
        "loadavg_after": [round(x, 2) for x in os.getloadavg()],
        "host": host_figures(meter),
    }, failures


async def lag_phase(
    args: argparse.Namespace, srv: Infrastructure, db_url: str, prefix: str, log_dir: Path
) -> tuple[list[dict[str, Any]], list[str]]:
    failures: list[str] = []
    base_settings = ServiceSettings(
        database_url=db_url,
        kafka_bootstrap=srv.kafka_bootstrap,
        kafka_idempotence=srv.kafka_idempotence,
        topic_prefix=prefix,
        topic_partitions=args.partitions,
        district=DISTRICT,
        log_level="WARNING",
    )
    env = {
        **settings_env(base_settings),
        "CORDON_LOG_LEVEL": "WARNING",
        "CORDON_TIMEZONE": TIMEZONE,
    }
    gate_proc = ServiceProcess("cordon_gate", {**env, "CORDON_GATE_ADMIN_TOKEN": ADMIN}, log_dir)
    projector_proc = ServiceProcess(
        "cordon_projector",
        {**env, "CORDON_DASHBOARD_TOKENS": json.dumps({DASHBOARD_TOKEN: {"kind": "district"}})},
        log_dir,
    )
    rng = random.Random(args.seed + 1)
    stream: LiveStream | None = None
    http: HttpPool | None = None
    try:
        await asyncio.gather(
            asyncio.to_thread(gate_proc.start), asyncio.to_thread(projector_proc.start)
        )
        tokens: dict[str, str] = {}
        checkpoints = [f"{LAG_COMMUNITY}-gate{i}" for i in range(args.checkpoints)]
        async with httpx.AsyncClient(
            base_url=gate_proc.url, headers={"Authorization": f"Bearer {ADMIN}"}, timeout=30
        ) as office:
            for checkpoint in checkpoints:
                r = await office.post(
                    "/v1/checkpoints",
                    json={
                        "checkpoint_id": checkpoint,
                        "community_id": LAG_COMMUNITY,
                        "compound_id": f"{LAG_COMMUNITY}-k1",
                        "name": checkpoint,
                    },
                )
                r.raise_for_status()
                r = await office.post(
                    f"/v1/checkpoints/{checkpoint}/devices", json={"device_id": f"{checkpoint}-pad"}
                )
                r.raise_for_status()
                tokens[checkpoint] = r.json()["token"]
        http = HttpPool("127.0.0.1", gate_proc.port)
        # Warm up: one scan per checkpoint, until the dashboard shows each of them.
        for checkpoint in checkpoints:
            status, data = await http.post(
                "/v1/scans", tokens[checkpoint], scan_body(f"warm-{checkpoint}", checkpoint, rng)
            )
            if status != 200:
                raise RuntimeError(f"warm-up scan: {status} {data[:300]!r}")
        gates_url = f"{projector_proc.url}/v1/areas/{LAG_COMMUNITY}/gates"
        base: dict[str, int] = {}
        deadline = time.perf_counter() + 60
        async with httpx.AsyncClient(timeout=10) as client:
            while time.perf_counter() < deadline:
                r = await client.get(gates_url, params={"token": DASHBOARD_TOKEN})
                if r.status_code == 200:
                    base = checkpoint_counts(r.json())
                    if all(base.get(c, 0) >= 1 for c in checkpoints):
                        break
                await asyncio.sleep(0.2)
            else:
                raise RuntimeError(f"warm-up scans never reached the dashboard: {base}")
        stream = LiveStream(f"{gates_url}/stream?token={DASHBOARD_TOKEN}")
        stream.start()
        await asyncio.wait_for(stream.connected.wait(), 30)
        await asyncio.wait_for(stream.first_view.wait(), 30)
        results = []
        for n, (batch, rate) in enumerate(lag_schedule(args)):
            if n:
                await asyncio.sleep(args.lag_pause)  # let the host settle between loads
            result, phase_failures = await measure_lag(
                args, http, stream, tokens, checkpoints, rng, rate=rate, batch=batch
            )
            say(
                f"   {result['reflected']:,}/{result['answered']:,} scans"
                f" ({result['mode']}, {rate:g}/s) seen live: p50 {result['lag_ms']['p50']} ms,"
                f" p99 {result['lag_ms']['p99']} ms; gate p50 {result['gate_decision_ms']['p50']}"
                f" ms, p99 {result['gate_decision_ms']['p99']} ms; load {result['loadavg']}"
            )
            results.append(result)
            failures += phase_failures
        return results, failures
    finally:
        if stream is not None:
            await stream.stop()
        if http is not None:
            http.close()
        await asyncio.gather(
            asyncio.to_thread(gate_proc.stop), asyncio.to_thread(projector_proc.stop)
        )


# ------------------------------------------------------------------------------- main


async def run(args: argparse.Namespace, srv: Infrastructure) -> tuple[dict[str, Any], list[str]]:
    machine = await machine_facts(srv)
    prefix = f"projbench-{uuid.uuid4().hex[:8]}"
    lag_prefix = f"{prefix}-lag"
    failures: list[str] = []
    defects: list[str] = []
    results: dict[str, Any] = {
        "benchmark": "projector",
        "command": " ".join(["bench/bench_projector.py", *sys.argv[1:]]),
        "started_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": machine,
        "events": args.events,
        "partitions": args.partitions,
    }
    log_dir = Path(tempfile.mkdtemp(prefix="projbench-logs-"))
    try:
        async with (
            fresh_database(srv.database_url) as db_rebuild,
            fresh_database(srv.database_url) as db_live,
        ):
            settings = ProjectorSettings(
                database_url=db_rebuild,
                kafka_bootstrap=srv.kafka_bootstrap,
                kafka_idempotence=srv.kafka_idempotence,
                topic_prefix=prefix,
                topic_partitions=args.partitions,
                district=DISTRICT,
                timezone=TIMEZONE,
                log_level="WARNING",
            )
            topics = [f"{prefix}.{s}.events" for s in ("gate", "registry", "isolation")]
            await ensure_topics(settings, topics)

            say(f"1. producing {args.events:,} events to {prefix}.* (not timed) ...")
            generator = Generator(args.events, prefix, args.days, args.seed)
            produced, produce_s, _ = await produce(
                srv.kafka_bootstrap, srv.kafka_idempotence, generator
            )
            expected = generator.expected
            results["produced"] = {
                "events": produced,
                "seconds": round(produce_s, 1),
                "per_topic": dict(expected.per_topic),
                "types": dict(sorted(expected.types.items(), key=lambda kv: -kv[1])),
                "district": {
                    "sub_districts": generator.sub_districts,
                    "communities": generator.communities,
                    "buildings": len(generator.building_ids),
                    "households": len(generator.households),
                    "residents": generator.residents,
                    "checkpoints": len(generator.checkpoints),
                    "days": args.days,
                },
            }
            say(
                f"   {produced:,} events in {produce_s:.1f} s: "
                + ", ".join(f"{t.split('.')[-2]} {n:,}" for t, n in expected.per_topic.items())
            )

            say("2. raw baseline: a plain aiokafka consumer reads every record ...")
            with CpuMeter() as meter:
                began = time.perf_counter()
                read = await raw_read(srv.kafka_bootstrap, topics)
                raw_s = time.perf_counter() - began
            if read != produced:
                failures.append(f"raw read {read} records, {produced} produced")
            results["raw"] = {
                "records": read,
                "seconds": round(raw_s, 2),
                "records_per_s": round(read / raw_s),
                "host": host_figures(meter),
            }
            say(f"   {read:,} records in {raw_s:.2f} s: {read / raw_s:,.0f} records/s")

            say("3. rebuild every projection in one pass (cordon-projector rebuild) ...")
            with CpuMeter() as meter:
                rebuild_s, rebuilt_read, projector = await rebuild_all(settings)
            per = [
                {
                    "projection": p.name,
                    "topic": projector.topics_of(p)[0],
                    "events_applied": sum(expected.types[t] for t in p.event_types),
                }
                for p in projector.projections
            ]
            if rebuilt_read != produced:
                failures.append(f"rebuild read {rebuilt_read} records, {produced} produced")
            problems, found = await verify(db_rebuild, "projector", expected, projector.projections)
            failures += [f"rebuild: {p}" for p in problems]
            defects += [f"rebuild: {d}" for d in found]
            results["rebuild"] = {
                "seconds": round(rebuild_s, 1),
                "events_per_s": round(produced / rebuild_s),
                "records_read": rebuilt_read,
                "records_read_per_s": round(rebuilt_read / rebuild_s),
                "ratio_to_raw": round((produced / rebuild_s) / (read / raw_s), 4),
                "events_applied": sum(r["events_applied"] for r in per),
                "per_projection": per,
                "verified": not problems,
                "host": host_figures(meter),
            }
            say(
                f"   all read models: {rebuild_s:.1f} s, {produced / rebuild_s:,.0f} events/s,"
                f" {rebuilt_read:,} records read"
                f" ({'verified' if not problems else 'MISMATCH: ' + '; '.join(problems)})"
            )

            if not args.skip_catchup:
                say("4. catch-up: the projector process, its consumers from offset 0 ...")
                live_settings = settings.model_copy(update={"database_url": db_live})
                env = {
                    **settings_env(
                        ServiceSettings(
                            **live_settings.model_dump(include=set(ServiceSettings.model_fields))
                        )
                    ),
                    "CORDON_LOG_LEVEL": "WARNING",
                    "CORDON_TIMEZONE": TIMEZONE,
                }
                proc = ServiceProcess("cordon_projector", env, log_dir)
                groups = {consumer_name(p): projector.topics_of(p) for p in projector.projections}
                with CpuMeter() as meter:
                    spawned = time.perf_counter()
                    try:
                        await asyncio.to_thread(proc.start)
                        ready_s = time.perf_counter() - spawned
                        done = await committed_until_end(
                            srv.kafka_bootstrap, groups, args.catchup_timeout
                        )
                    finally:
                        await asyncio.to_thread(proc.stop)
                offset = ready_s
                finished = {g: round(s + offset, 1) for g, s in done.items()}
                catchup_s = max(finished.values(), default=float("nan"))
                if len(done) < len(groups):
                    failures.append(
                        "catch-up: not done in time: "
                        + ", ".join(g for g in groups if g not in done)
                    )
                problems, found = await verify(
                    db_live, "projector", expected, projector.projections
                )
                failures += [f"catch-up: {p}" for p in problems]
                defects += [f"catch-up: {d}" for d in found]
                results["catchup"] = {
                    "seconds_from_spawn": catchup_s,
                    "ready_after_s": round(ready_s, 1),
                    "events_per_s": round(produced / catchup_s) if done else None,
                    "ratio_to_raw": round((produced / catchup_s) / (read / raw_s), 4)
                    if done
                    else None,
                    "group_done_after_s": finished,
                    "verified": not problems,
                    "host": host_figures(meter),
                }
                say(
                    f"   all consumers at the end after {catchup_s:.1f} s from spawn:"
                    f" {produced / catchup_s:,.0f} events/s"
                    f" ({'verified' if not problems else 'MISMATCH: ' + '; '.join(problems)})"
                )

            if not args.skip_lag:
                loads = ", ".join(
                    f"{r:g}/s" + ("" if b == 1 else f" in batches of {b}")
                    for b, r in lag_schedule(args)
                )
                say(
                    f"5. dashboard lag: gate + projector processes, {loads}, {args.seconds:g} s"
                    " each, live stream subscribed ..."
                )
                lag, lag_failures = await lag_phase(args, srv, db_live, lag_prefix, log_dir)
                failures += lag_failures
                results["lag"] = lag
    except BaseException:
        say(f"logs of the service processes: {log_dir}")
        raise
    finally:
        with contextlib.suppress(Exception):
            await delete_topics(srv.kafka_bootstrap, [prefix, lag_prefix])
    results["machine"]["loadavg_at_end"] = [round(x, 2) for x in os.getloadavg()]
    results["failures"] = failures
    results["projector_defects"] = defects
    for defect in defects:
        say(f"WARNING projector defect: {defect}")
    if args.strict:
        failures += [f"projector defect: {d}" for d in defects]
    if not failures:
        shutil.rmtree(log_dir, ignore_errors=True)
    else:
        say(f"logs of the service processes: {log_dir}")
    return results, failures


def table(results: dict[str, Any]) -> str:
    m = results["machine"]
    raw = results.get("raw", {})
    rb = results.get("rebuild", {})
    cu = results.get("catchup")
    lag = results.get("lag")
    lines = [
        "",
        f"machine: {m['cores']} cores ({m['cpu']}), {m['kafka']}, {m['postgresql']},"
        f" load {m['loadavg_at_start']} -> {m.get('loadavg_at_end')}",
        f"events: {results['produced']['events']:,} over {results['partitions']} partitions per"
        " topic",
        "",
        f"{'what':<52} {'time':>9} {'rate':>16} {'ratio':>7}",
        f"{'raw baseline: plain aiokafka consumer, all records':<52}"
        f" {raw.get('seconds', 0):>7.1f} s {raw.get('records_per_s', 0):>9,} rec/s {'1':>7}",
        f"{'rebuild of all 7 read models (events produced)':<52} {rb.get('seconds', 0):>7.1f} s"
        f" {rb.get('events_per_s', 0):>9,} ev/s {rb.get('ratio_to_raw', 0):>7.3f}",
    ]
    for row in rb.get("per_projection", []):
        lines.append(f"  {row['projection']}: {row['events_applied']:,} events applied")
    if cu:
        lines.append(
            f"{'catch-up: projector process, 7 consumers from 0':<52}"
            f" {cu['seconds_from_spawn']:>7.1f} s {cu['events_per_s'] or 0:>9,} ev/s"
            f" {cu['ratio_to_raw'] or 0:>7.3f}"
        )
    if lag:
        lines += ["", "dashboard lag (gate response -> live view):"]
        for phase in lag:
            lines.append(
                f"  {phase['mode']} at {phase['rate_per_s']:g} scans/s for {phase['seconds']:g} s"
                f" (load {phase['loadavg'][0]}): p50 {phase['lag_ms']['p50']} ms,"
                f" p90 {phase['lag_ms']['p90']} ms, p99 {phase['lag_ms']['p99']} ms,"
                f" max {phase['lag_ms']['max']} ms ({phase['reflected']:,}/{phase['answered']:,}"
                f" scans; gate p50 {phase['gate_decision_ms']['p50']} ms,"
                f" p99 {phase['gate_decision_ms']['p99']} ms)"
            )
    return "\n".join(lines)


def rates(text: str) -> list[float]:
    return [float(r) for r in text.split(",") if r.strip()]


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--events", type=int, default=1_000_000, help="events to produce")
    parser.add_argument("--quick", action="store_true", help="20,000 events, short lag phase")
    parser.add_argument("--partitions", type=int, default=6, help="partitions per topic")
    parser.add_argument("--days", type=int, default=7, help="days the gate traffic spans")
    parser.add_argument(
        "--rate",
        type=rates,
        default=None,
        help="single scans/s in the lag phase, one measurement per comma-separated rate"
        " (default 200)",
    )
    parser.add_argument(
        "--batch-rate",
        type=rates,
        default=[],
        help="scans/s posted as batches (POST /v1/scans/batch), one measurement per rate",
    )
    parser.add_argument("--batch-size", type=int, default=100, help="scans per batch request")
    parser.add_argument("--lag-pause", type=float, default=10.0, help="s between lag loads")
    parser.add_argument(
        "--visitors",
        type=int,
        default=1_000_000,
        help="visitors the lag scans are drawn from; a few hundred make concurrent batches"
        " update the same visitors' rows (the gate then deadlocks, see docs/benchmarks.md)",
    )
    parser.add_argument(
        "--request-timeout", type=float, default=120.0, help="s before a scan request fails"
    )
    parser.add_argument("--seconds", type=float, default=None, help="each lag load's length")
    parser.add_argument("--checkpoints", type=int, default=4, help="checkpoints in lag phase")
    parser.add_argument("--drain-timeout", type=float, default=30.0)
    parser.add_argument("--catchup-timeout", type=float, default=1800.0)
    parser.add_argument("--skip-catchup", action="store_true")
    parser.add_argument("--skip-lag", action="store_true")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument(
        "--strict", action="store_true", help="fail on the projector's known defects too"
    )
    parser.add_argument("--json", type=Path, default=None, help="where to write the results")
    parser.add_argument("--no-json", action="store_true")
    args = parser.parse_args(argv)
    if args.quick:
        if "--events" not in (argv if argv is not None else sys.argv):
            args.events = 20_000
        args.rate = args.rate or [100.0]
        args.seconds = args.seconds or 5.0
    args.rate = args.rate if args.rate is not None else [200.0]
    args.seconds = args.seconds or 60.0
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    configure_logging(level="WARNING", json_logs=False)

    async def guarded(srv: Infrastructure) -> tuple[dict[str, Any], list[str]]:
        task = asyncio.current_task()
        assert task is not None
        asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, task.cancel)
        return await run(args, srv)

    with temporary_infrastructure("projbench", report=say) as srv:
        results, failures = asyncio.run(guarded(srv))
    say(table(results))
    rb, cu, lag = results.get("rebuild", {}), results.get("catchup") or {}, results.get("lag") or []
    say(
        f"RESULT produced={results['produced']['events']}"
        f" rebuild_verified={str(rb.get('verified')).lower()}"
        f" catchup_verified={str(cu.get('verified', 'skipped')).lower()}"
        f" lag_scans={sum(p['answered'] for p in lag)}"
        f" lag_reflected={sum(p['reflected'] for p in lag)}"
        f" failures={len(failures)}"
    )
    if not args.no_json:
        save_results(results, "projector", quick=args.quick, path=args.json)
    for failure in failures:
        say(f"FAILED: {failure}")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())

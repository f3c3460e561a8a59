"""A simulated district for the gate's load generator (bench/bench_gate.py).

Communities with checkpoints (a busy main gate and side gates, a few closed, a few that
require a negative test), residents in households (known to the gate through the
registry's ``ResidentRegistered`` events; about 1% under isolation), passes with daily
exit quotas (a few revoked), a pool of visitors, and scans over a simulated local day with
a morning and an evening surge: ~10% visitors, ~3% passes, ~1% fevers, ~2% yellow and
~0.5% red codes. Everything is drawn from one seeded ``random.Random``: the same seed gives
the same district and the same scans (pass codes are the gate's, filled in when issued).

Plain Python, no I/O: the benchmark does the registering and the sending.
"""

from __future__ import annotations

import json
import random
from bisect import bisect
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta, timezone
from itertools import accumulate
from typing import Any

LOCAL = timezone(timedelta(hours=8), "Asia/Shanghai")  # no DST since 1991
BASE_DAY = date(2022, 4, 1)
"""Scans are dated in the past (only scans from the future are refused), so the same seed
gives the same scans whenever the benchmark runs."""
PASSES_VALID = (datetime(2022, 3, 25, tzinfo=LOCAL), datetime(2022, 5, 1, tzinfo=LOCAL))
REGISTERED_AT = datetime(2022, 3, 1, tzinfo=LOCAL)


@dataclass(frozen=True)
class Mix:
    """Shares of scans; the rest are residents with a normal temperature and a green code."""

    visitor: float = 0.10
    pass_holder: float = 0.03
    stranger: float = 0.005
    """A person id the gate does not know as a resident of that community."""
    fever: float = 0.01
    yellow: float = 0.02
    red: float = 0.005
    itinerary_risk: float = 0.01
    vehicle: float = 0.05


@dataclass(frozen=True)
class Shape:
    communities: int = 30
    checkpoints: int = 300
    residents: int = 30_000
    pass_share: float = 0.02
    """Share of residents holding a pass."""
    visitors: int = 3_000
    isolated_share: float = 0.01
    closed_share: float = 0.03
    tested_share: float = 0.05
    """Share of checkpoints that require a negative test within 48 hours."""
    mix: Mix = field(default_factory=Mix)


@dataclass(frozen=True)
class CheckpointSpec:
    checkpoint_id: str
    community_id: str
    compound_id: str
    name: str
    is_open: bool
    requires_negative_test: bool
    weight: float
    """Relative traffic: the main gate is busiest, a closed gate sees few people."""

    def body(self) -> dict[str, Any]:
        return {
            "checkpoint_id": self.checkpoint_id,
            "community_id": self.community_id,
            "compound_id": self.compound_id,
            "name": self.name,
            "is_open": self.is_open,
            "requires_negative_test": self.requires_negative_test,
        }


@dataclass(frozen=True)
class ResidentSpec:
    person_id: str
    household_id: str
    building_id: str
    compound_id: str
    grid_id: str
    community_id: str
    sub_district_id: str
    residence_type: str
    isolation_level: str | None = None


@dataclass
class PassSpec:
    holder_person_id: str
    community_id: str
    kind: str
    daily_exit_quota: int | None
    revoke: bool
    pass_id: str = ""
    code: str = ""
    """Filled in from the gate's answer when the pass is issued."""

    def body(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "holder_person_id": self.holder_person_id,
            "community_id": self.community_id,
            "valid_from": PASSES_VALID[0].isoformat(),
            "valid_until": PASSES_VALID[1].isoformat(),
            "daily_exit_quota": self.daily_exit_quota,
        }


@dataclass(frozen=True)
class VisitorSpec:
    document_type: str
    document_number: str
    name: str
    phone: str
    reason: str

    def body(self) -> dict[str, str]:
        return {
            "document_type": self.document_type,
            "document_number": self.document_number,
            "name": self.name,
            "phone": self.phone,
            "reason": self.reason,
        }


@dataclass(frozen=True)
class Scan:
    """One generated scan: its JSON (the gate's ``ScanIn``) and what identifies it."""

    scan_id: str
    checkpoint_id: str
    body: bytes


REASONS = ("visiting parents", "delivery", "repairs", "caregiver", "medical visit", "work")
SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗"


@dataclass
class District:
    seed: int
    shape: Shape
    communities: list[str]
    checkpoints: list[CheckpointSpec]
    residents: list[ResidentSpec]
    passes: list[PassSpec]
    visitors: list[VisitorSpec]
    policies: dict[str, dict[str, Any]]
    """Community -> the gate policy it publishes (the others keep the default)."""

    @classmethod
    def generate(cls, shape: Shape, seed: int = 7) -> District:
        rng = random.Random(seed)
        communities = [f"c{n:03d}" for n in range(shape.communities)]
        checkpoints: list[CheckpointSpec] = []
        for n in range(shape.checkpoints):
            community = communities[n % len(communities)]
            rank = n // len(communities)  # 0: the community's main gate
            closed = rank > 0 and rng.random() < shape.closed_share
            checkpoints.append(
                CheckpointSpec(
                    checkpoint_id=f"{community}-g{rank:02d}",
                    community_id=community,
                    compound_id=f"{community}-k{rank % 3}",
                    name="Main gate" if rank == 0 else f"Side gate {rank}",
                    is_open=not closed,
                    requires_negative_test=rng.random() < shape.tested_share,
                    weight=0.05 if closed else (3.0 if rank == 0 else 1.0),
                )
            )
        residents: list[ResidentSpec] = []
        household = 0
        while len(residents) < shape.residents:
            community = communities[household % len(communities)]
            compound = f"{community}-k{rng.randrange(3)}"
            building = f"{compound}-b{rng.randrange(40):02d}"
            for _ in range(
                min(rng.choice((1, 2, 2, 3, 3, 3, 4, 5)), shape.residents - len(residents))
            ):
                isolated = None
                if rng.random() < shape.isolated_share:
                    isolated = rng.choice(("home", "home", "centralized", "monitoring"))
                residents.append(
                    ResidentSpec(
                        person_id=f"p{len(residents):07d}",
                        household_id=f"{community}-h{household:06d}",
                        building_id=building,
                        compound_id=compound,
                        grid_id=f"{community}-grid{rng.randrange(8)}",
                        community_id=community,
                        sub_district_id=f"s{communities.index(community) // 10}",
                        residence_type=rng.choice(("owner", "owner", "tenant", "temporary")),
                        isolation_level=isolated,
                    )
                )
            household += 1
        holders = rng.sample(residents, max(1, round(shape.residents * shape.pass_share)))
        passes = []
        for r in holders:
            kind = rng.choices(("temporary", "service", "exit_slip"), (6, 3, 1))[0]
            passes.append(
                PassSpec(
                    holder_person_id=r.person_id,
                    community_id=r.community_id,
                    kind=kind,
                    daily_exit_quota=None if kind == "service" else 1,
                    revoke=rng.random() < 0.02,
                )
            )
        visitors = [
            VisitorSpec(
                document_type=rng.choice(("resident_id", "resident_id", "passport", "other")),
                document_number=f"{rng.randrange(10**17):017d}X",
                name=rng.choice(SURNAMES) + rng.choice(("伟", "芳", "敏", "静", "强", "磊")),
                phone=f"13{rng.randrange(10**9):09d}",
                reason=rng.choice(REASONS),
            )
            for _ in range(shape.visitors)
        ]
        policies: dict[str, dict[str, Any]] = {}
        for community in communities:
            roll = rng.random()
            if roll < 0.3:
                policies[community] = {"yellow_code": "alert"}
            elif roll < 0.4:
                policies[community] = {"visitors": "refuse"}
            elif roll < 0.5:
                policies[community] = {"health_monitoring_exit": "deny", "itinerary_risk": "deny"}
        return cls(seed, shape, communities, checkpoints, residents, passes, visitors, policies)

    def households(self) -> dict[str, list[ResidentSpec]]:
        found: dict[str, list[ResidentSpec]] = {}
        for r in self.residents:
            found.setdefault(r.household_id, []).append(r)
        return found

    def scans(self, tag: str, count: int, day: int = 0) -> list[Scan]:
        """``count`` scans for local day ``BASE_DAY + day``, in time order, with ids
        ``<tag>-<n>`` (the benchmark gives each feed its own tag and day)."""
        rng = random.Random(f"{self.seed}/{tag}")
        mix = self.shape.mix
        open_passes: dict[str, list[PassSpec]] = {}
        for p in self.passes:
            open_passes.setdefault(p.community_id, []).append(p)
        by_community: dict[str, list[ResidentSpec]] = {}
        for r in self.residents:
            by_community.setdefault(r.community_id, []).append(r)
        cumulative = list(accumulate(c.weight for c in self.checkpoints))
        midnight = datetime.combine(BASE_DAY + timedelta(days=day), time(), LOCAL)
        seconds = sorted(_time_of_day(rng) for _ in range(count))
        out: list[Scan] = []
        for n, second in enumerate(seconds):
            at = midnight + timedelta(seconds=second)
            checkpoint = self.checkpoints[bisect(cumulative, rng.random() * cumulative[-1])]
            morning = second < 12 * 3600
            outbound = rng.random() < (0.7 if morning else 0.35)
            body: dict[str, Any] = {
                "scan_id": f"{tag}-{n:07d}",
                "checkpoint_id": checkpoint.checkpoint_id,
                "scanned_at": at.isoformat(),
                "direction": "out" if outbound else "in",
            }
            roll = rng.random()
            community = checkpoint.community_id
            if roll < mix.visitor:
                body["visitor"] = rng.choice(self.visitors).body()
                body["direction"] = "in" if rng.random() < 0.7 else "out"
            elif roll < mix.visitor + mix.pass_holder and community in open_passes:
                body["pass_code"] = rng.choice(open_passes[community]).code or "unissued-pass"
            elif roll < mix.visitor + mix.pass_holder + mix.stranger:
                body["person_id"] = rng.choice(self.residents).person_id + "x"
            else:
                body["person_id"] = rng.choice(by_community[community]).person_id
            if rng.random() < mix.fever:
                body["temperature_c"] = round(rng.uniform(37.3, 39.2), 1)
            else:
                body["temperature_c"] = round(min(37.2, rng.gauss(36.5, 0.25)), 1)
            code = rng.random()
            body["health_code"] = (
                "red" if code < mix.red else "yellow" if code < mix.red + mix.yellow else "green"
            )
            if rng.random() < mix.itinerary_risk:
                body["itinerary_risk"] = True
            if rng.random() < mix.vehicle:
                body["vehicle_plate"] = f"京{chr(65 + rng.randrange(26))}{rng.randrange(10**5):05d}"
            if checkpoint.requires_negative_test and rng.random() < 0.85:
                tested = at - timedelta(hours=rng.uniform(2, 40))
                body["negative_test_at"] = tested.isoformat()
            out.append(
                Scan(
                    body["scan_id"],
                    checkpoint.checkpoint_id,
                    json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode(),
                )
            )
        return out


def _time_of_day(rng: random.Random) -> float:
    """Seconds after local midnight: a morning surge around 07:45, an evening one around
    18:00, and a steady trickle from 06:00 to 22:00."""
    roll = rng.random()
    if roll < 0.35:
        hours = rng.gauss(7.75, 0.6)
    elif roll < 0.7:
        hours = rng.gauss(18.0, 0.7)
    else:
        hours = rng.uniform(6.0, 22.0)
    return min(max(hours, 5.0), 23.9) * 3600 + rng.random()

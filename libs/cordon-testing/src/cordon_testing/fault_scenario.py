"""The fault scenario of issue #14, shared by tests/test_fault_injection.py (one round, for
CI) and bench/bench_faults.py (rounds for as many minutes as asked).

Kafka and PostgreSQL of its own; the gate and the projector as real processes under the
`cordon up` supervisor; a steady load of visitors' scans through the gate's three doors
(single HTTP scans, batches, the Kafka feed) plus a probe door; then, round after round:
kill -9 each service, kill -9 the broker and start it again, SIGSTOP and SIGCONT it, kill -9
the postmaster and start PostgreSQL again (on a cluster of brokers, ``Scenario.brokers``, a
round kills -9 brokers one at a time instead, and leaves the services and PostgreSQL
alone). Afterwards the load is drained, `cordon
reconcile` is run until it finds nothing missing (or gives up), and the store and the read
models are checked against the scans the gate took.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import asyncpg

from cordon_devenv.process import free_port
from cordon_devenv.supervisor import RestartPolicy, ServiceSpec, Supervisor
from cordon_testing.devices import register_gate, visitor_scan
from cordon_testing.faults import FaultRun, OwnServers, Recovery, own_servers
from cordon_testing.kafka import read_topic
from cordon_testing.plugin import KafkaBackend, settings_env, settings_for
from cordon_testing.scan_load import Door, ScanLoad
from cordon_testing.waiting import wait_until

ADMIN = "faults-admin-token"
TIMEZONE = "Asia/Shanghai"
SERVICES = ("gate", "projector")


@dataclass(frozen=True)
class Scenario:
    per_second: float = 10.0
    """Scans per second through each of the three doors."""
    minutes: float = 0.0
    """Rounds of faults go on until this much time has passed (0: one round)."""
    warmup_s: float = 3.0
    broker_down_s: float = 5.0
    pause_s: float = 10.0
    pg_down_s: float = 3.0
    flowing_timeout_s: float = 180.0
    consistent_within_s: float = 120.0
    brokers: int = 1
    """Kafka nodes. With one, each round is the standard faults; with a cluster, each round
    kills -9 brokers one at a time (``broker_down_s`` each) and leaves the rest alone."""
    brokers_killed: int | None = None
    """With a cluster: how many of its brokers each round kills (None: every one)."""


@dataclass
class Outcome:
    recoveries: list[Recovery]
    taken: int
    """Scans the gate took (answered 200, or acknowledged by the feed topic)."""
    statuses: dict[str, int]
    longest_wait_s: float
    consistent_s: float
    """From the end of the load until every scan taken was in the gate's store and the
    reconciliation found nothing missing."""
    reconcile_status: int
    report: dict[str, Any]
    not_stored: list[str]
    not_stored_why: dict[str, str]
    """For each scan taken but not stored: whether the feed topic holds it, and whether
    the gate dead-lettered it (what tells a broker's loss from the gate's)."""
    dead_letters: list[dict[str, Any]]
    """Every record a service's consumer set aside: none is expected, every scan is valid."""
    stored_twice: dict[str, int]
    shown: int
    """Passages shown in the gate-traffic read model."""
    ready: dict[str, bool]
    brought_back: set[str]
    """The services the supervisor restarted and saw ready again."""
    elapsed_s: float
    unexpected: list[str] = field(default_factory=list)
    """Answers neither 200 nor 503, with their time, path and body."""
    supervisor_lines: list[str] = field(default_factory=list)

    @property
    def server_errors(self) -> dict[str, int]:
        """Answers a device must never get: any 5xx but 503."""
        return {k: n for k, n in self.statuses.items() if k.startswith("5") and k != "503"}

    def figures(self) -> str:
        lines = [f"{'fault':<20} {'ready again':>12} {'scans shown':>12} {'said not ready':>15}"]
        for r in self.recoveries:
            lines.append(f"{r.fault:<20} {r.ready_s:>11.1f}s {r.flowing_s:>11.1f}s "
                         f"{'yes' if r.saw_not_ready else 'no':>15}")  # fmt: skip
        lines.append(
            f"scans taken {self.taken} in {self.elapsed_s:.0f}s; answers and errors seen "
            f"{self.statuses}; longest a device waited {self.longest_wait_s:.1f}s; "
            f"reconciled clean {self.consistent_s:.1f}s after the load ended"
        )
        lines += [f"unexpected answer: {line}" for line in self.unexpected]
        return "\n".join(lines)


DEAD_LETTERS = """
    SELECT 'gate' AS service, consumer, topic, partition, kafka_offset, error_type
      FROM gate.dead_letters
    UNION ALL
    SELECT 'projector', consumer, topic, partition, kafka_offset, error_type
      FROM projector.dead_letters"""


async def _why_not_stored(
    servers: OwnServers, load: ScanLoad, missing: list[str], dead_letters: list[dict[str, Any]]
) -> dict[str, str]:
    if not missing:
        return {}
    records = await read_topic(servers.infra.kafka_bootstrap, load.scans_topic, timeout=20)
    in_topic: dict[str, list[tuple[int, int]]] = {}
    for record in records:
        with contextlib.suppress(ValueError, KeyError, TypeError):
            scan_id = json.loads(record.value)["scan_id"]
            in_topic.setdefault(scan_id, []).append((record.partition, record.offset))
    set_aside = {
        (d["partition"], d["kafka_offset"]): d["error_type"]
        for d in dead_letters
        if d["topic"] == load.scans_topic
    }
    decided = {
        r["scan_id"]: f"decided as {r['event_type']} {r['why'] or ''}".rstrip()
        for r in await fetch(
            servers.infra.database_url,
            "SELECT payload->>'scan_id' AS scan_id, event_type,"
            " coalesce(payload->>'reasons', payload->>'reason') AS why"
            " FROM gate.events WHERE payload->>'scan_id' = ANY($1)",
            missing,
        )
        or ()
    }
    why: dict[str, str] = {}
    for scan_id in missing:
        if scan_id in decided:  # the gate took it, and said no: a rule, not a loss
            why[scan_id] = decided[scan_id]
        elif not scan_id.startswith("feed-"):
            why[scan_id] = "answered 200 over HTTP"
        elif scan_id not in in_topic:
            why[scan_id] = "acknowledged, yet not on the feed topic"
        else:
            why[scan_id] = "; ".join(
                f"on the feed topic at {p}@{o}"
                + (f", dead-lettered ({set_aside[p, o]})" if (p, o) in set_aside else "")
                for p, o in in_topic[scan_id]
            )
    return why


async def fetch(database_url: str, query: str, *args: Any) -> list[asyncpg.Record] | None:
    """The rows, or None while PostgreSQL does not answer."""
    try:
        conn = await asyncpg.connect(database_url, timeout=3)
    except (OSError, asyncpg.PostgresError, TimeoutError):
        return None
    try:
        return list(await conn.fetch(query, *args))
    except (OSError, asyncpg.PostgresError):
        return None
    finally:
        await conn.close()


def reconcile(env: dict[str, str], since: datetime, until: datetime) -> tuple[int, dict[str, Any]]:
    """``cordon reconcile --json`` as an operator runs it: (exit status, report)."""
    result = subprocess.run(
        [sys.executable, "-m", "cordon_ops", "--since", since.isoformat(),
         "--until", until.isoformat(), "--json"],
        env=env, capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip
    if not result.stdout:  # exit status 2: a store or the topic could not be read (yet)
        return result.returncode, {"stages": [], "findings": [{"unreadable": result.stderr}]}
    report: dict[str, Any] = json.loads(result.stdout)
    return result.returncode, report


def service_env(servers: OwnServers) -> dict[str, str]:
    infra = servers.infra
    settings = settings_for(
        KafkaBackend(infra.broker_kind, infra.kafka_bootstrap, infra.kafka_idempotence),
        infra.database_url,
    )
    # infra.env() adds the cluster's replication (3 replicas, min ISR 2) to the settings.
    return {**settings_env(settings), **infra.env(), "CORDON_GATE_ADMIN_TOKEN": ADMIN,
            "CORDON_TIMEZONE": TIMEZONE}  # fmt: skip


async def run_scenario(
    state_dir: Path, scenario: Scenario, say: Callable[[str], None] = print
) -> Outcome:
    started = time.monotonic()
    with own_servers(state_dir / "servers", brokers=scenario.brokers) as servers:
        env = service_env(servers)
        (state_dir / "logs").mkdir(parents=True, exist_ok=True)
        lines: list[str] = []

        def console(line: str) -> None:
            lines.append(line)
            say(f"supervisor: {line}")

        supervisor = Supervisor(
            state_dir / "logs",
            env,
            policy=RestartPolicy(first_delay_s=0.5, max_delay_s=5, ready_timeout_s=180),
            say=console,
        )
        specs = [ServiceSpec(name, f"cordon_{name}", free_port()) for name in SERVICES]
        await asyncio.gather(*(asyncio.to_thread(supervisor.start, spec) for spec in specs))
        say(f"services ready after {time.monotonic() - started:.0f}s (servers included)")
        stop_watching = asyncio.Event()
        watcher = asyncio.create_task(supervisor.supervise(stop_watching))
        try:
            return await _under_load(servers, supervisor, env, scenario, say, started, lines)
        finally:
            stop_watching.set()
            await watcher
            supervisor.stop()


async def _under_load(
    servers: OwnServers,
    supervisor: Supervisor,
    env: dict[str, str],
    scenario: Scenario,
    say: Callable[[str], None],
    started: float,
    lines: list[str],
) -> Outcome:
    database_url = servers.infra.database_url
    gate_url = supervisor.url("gate")
    doors = []
    for channel, community in (("single", "aspen"), ("batch", "birch"), ("feed", "cedar"),
                               ("probe", "dogwood")):  # fmt: skip
        checkpoint, token = await register_gate(gate_url, ADMIN, community)
        doors.append(Door(channel, checkpoint, token))
    probe_door = doors.pop()
    load = ScanLoad(
        gate_url,
        servers.infra.kafka_bootstrap,
        f"{env['CORDON_TOPIC_PREFIX']}.gate.scans",
        doors,
        per_second=scenario.per_second,
    )
    probes = iter(range(1, 10**9))
    shown_query = """SELECT 1 FROM projector.inbox i JOIN gate.events e USING (event_id)
        WHERE i.consumer = 'projection-gate-traffic' AND e.payload->>'scan_id' = $1"""

    async def probe() -> None:
        """A scan posted now, retried until taken, then awaited in the read models."""
        scan_id = f"probe-{next(probes)}"
        scan = visitor_scan(scan_id, probe_door.checkpoint_id, datetime.now(UTC))
        await load.post(scan, probe_door)
        await wait_until(lambda: fetch(database_url, shown_query, scan_id), interval=0.2,
                         timeout=scenario.flowing_timeout_s, what=f"{scan_id} shown")  # fmt: skip

    since = datetime.now(UTC) - timedelta(minutes=1)
    run = FaultRun(supervisor, servers, probe, say=say)
    load.start()
    await asyncio.sleep(scenario.warmup_s)
    round_ends = started + scenario.minutes * 60
    while True:
        if servers.cluster is not None:
            await run.broker_failures(
                broker_down_s=scenario.broker_down_s, nodes=scenario.brokers_killed
            )
        else:
            await run.standard_faults(
                SERVICES,
                broker_down_s=scenario.broker_down_s,
                pause_s=scenario.pause_s,
                pg_down_s=scenario.pg_down_s,
            )
        if time.monotonic() >= round_ends:
            break
    await load.stop()
    drained = time.monotonic()
    until = datetime.now(UTC) + timedelta(seconds=1)

    async def stored_scans() -> dict[str, int]:
        outcomes = await fetch(
            database_url,
            "SELECT payload->>'scan_id' AS scan_id, count(*) AS n FROM gate.events"
            " WHERE event_type IN ('PersonEntered', 'PersonExited') GROUP BY 1",
        )
        return {r["scan_id"]: r["n"] for r in outcomes or ()}

    # A scan the feed topic acknowledged is taken, but the gate decides it when its consumer
    # gets there: the store is complete once every taken scan is in it, and the read models
    # once the reconciliation finds nothing missing.
    while True:
        stored = await stored_scans()
        status, report = await asyncio.to_thread(reconcile, env, since, until)
        complete = all(s in stored for s in load.sent)
        if (status == 0 and complete) or time.monotonic() - drained > scenario.consistent_within_s:
            break
        await asyncio.sleep(2)
    consistent_s = time.monotonic() - drained
    not_stored = [s for s in load.sent if s not in stored]
    dead_letters = [dict(r) for r in await fetch(database_url, DEAD_LETTERS) or ()]
    shown = await fetch(
        database_url, "SELECT sum(entries + exits) AS n FROM projector.gate_traffic_daily"
    )
    return Outcome(
        recoveries=run.recoveries,
        taken=len(load.sent),
        statuses=dict(load.statuses),
        longest_wait_s=load.longest_wait_s,
        consistent_s=consistent_s,
        reconcile_status=status,
        report=report,
        not_stored=not_stored,
        not_stored_why=await _why_not_stored(servers, load, not_stored, dead_letters),
        dead_letters=dead_letters,
        stored_twice={s: n for s, n in stored.items() if n != 1},
        shown=int(shown[0]["n"] or 0) if shown else -1,
        ready=await run.readiness(),
        brought_back={name for name, _ in supervisor.downtimes},
        elapsed_s=time.monotonic() - started,
        unexpected=load.unexpected,
        supervisor_lines=lines,
    )

"""Replicas of a service (issue #18): two gate processes behind the `cordon up --replicas`
balancer and two projector processes in one consumer group, as real OS processes under the
`cordon up` supervisor, on a Kafka and a PostgreSQL of this test's own (it kills processes).

It shows, in one run (each process start costs seconds on two cores):
- two gate replicas deciding the same person's exits at once, at two gates, respect a quota
  of one exit a day: exactly one is let out;
- the two projector replicas split the partitions of each topic between them;
- under a steady load through the balancer (single scans, batches, the Kafka feed), one
  gate replica and one projector replica are killed with SIGKILL: the other replica takes
  the requests and the partitions, nothing taken is lost or doubled (`cordon reconcile`),
  and no device gets a 5xx other than 503;
- the read models the two replicas built equal a single-process rebuild of them
  (`cordon-projector rebuild`).
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from aiokafka.admin import AIOKafkaAdminClient  # type: ignore[import-untyped,unused-ignore]

from cordon_devenv import kafka as kafka_server
from cordon_devenv.balancer import Balancer
from cordon_devenv.process import free_port
from cordon_devenv.supervisor import RestartPolicy, ServiceSpec, Supervisor
from cordon_devenv.system import balancer_for, replica_specs
from cordon_testing.devices import register_gate
from cordon_testing.fault_scenario import ADMIN, fetch, reconcile, service_env
from cordon_testing.faults import OwnServers, own_servers
from cordon_testing.kafka import partitions_per_member
from cordon_testing.scan_load import Door, ScanLoad
from cordon_testing.waiting import wait_until

pytestmark = [
    pytest.mark.infra,
    pytest.mark.timeout(900),
    pytest.mark.skipif(
        not kafka_server.java_and_maven_available(),
        reason="runs its own Apache Kafka (it kills processes): needs java and mvn",
    ),
]

GATE_READ_MODELS = ("gate_traffic_daily", "gate_minute", "gate_denial_minute")


@dataclass
class Replicas:
    servers: OwnServers
    supervisor: Supervisor
    env: dict[str, str]
    gate: Balancer
    gate_url: str

    def urls(self, module: str) -> list[str]:
        return [e.url for e in self.supervisor.services.values() if e.spec.module == module]


@pytest.fixture
async def replicas(tmp_path: Path) -> AsyncIterator[Replicas]:
    with own_servers(tmp_path / "servers") as servers:
        env = service_env(servers)
        (tmp_path / "logs").mkdir()
        supervisor = Supervisor(
            tmp_path / "logs", env, say=lambda line: print(f"supervisor: {line}", flush=True),
            policy=RestartPolicy(first_delay_s=0.5, max_delay_s=5, ready_timeout_s=180),
        )  # fmt: skip
        # What `cordon up --replicas gate=2,projector=2` starts: gate-1, gate-2, projector-1,
        # projector-2, one after the other (the first runs the migrations, the second finds
        # them done), and a balancer on the gate's port.
        gate_spec = ServiceSpec("gate", "cordon_gate", free_port())
        projector_spec = ServiceSpec("projector", "cordon_projector", free_port())
        # The balancer takes its port first: a free port picked and let go can be handed to
        # a replica picked after it (a CI run lost the race: "address already in use").
        gate = balancer_for(supervisor, gate_spec)
        port = gate_spec.port
        await gate.start(port)
        for spec in (*replica_specs(gate_spec, 2), *replica_specs(projector_spec, 2)):
            await asyncio.to_thread(supervisor.start, spec)
        stop = asyncio.Event()
        watcher = asyncio.create_task(supervisor.supervise(stop))
        try:
            yield Replicas(servers, supervisor, env, gate, f"http://127.0.0.1:{port}")
        finally:
            stop.set()
            await watcher
            await gate.stop()
            supervisor.stop()


async def exits_decided_by_both_replicas(r: Replicas) -> list[str]:
    """One pass with one exit a day, shown eight times at once: at two gates, to each gate
    replica directly. The decisions, in any order."""
    community = f"q{uuid.uuid4().hex[:8]}"
    east, east_token = await register_gate(r.gate_url, ADMIN, community)
    west, west_token = await register_gate(r.gate_url, ADMIN, community, "west")
    now = datetime.now(UTC)
    async with httpx.AsyncClient(base_url=r.gate_url, timeout=30) as client:
        issued = await client.post(
            "/v1/passes",
            headers={"Authorization": f"Bearer {ADMIN}"},
            json={
                "kind": "temporary",
                "holder_visitor_document": {"document_type": "passport",
                                            "document_number": f"E{uuid.uuid4().hex[:9]}"},
                "community_id": community,
                "valid_from": (now - timedelta(hours=1)).isoformat(),
                "valid_until": (now + timedelta(days=3)).isoformat(),
                "daily_exit_quota": 1,
            },
        )  # fmt: skip
        assert issued.status_code == 201, issued.text
        pass_code = issued.json()["pass_code"]

    async def exit_at(replica: str, checkpoint: str, token: str) -> str:
        scan = {"scan_id": uuid.uuid4().hex, "checkpoint_id": checkpoint, "direction": "out",
                "pass_code": pass_code, "scanned_at": datetime.now(UTC).isoformat(),
                "temperature_c": 36.5, "health_code": "green"}  # fmt: skip
        async with httpx.AsyncClient(base_url=replica, timeout=60) as client:
            answer = await client.post(
                "/v1/scans", json=scan, headers={"Authorization": f"Bearer {token}"}
            )
        assert answer.status_code == 200, answer.text
        decision: str = answer.json()["decision"]
        return decision

    gates = r.urls("cordon_gate")
    assert len(gates) == 2
    return list(
        await asyncio.gather(
            *(
                exit_at(replica, checkpoint, token)
                for replica in gates
                for checkpoint, token in ((east, east_token), (west, west_token))
                for _ in range(2)
            )
        )
    )  # fmt: skip


async def read_models(database_url: str) -> dict[str, list[tuple[Any, ...]]]:
    tables = {}
    for table in GATE_READ_MODELS:
        rows = await fetch(database_url, f"SELECT * FROM projector.{table} ORDER BY 1, 2, 3")
        assert rows is not None
        tables[table] = sorted(tuple(row.values()) for row in rows)
    return tables


async def test_replicas_share_requests_partitions_and_quotas_and_a_killed_one_is_covered(
    replicas: Replicas,
) -> None:
    r = replicas
    database_url = r.servers.infra.database_url

    decisions = await exits_decided_by_both_replicas(r)
    assert sorted(decisions) == ["allow"] + ["deny"] * 7, decisions

    doors = []
    for channel, community in (("single", "aspen"), ("batch", "birch"), ("feed", "cedar")):
        checkpoint, token = await register_gate(r.gate_url, ADMIN, community)
        doors.append(Door(channel, checkpoint, token))
    load = ScanLoad(
        r.gate_url, r.servers.infra.kafka_bootstrap,
        f"{r.env['CORDON_TOPIC_PREFIX']}.gate.scans", doors, per_second=10,
    )  # fmt: skip
    since = datetime.now(UTC) - timedelta(minutes=1)
    load.start()
    await asyncio.sleep(5)

    group = "projection-gate-traffic"
    bootstrap = r.servers.infra.kafka_bootstrap
    await wait_until(
        lambda: _split(bootstrap, group), timeout=60, what="both projectors hold partitions"
    )
    held = await held_by_members(bootstrap, group)
    print(f"partitions per projector replica in {group}: {held}")

    for victim in ("gate-1", "projector-1"):
        pid = r.supervisor.pid(victim)
        assert pid is not None
        print(f"kill -9 {victim}", flush=True)
        os.kill(pid, signal.SIGKILL)
        await asyncio.sleep(8)  # the load goes on, through the other replica
    await wait_until(lambda: _all_ready(r), timeout=180, what="the killed replicas ready again")
    await asyncio.sleep(3)
    await load.stop()
    until = datetime.now(UTC) + timedelta(seconds=1)

    status, report = 1, dict[str, Any]()
    for _ in range(60):
        status, report = await asyncio.to_thread(reconcile, r.env, since, until)
        if status == 0:
            break
        await asyncio.sleep(2)
    print(f"scans taken {len(load.sent)}; answers {dict(load.statuses)}; spread {r.gate.sent}")
    assert status == 0, report
    assert report["findings"] == []
    outcomes = await fetch(
        database_url,
        "SELECT payload->>'scan_id' AS scan_id, count(*) AS n FROM gate.events"
        " WHERE event_type IN ('PersonEntered', 'PersonExited') GROUP BY 1",
    )
    stored = {row["scan_id"]: row["n"] for row in outcomes or ()}
    assert [s for s in load.sent if s not in stored] == [], "taken by the gate, not stored"
    assert {s: n for s, n in stored.items() if n != 1} == {}
    assert {k: n for k, n in load.statuses.items() if k.startswith("5") and k != "503"} == {}
    assert len(r.gate.sent) == 2, "the balancer used both gate replicas"
    assert len(r.supervisor.downtimes) == 2, "both killed replicas came back"
    shown = await fetch(
        database_url, "SELECT sum(entries + exits) AS n FROM projector.gate_traffic_daily"
    )
    assert shown is not None
    # every scan of the load once, and the one exit the quota let through
    assert shown[0]["n"] == len(load.sent) + 1

    built_by_replicas = await read_models(database_url)
    assert all(built_by_replicas.values()), built_by_replicas
    rebuild = await asyncio.to_thread(
        subprocess.run,
        [sys.executable, "-c", "from cordon_projector.cli import app; app()", "rebuild"],
        env=r.env | {"PATH": "/usr/bin:/bin"}, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert rebuild.returncode == 0, rebuild.stderr[-2000:]
    assert await read_models(database_url) == built_by_replicas


async def held_by_members(bootstrap: str, group: str) -> list[int] | None:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        return await partitions_per_member(admin, group)
    finally:
        await admin.close()


async def _split(bootstrap: str, group: str) -> bool:
    held = await held_by_members(bootstrap, group)
    return held is not None and len(held) == 2 and min(held) >= 1


async def _all_ready(r: Replicas) -> bool:
    async with httpx.AsyncClient(timeout=2) as client:
        for url in r.urls("cordon_gate") + r.urls("cordon_projector"):
            try:
                if (await client.get(f"{url}/health/ready")).status_code != 200:
                    return False
            except httpx.HTTPError:
                return False
    return True

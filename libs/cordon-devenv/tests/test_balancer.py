"""The balancer of `cordon up --replicas`: requests spread round-robin over the ready
replicas, a replica that cannot be connected to is passed over (the request never reached
it), an answer is returned as the replica gave it, and with no replica the caller gets 503
with Retry-After. Backends are small aiohttp servers on loopback (no Kafka, no PostgreSQL)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
from aiohttp import web

from cordon_devenv.balancer import Balancer
from cordon_devenv.process import free_port
from cordon_devenv.system import parse_replicas


async def _backend(name: str) -> tuple[web.AppRunner, str]:
    async def answer(request: web.Request) -> web.Response:
        body = await request.read()
        return web.json_response(
            {"replica": name, "path": request.path_qs, "body": body.decode()},
            status=201 if request.method == "POST" else 200,
            headers={"X-Replica": name},
        )

    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", answer)
    runner = web.AppRunner(app)
    await runner.setup()
    port = free_port()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    return runner, f"http://127.0.0.1:{port}"


@pytest.fixture
async def backends() -> AsyncIterator[list[str]]:
    started = [await _backend(name) for name in ("a", "b")]
    yield [url for _, url in started]
    for runner, _ in started:
        await runner.cleanup()


async def _through(replicas: list[str]) -> tuple[Balancer, str]:
    balancer = Balancer("gate", lambda: replicas)
    port = free_port()
    await balancer.start(port)
    return balancer, f"http://127.0.0.1:{port}"


async def test_requests_alternate_between_replicas_and_answers_come_back_whole(
    backends: list[str],
) -> None:
    balancer, url = await _through(backends)
    try:
        async with httpx.AsyncClient(base_url=url) as client:
            answers = [
                await client.post("/v1/scans?x=1", content=b'{"scan_id": "s"}') for _ in range(4)
            ]
    finally:
        await balancer.stop()

    assert [a.status_code for a in answers] == [201] * 4
    assert [a.json()["replica"] for a in answers] in (["a", "b"] * 2, ["b", "a"] * 2)
    assert {a.json()["path"] for a in answers} == {"/v1/scans?x=1"}
    assert {a.json()["body"] for a in answers} == {'{"scan_id": "s"}'}
    assert answers[0].headers["X-Replica"] == answers[0].json()["replica"]
    assert sorted(balancer.sent.values()) == [2, 2]


async def test_a_replica_that_refuses_connections_is_passed_over(backends: list[str]) -> None:
    dead = f"http://127.0.0.1:{free_port()}"  # nothing listens there
    balancer, url = await _through([dead, backends[0]])
    try:
        async with httpx.AsyncClient(base_url=url) as client:
            answers = [await client.get("/health/ready") for _ in range(4)]
    finally:
        await balancer.stop()

    assert [a.status_code for a in answers] == [200] * 4
    assert {a.json()["replica"] for a in answers} == {"a"}
    assert balancer.sent == {backends[0]: 4}


async def test_no_ready_replica_is_a_503_with_retry_after() -> None:
    balancer, url = await _through([])
    try:
        async with httpx.AsyncClient(base_url=url) as client:
            answer = await client.post("/v1/scans", json={})
    finally:
        await balancer.stop()

    assert answer.status_code == 503
    assert answer.headers["Retry-After"] == "1"
    assert "no replica of gate" in answer.json()["detail"]


@pytest.mark.parametrize(
    ("given", "refusal"),
    [("gaet=2", "no service 'gaet'"), ("gate=0", "1 to 8"), ("gate=x", "1 to 8"),
     ("gate=9", "1 to 8")],
)  # fmt: skip
def test_replica_counts_name_a_service_and_a_count_from_1_to_8(given: str, refusal: str) -> None:
    with pytest.raises(ValueError, match=refusal):
        parse_replicas(given)


def test_replica_counts_are_read_per_service() -> None:
    assert parse_replicas("gate=2, projector=3") == {"gate": 2, "projector": 3}
    assert parse_replicas("") == {}

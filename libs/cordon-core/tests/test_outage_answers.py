"""Every endpoint answers an outage of PostgreSQL or Kafka with 503 and Retry-After (the
errors asyncpg and aiokafka raise when the server is gone), and other errors as before."""

from __future__ import annotations

import asyncpg
import httpx
import pytest
from aiokafka.errors import KafkaConnectionError, KafkaTimeoutError
from fastapi import FastAPI

from cordon_core.outage import install_outage_handlers

OUTAGES = [
    (ConnectionRefusedError(111, "Connect call failed ('127.0.0.1', 5432)"), "network"),
    (asyncpg.CannotConnectNowError("the database system is starting up"), "postgres"),
    (asyncpg.AdminShutdownError("terminating connection due to administrator command"),
     "postgres"),
    (asyncpg.ConnectionDoesNotExistError("connection was closed in the middle of operation"),
     "postgres"),
    (asyncpg.TooManyConnectionsError("sorry, too many clients already"), "postgres"),
    (asyncpg.InternalClientError("cannot switch to state 12; another operation (2) is in "
                                 "progress"), "postgres"),
    (TimeoutError(), "network"),
    (KafkaTimeoutError(), "kafka"),
    (KafkaConnectionError("no broker"), "kafka"),
]  # fmt: skip


def app_raising(error: Exception) -> FastAPI:
    app = FastAPI()
    install_outage_handlers(app, retry_after_s=3)

    @app.post("/v1/scans")
    async def scan() -> None:
        raise error

    return app


@pytest.mark.parametrize(("error", "dependency"), OUTAGES, ids=lambda e: type(e).__name__)
async def test_an_outage_is_answered_503_with_retry_after(
    error: Exception, dependency: str
) -> None:
    transport = httpx.ASGITransport(app=app_raising(error))
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        response = await client.post("/v1/scans")
    assert response.status_code == 503
    assert response.headers["Retry-After"] == "3"
    assert response.json()["dependency"] == dependency


async def test_an_error_that_is_not_an_outage_is_still_a_500() -> None:
    transport = httpx.ASGITransport(
        app=app_raising(ValueError("a bug")), raise_app_exceptions=False
    )
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        response = await client.post("/v1/scans")
    assert response.status_code == 500


async def test_a_keyed_write_while_postgresql_is_unreachable_is_answered_503() -> None:
    # The idempotency middleware opens the request's transaction itself, outside the app's
    # exception handlers: a refused connection there must be the same 503, not a 500.
    from dataclasses import dataclass

    from cordon_core.idempotency import install_idempotency
    from cordon_devenv.process import free_port

    @dataclass
    class Storage:
        pool: asyncpg.Pool
        schema: str = "gate"

    pool = await asyncpg.create_pool(f"postgresql://postgres@127.0.0.1:{free_port()}/x", min_size=0)
    app = FastAPI()
    install_outage_handlers(app, retry_after_s=3)
    install_idempotency(app, Storage(pool))

    @app.post("/v1/passes")
    async def issue() -> dict[str, str]:
        return {"pass": "never reached"}

    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    try:
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            response = await client.post(
                "/v1/passes", headers={"Idempotency-Key": "k-1", "Authorization": "Bearer t"}
            )
    finally:
        await pool.close()
    assert response.status_code == 503
    assert response.headers["Retry-After"] == "3"
    assert response.json()["dependency"] in {"network", "postgres"}

"""The idempotency mechanism on a real PostgreSQL: a retried command answers as the first
time and appends nothing; the key commits with the events or not at all."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import asyncpg
import httpx
import pytest
from fastapi import FastAPI, HTTPException, Request

from cordon_core.envelope import PendingEvent
from cordon_core.idempotency import (
    IDEMPOTENCY_HEADER,
    REPLAYED_HEADER,
    SHOWN_ONCE_OPERATION,
    install_idempotency,
    run_command,
)
from cordon_core.migrations import apply_migrations, core_migrations
from cordon_core.store import PostgresEventStore
from cordon_testing.sample import CounterBumped, meta, registry

pytestmark = pytest.mark.infra
SCHEMA = "idem"


@dataclass
class Storage:
    pool: asyncpg.Pool
    schema: str = SCHEMA


class Crash(Exception):
    """The process dies after the command, before its transaction commits."""


def counter_app(storage: Storage, store: PostgresEventStore) -> FastAPI:
    app = FastAPI()
    fail_after_append: set[str] = set()
    app.state.fail_after_append = fail_after_append

    @app.post("/counters/{counter_id}/bump", status_code=201)
    async def bump(counter_id: str, body: dict[str, Any]) -> dict[str, Any]:
        if body.get("by", 0) <= 0:
            raise HTTPException(422, "by must be positive")

        async def run(conn: asyncpg.Connection) -> dict[str, Any]:
            [stored] = await store.append(
                counter_id,
                [PendingEvent(CounterBumped(by=body["by"]))],
                expected_version=None,
                metadata=meta(),
                conn=conn,
            )
            await asyncio.sleep(body.get("slow_s", 0))
            if counter_id in fail_after_append:
                raise Crash(counter_id)
            return {"event_id": str(stored.event_id), "version": stored.stream_version}

        return await run_command(storage.pool, run)

    @app.post("/uploads", status_code=201)
    async def upload(request: Request) -> dict[str, Any]:
        form = await request.form()
        upload = form["file"]
        assert not isinstance(upload, str)
        return {"size": len(await upload.read()), "id": uuid.uuid4().hex}

    @app.post("/tokens", status_code=201, openapi_extra=SHOWN_ONCE_OPERATION)
    async def issue_token() -> dict[str, str]:
        return {"token": uuid.uuid4().hex}

    install_idempotency(app, storage)
    return app


@pytest.fixture
async def pool(database_url: str) -> AsyncIterator[asyncpg.Pool]:
    pool = await asyncpg.create_pool(database_url, min_size=2, max_size=8)
    async with pool.acquire() as conn:
        await apply_migrations(conn, SCHEMA, core_migrations())
    yield pool
    await pool.close()


@pytest.fixture
def store(pool: asyncpg.Pool) -> PostgresEventStore:
    return PostgresEventStore(pool, SCHEMA, registry, source="/cordon/idem")


@pytest.fixture
def app(pool: asyncpg.Pool, store: PostgresEventStore) -> FastAPI:
    return counter_app(Storage(pool), store)


@pytest.fixture
async def client(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=True)
    async with httpx.AsyncClient(transport=transport, base_url="http://counter") as client:
        yield client


def keyed(key: str) -> dict[str, str]:
    # Keys are honoured on requests with credentials (every write operation has them).
    return {IDEMPOTENCY_HEADER: key, "Authorization": "Bearer counter-clerk"}


async def test_a_retried_command_gets_the_first_answer_and_appends_nothing(
    client: httpx.AsyncClient, store: PostgresEventStore
) -> None:
    key = str(uuid.uuid4())
    first = await client.post("/counters/c1/bump", json={"by": 2}, headers=keyed(key))
    again = await client.post("/counters/c1/bump", json={"by": 2}, headers=keyed(key))

    assert first.status_code == again.status_code == 201
    assert again.json() == first.json()
    assert again.headers[REPLAYED_HEADER] == "true"
    assert REPLAYED_HEADER not in first.headers
    assert len(await store.load_stream("c1")) == 1


async def test_the_same_key_on_a_different_request_is_refused_naming_the_header(
    client: httpx.AsyncClient, store: PostgresEventStore
) -> None:
    key = str(uuid.uuid4())
    await client.post("/counters/c1/bump", json={"by": 2}, headers=keyed(key))

    other = await client.post("/counters/c1/bump", json={"by": 3}, headers=keyed(key))

    assert other.status_code == 409
    assert other.json()["detail"][0]["loc"] == ["header", IDEMPOTENCY_HEADER]
    assert len(await store.load_stream("c1")) == 1


async def test_without_a_key_each_request_is_a_new_command(
    client: httpx.AsyncClient, store: PostgresEventStore
) -> None:
    await client.post("/counters/c1/bump", json={"by": 1})
    await client.post("/counters/c1/bump", json={"by": 1})

    assert len(await store.load_stream("c1")) == 2


async def test_a_refused_command_keeps_no_answer_so_the_corrected_retry_runs(
    client: httpx.AsyncClient, store: PostgresEventStore, pool: asyncpg.Pool
) -> None:
    key = str(uuid.uuid4())
    refused = await client.post("/counters/c1/bump", json={"by": 0}, headers=keyed(key))

    assert refused.status_code == 422
    assert await pool.fetchval(f"SELECT count(*) FROM {SCHEMA}.idempotency_keys") == 0


async def test_a_crash_before_commit_leaves_neither_the_events_nor_the_key(
    app: FastAPI, client: httpx.AsyncClient, store: PostgresEventStore
) -> None:
    key = str(uuid.uuid4())
    app.state.fail_after_append.add("c1")
    with pytest.raises(Crash):
        await client.post("/counters/c1/bump", json={"by": 2}, headers=keyed(key))
    assert await store.load_stream("c1") == []

    app.state.fail_after_append.clear()
    retried = await client.post("/counters/c1/bump", json={"by": 2}, headers=keyed(key))

    assert retried.status_code == 201 and REPLAYED_HEADER not in retried.headers
    assert len(await store.load_stream("c1")) == 1


async def test_concurrent_duplicates_run_once_and_both_get_the_answer(
    client: httpx.AsyncClient, store: PostgresEventStore
) -> None:
    key = str(uuid.uuid4())
    body = {"by": 5, "slow_s": 0.3}

    answers = await asyncio.gather(
        *(client.post("/counters/c1/bump", json=body, headers=keyed(key)) for _ in range(4))
    )

    assert {a.status_code for a in answers} == {201}
    assert len({a.text for a in answers}) == 1
    assert sum(REPLAYED_HEADER in a.headers for a in answers) == 3
    assert len(await store.load_stream("c1")) == 1


async def test_concurrent_commands_on_one_stream_are_rerun_whole_not_lost(
    client: httpx.AsyncClient, store: PostgresEventStore
) -> None:
    answers = await asyncio.gather(
        *(
            client.post("/counters/c1/bump", json={"by": 1}, headers=keyed(str(uuid.uuid4())))
            for _ in range(4)
        )
    )

    assert {a.status_code for a in answers} == {201}
    assert sorted(a.json()["version"] for a in answers) == [1, 2, 3, 4]
    assert len(await store.load_stream("c1")) == 4


def test_every_write_operation_documents_the_header(app: FastAPI) -> None:
    operation = app.openapi()["paths"]["/counters/{counter_id}/bump"]["post"]

    assert IDEMPOTENCY_HEADER in [p["name"] for p in operation["parameters"]]


async def test_an_answer_holding_a_secret_is_not_kept_and_its_replay_says_so(
    client: httpx.AsyncClient, pool: asyncpg.Pool
) -> None:
    key = str(uuid.uuid4())
    first = await client.post("/tokens", headers=keyed(key))
    again = await client.post("/tokens", headers=keyed(key))

    assert first.status_code == 201
    assert again.status_code == 409
    assert first.json()["token"] not in again.text
    stored = await pool.fetchval(f"SELECT body FROM {SCHEMA}.idempotency_keys")
    assert first.json()["token"].encode() not in stored


async def test_a_retried_upload_is_the_same_request_whatever_its_multipart_boundary(
    client: httpx.AsyncClient,
) -> None:
    key = str(uuid.uuid4())
    files = {"file": ("results.csv", b"sample_id,result\ns1,negative\n", "text/csv")}
    first = await client.post("/uploads", files=files, headers=keyed(key))
    again = await client.post("/uploads", files=files, headers=keyed(key))
    other = {"file": ("results.csv", b"sample_id,result\ns1,positive\n", "text/csv")}
    different = await client.post("/uploads", files=other, headers=keyed(key))

    assert again.status_code == 201 and again.json() == first.json()
    assert different.status_code == 409

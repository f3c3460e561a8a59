"""Every write operation of the five services is safe to retry.

The operations come from the services' own OpenAPI documents; each needs an example in
``cordon_testing.scenario`` (a new endpoint without one fails this test). Each example is
sent twice with the same ``Idempotency-Key`` and different correlation ids; the second
must answer as the first (same status and body; a 409 where the answer held a secret shown
once) and must record nothing: no event in any service's store carries the retry's
correlation id, not even later, once the notification service has reacted to everything
(which is also how a second notification would show), and the tables that commands change
without events (tokens, contacts) keep their row counts. A third time, with a new key, the
command must record nothing either, unless it is meant to make something new each time
(``NEW_EACH_TIME``): revoking what is revoked is a domain no-op.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest

from cordon_core.http import CORRELATION_HEADER
from cordon_core.idempotency import IDEMPOTENCY_HEADER, SHOWN_ONCE, WRITE_METHODS
from cordon_core.settings import ServiceSettings
from cordon_testing.plugin import settings_env
from cordon_testing.scenario import SCENARIO, Operation, keep, moments, send
from cordon_testing.system import SERVICES, System, running_system

pytestmark = pytest.mark.infra

KNOWN_NOT_IDEMPOTENT: dict[Operation, str] = {}
"""Operations still known to fail, each with the reason; the test fails when one of them
passes, so that the list only shrinks."""

NEW_EACH_TIME: dict[Operation, str] = {
    ("gate", "POST", "/v1/passes"): "each request issues another pass (no client id)",
    ("gate", "POST", "/v1/passes/batch"): "each request issues another list of passes",
    ("gate", "POST", "/v1/passes/{pass_id}/reissue"): "each reissue draws another code",
    ("isolation", "POST", "/v1/people/{person_id}/isolation/check-ins"): "each is a new check-in",
    ("registry", "POST", "/v1/staff-tokens"): "each request issues another token",
    ("projector", "POST", "/v1/dashboard-tokens"): "each request issues another token",
}
"""Commands that, sent again with a NEW key, are meant to record something new."""

KNOWN_REPEATS_RECORDED: dict[Operation, str] = {}
"""Commands that a plain repeat (new key) still records again although it means nothing
new, with the reason; the list only shrinks."""

TABLES_WITHOUT_EVENTS = (
    ("registry", "staff_tokens"),
    ("notification", "contacts"),
    ("projector", "dashboard_token"),
)
"""What some commands change without an event: a retry must not change their counts."""


@pytest.fixture(scope="module")
def system(
    module_settings: ServiceSettings, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[System]:
    log_dir: Path = tmp_path_factory.mktemp("system")
    with running_system(settings_env(module_settings), log_dir) as running:
        yield running


async def write_operations(system: System) -> dict[Operation, dict[str, Any]]:
    """Every POST, PUT, PATCH and DELETE operation in the five OpenAPI documents."""
    found: dict[Operation, dict[str, Any]] = {}
    async with httpx.AsyncClient(timeout=30) as client:
        for service in SERVICES:
            document = (await client.get(f"{system.url(service)}/openapi.json")).json()
            for path, operations in document["paths"].items():
                for method, operation in operations.items():
                    if method.upper() in WRITE_METHODS:
                        found[(service, method.upper(), path)] = operation
    return found


async def test_every_write_operation_has_an_example(system: System) -> None:
    operations = await write_operations(system)
    examples = {step.operation for step in SCENARIO if step.example}

    missing = sorted(set(operations) - examples)
    unknown = sorted({step.operation for step in SCENARIO} - set(operations))

    assert not missing, f"write operations without an example in the scenario: {missing}"
    assert not unknown, f"examples of operations no service has: {unknown}"


async def events_of(conn: asyncpg.Connection, correlation_ids: list[uuid.UUID]) -> list[str]:
    """``service: EventType`` of every stored event with one of these correlation ids."""
    found: list[str] = []
    for service in SERVICES:
        rows = await conn.fetch(
            f"SELECT event_type FROM {service}.events WHERE correlation_id = ANY($1::uuid[])",
            correlation_ids,
        )
        found += [f"{service}: {r['event_type']}" for r in rows]
    return found


async def table_counts(conn: asyncpg.Connection) -> dict[str, int]:
    return {
        f"{schema}.{table}": await conn.fetchval(f"SELECT count(*) FROM {schema}.{table}")
        for schema, table in TABLES_WITHOUT_EVENTS
    }


async def all_events(conn: asyncpg.Connection) -> int:
    total = 0
    for service in SERVICES:
        total += await conn.fetchval(f"SELECT count(*) FROM {service}.events")
    return total


async def settled(conn: asyncpg.Connection, quiet_s: float = 5.0, limit_s: float = 120.0) -> None:
    """Until no service has stored a new event for ``quiet_s``: the reactions to what the
    scenario did (notifications included) have all been recorded."""
    deadline = time.monotonic() + limit_s
    last, since = await all_events(conn), time.monotonic()
    while time.monotonic() - since < quiet_s:
        assert time.monotonic() < deadline, "the services never went quiet"
        await asyncio.sleep(0.5)
        now = await all_events(conn)
        if now != last:
            last, since = now, time.monotonic()


@pytest.mark.timeout(1200)  # some seventy commands, each sent twice, on a busy machine
async def test_a_retried_write_has_no_second_effect(
    system: System, module_settings: ServiceSettings
) -> None:
    operations = await write_operations(system)
    ctx = moments()
    failures: dict[Operation, str] = {}
    retries: dict[Operation, uuid.UUID] = {}
    repeats: dict[Operation, str] = {}
    conn = await asyncpg.connect(module_settings.database_url)
    try:
        async with httpx.AsyncClient(timeout=120) as client:
            for step in SCENARIO:
                op = step.operation
                if step.prepare is not None:
                    try:
                        await step.prepare(system, ctx)
                    except AssertionError as error:
                        failures[op] = f"could not prepare the example: {error}"
                        continue
                if not step.example:
                    answer = await send(client, system, step, ctx)
                    if not answer.is_success:
                        why = f"{answer.status_code} {answer.text[:300]}"
                        failures.setdefault(op, f"a step building state was refused: {why}")
                    else:
                        keep(step, answer, ctx)
                    continue
                key, retry = str(uuid.uuid4()), uuid.uuid4()
                first = await send(
                    client, system, step, ctx, extra_headers={IDEMPOTENCY_HEADER: key}
                )
                if not first.is_success:
                    failures[op] = f"the example was refused: {first.status_code} {first.text}"
                    continue
                keep(step, first, ctx)
                before = await table_counts(conn)
                again = await send(
                    client,
                    system,
                    step,
                    ctx,
                    extra_headers={IDEMPOTENCY_HEADER: key, CORRELATION_HEADER: str(retry)},
                )
                retries[op] = retry
                problems = []
                if operations.get(op, {}).get(SHOWN_ONCE):
                    if again.status_code != 409:
                        problems.append(f"a secret's retry answered {again.status_code}, not 409")
                elif (again.status_code, again.content) != (first.status_code, first.content):
                    problems.append(
                        f"answered {again.status_code} {again.text[:200]!r} instead of"
                        f" {first.status_code} {first.text[:200]!r}"
                    )
                if recorded := await events_of(conn, [retry]):
                    problems.append(f"the retry recorded {recorded}")
                if (after := await table_counts(conn)) != before:
                    problems.append(f"the retry changed row counts {before} -> {after}")
                if problems:
                    failures[op] = "; ".join(problems)
                # The same command once more, as a new command (new key): where it means
                # nothing new, the domain makes it a no-op (2xx) or refuses it (4xx).
                repeat = uuid.uuid4()
                await send(
                    client,
                    system,
                    step,
                    ctx,
                    extra_headers={
                        IDEMPOTENCY_HEADER: str(uuid.uuid4()),
                        CORRELATION_HEADER: str(repeat),
                    },
                )
                if op not in NEW_EACH_TIME and (recorded := await events_of(conn, [repeat])):
                    repeats[op] = f"a repeat with a new key recorded {recorded}"

        await settled(conn)
        for op, retry in retries.items():
            if later := await events_of(conn, [retry]):
                failures[op] = f"{failures.get(op, '')} later, the retry led to {later}".strip()
    finally:
        await conn.close()

    for op, why in repeats.items():
        if op not in KNOWN_REPEATS_RECORDED:
            failures[op] = f"{failures.get(op, '')} {why}".strip()
    mended_repeats = sorted(set(KNOWN_REPEATS_RECORDED) - set(repeats))
    unexpected = {op: why for op, why in failures.items() if op not in KNOWN_NOT_IDEMPOTENT}
    mended = sorted(set(KNOWN_NOT_IDEMPOTENT) - set(failures))
    report = "\n".join(f"{' '.join(op)}: {why}" for op, why in sorted(unexpected.items()))
    assert not unexpected, f"{len(unexpected)} write operations are not safe to retry:\n{report}"
    assert not mended, f"now idempotent, remove from KNOWN_NOT_IDEMPOTENT: {mended}"
    assert not mended_repeats, f"now no-ops, remove from KNOWN_REPEATS_RECORDED: {mended_repeats}"

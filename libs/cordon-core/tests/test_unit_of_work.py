"""The unit of work's retry policy and its answer, as plain Python (no infrastructure): a
conflicted use case runs again, at most as often as the policy says, and a caller that
gives up is answered 503 with Retry-After, whatever the service."""

from __future__ import annotations

import httpx
import pytest
from fastapi import FastAPI

from cordon_core.store import ConcurrencyError
from cordon_core.unit_of_work import (
    CONFLICT_RETRY,
    ConflictRetry,
    TooMuchContention,
    install_contention_answer,
    retry_conflicts,
)

NO_WAIT = ConflictRetry(attempts=3, backoff_s=0.0)


def conflict() -> ConcurrencyError:
    return ConcurrencyError("counter", 1, 2, "another writer got there first")


async def test_a_use_case_that_conflicts_once_is_run_again_and_answers() -> None:
    runs = 0

    async def once() -> str:
        nonlocal runs
        runs += 1
        if runs == 1:
            raise conflict()
        return "recorded"

    assert await retry_conflicts(once, (ConcurrencyError,), NO_WAIT) == "recorded"
    assert runs == 2


async def test_a_use_case_that_always_conflicts_gives_up_after_the_policys_attempts() -> None:
    runs = 0

    async def once() -> None:
        nonlocal runs
        runs += 1
        raise conflict()

    with pytest.raises(TooMuchContention) as raised:
        await retry_conflicts(once, (ConcurrencyError,), NO_WAIT)
    assert runs == NO_WAIT.attempts
    assert isinstance(raised.value.__cause__, ConcurrencyError)


async def test_an_error_that_is_not_a_conflict_is_not_run_again() -> None:
    runs = 0

    async def once() -> None:
        nonlocal runs
        runs += 1
        raise ValueError("bad input")

    with pytest.raises(ValueError):
        await retry_conflicts(once, (ConcurrencyError,), NO_WAIT)
    assert runs == 1


def test_the_pause_grows_with_each_failed_attempt() -> None:
    pauses = [CONFLICT_RETRY.pause(a) for a in range(1, CONFLICT_RETRY.attempts)]
    assert pauses == sorted(pauses) and pauses[0] > 0
    assert sum(pauses) < 1.0  # a device's request still answers well within its timeout


async def test_too_much_contention_is_answered_503_with_retry_after() -> None:
    app = FastAPI()
    install_contention_answer(app)

    @app.post("/things")
    async def contended() -> None:
        raise TooMuchContention

    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://svc") as client:
        response = await client.post("/things")
    assert response.status_code == 503
    assert response.headers["retry-after"] == "1"
    assert "nothing was recorded" in response.json()["detail"]

"""A statement running past the service's ``statement_timeout_s`` is cancelled by
PostgreSQL and counts as an outage (a 503 with Retry-After over HTTP), instead of running on
after its caller has given up; without a limit it runs to its end."""

from __future__ import annotations

import asyncpg
import pytest

from cordon_core.outage import is_outage
from cordon_core.settings import ServiceSettings, server_settings


async def test_a_statement_past_the_timeout_is_cancelled_and_is_an_outage(
    settings: ServiceSettings,
) -> None:
    limited = settings.model_copy(update={"statement_timeout_s": 0.2})
    pool = await asyncpg.create_pool(
        limited.database_url, min_size=1, max_size=1, server_settings=server_settings(limited)
    )
    try:
        with pytest.raises(asyncpg.QueryCanceledError) as cancelled:
            await pool.fetchval("SELECT pg_sleep(2)")
        assert is_outage(cancelled.value)
        assert await pool.fetchval("SELECT pg_sleep(0.05)::text") == ""
    finally:
        await pool.close()


async def test_no_timeout_lets_a_statement_run_to_its_end(settings: ServiceSettings) -> None:
    assert server_settings(settings) == {}
    pool = await asyncpg.create_pool(settings.database_url, min_size=1, max_size=1)
    try:
        assert await pool.fetchval("SELECT pg_sleep(0.5)::text") == ""
    finally:
        await pool.close()

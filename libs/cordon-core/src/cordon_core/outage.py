"""Outages of PostgreSQL or Kafka: which errors mean one, and the HTTP answer they get.

An endpoint that meets a database or broker that is down (refused connection, server
shutting down or starting up, a dropped connection, a pool that cannot hand out a
connection in time, a Kafka request that timed out) answers ``503 Service Unavailable``
with ``Retry-After``, never 500: a device then knows its request was not rejected and
sends it again, which the APIs' idempotency makes harmless.
"""

from __future__ import annotations

import asyncpg
import structlog
from aiokafka.errors import KafkaError
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from prometheus_client import Counter

log = structlog.get_logger(__name__)

POSTGRES_OUTAGE: tuple[type[Exception], ...] = (
    asyncpg.PostgresConnectionError,
    asyncpg.InterfaceError,  # among them ConnectionDoesNotExistError: a dropped connection
    # "cannot switch to state 12; another operation is in progress": asyncpg's protocol state
    # after the socket died under a running query (seen when the postmaster is killed).
    asyncpg.InternalClientError,
    asyncpg.OperatorInterventionError,  # AdminShutdown, CannotConnectNow (starting, stopping)
    asyncpg.TooManyConnectionsError,
    asyncpg.InsufficientResourcesError,
)
"""asyncpg errors that say the server is unreachable or not serving, not that a query is wrong."""

KAFKA_OUTAGE: tuple[type[Exception], ...] = (KafkaError,)

OUTAGE_ERRORS: tuple[type[Exception], ...] = (
    *POSTGRES_OUTAGE,
    *KAFKA_OUTAGE,
    OSError,  # ConnectionRefusedError, ConnectionResetError: either server gone
    TimeoutError,  # a pool acquire or a Kafka wait that ran out of time
)
"""Errors that say a dependency is down: retried by background tasks, 503 over HTTP."""

OUTAGE_RESPONSES = Counter(
    "cordon_http_outage_responses_total",
    "Requests answered 503 because a dependency was down",
    ["dependency"],
)


def is_outage(error: BaseException) -> bool:
    return isinstance(error, OUTAGE_ERRORS)


def dependency_of(error: BaseException) -> str:
    """``postgres``, ``kafka`` or ``network`` (a refused socket, a timeout: either one)."""
    if isinstance(error, POSTGRES_OUTAGE):
        return "postgres"
    if isinstance(error, KAFKA_OUTAGE):
        return "kafka"
    return "network"


def unavailable(path: str, error: Exception, retry_after_s: int) -> JSONResponse:
    """The 503 an outage gets, counted and logged."""
    dependency = dependency_of(error)
    OUTAGE_RESPONSES.labels(dependency).inc()
    log.warning("request_unavailable", path=path, dependency=dependency, error=repr(error))
    return JSONResponse(
        {
            "detail": f"temporarily unavailable ({dependency} is not answering); retry",
            "dependency": dependency,
        },
        status_code=503,
        headers={"Retry-After": str(retry_after_s)},
    )


def install_outage_handlers(app: FastAPI, *, retry_after_s: int = 2) -> None:
    """Answer every endpoint's outage errors with 503 and ``Retry-After: retry_after_s``.

    Exception handlers see what routes raise; a middleware that meets an outage itself (the
    idempotency middleware opens the request's transaction) answers with ``unavailable``
    too, reading ``app.state.outage_retry_after_s``.
    """
    app.state.outage_retry_after_s = retry_after_s

    async def handler(request: Request, error: Exception) -> JSONResponse:
        return unavailable(request.url.path, error, retry_after_s)

    for error_class in OUTAGE_ERRORS:
        app.add_exception_handler(error_class, handler)

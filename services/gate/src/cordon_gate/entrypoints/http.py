"""The gate's HTTP API: scans from checkpoint devices, administration for the office.

(No ``from __future__ import annotations`` here: FastAPI must see the dependency types that
``create_app`` defines locally.)
"""

import asyncio
import hmac
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import datetime
from typing import Annotated, Any

from fastapi import Depends, FastAPI, HTTPException, Request, Response, status
from fastapi.exceptions import RequestValidationError
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import TypeAdapter

from cordon_contracts.asyncapi import install_asyncapi
from cordon_core.api_errors import errors
from cordon_core.http import correlation_id, install_service_http
from cordon_core.idempotency import (
    command_transaction,
    request_transaction,
)
from cordon_core.store import ConcurrencyError
from cordon_gate.bootstrap import Gate
from cordon_gate.entrypoints.checkpoints import checkpoints_router
from cordon_gate.entrypoints.passes import passes_router
from cordon_gate.entrypoints.restrictions import restrictions_router
from cordon_gate.entrypoints.schemas import DecisionOut, ScanBatchIn, ScanIn, field_error
from cordon_gate.service.batching import ScanBatcher, TooMuchContention
from cordon_gate.service.scanning import DECIDE_AGAIN, IncomingScan, ScanResult

bearer = HTTPBearer(auto_error=False)
DECISIONS = TypeAdapter(list[DecisionOut])
DEVICE_CACHE_S = 10.0
"""How long a device token is trusted without asking PostgreSQL again."""
Credentials = Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)]
OTHER_GATE: dict[int | str, dict[str, Any]] = {
    403: {**errors(403)[403], "description": "The device reports for another checkpoint."}
}


def create_app(gate: Gate, *, clock: Callable[[], datetime] | None = None) -> FastAPI:
    runtime, settings = gate.runtime, gate.settings
    now = clock or (lambda: datetime.now(gate.timezone))
    windows = gate.windows

    batcher: ScanBatcher | None = None

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        nonlocal batcher
        async with runtime.running():
            batcher = ScanBatcher(runtime.pool, gate.desk, max_batch=settings.scan_batch_max)
            batcher.start()
            try:
                yield
            finally:
                await batcher.stop()

    app = FastAPI(
        title="Cordon gate",
        lifespan=lifespan,
        description="Checkpoint decisions in real time: scans, passes, visitors.",
    )
    install_service_http(
        app, runtime, body_limits={"/v1/scans/batch": settings.max_batch_body_bytes}
    )
    install_asyncapi(app)

    # Devices send a scan every few seconds with the same token: remember a token's device
    # for a short while instead of asking PostgreSQL on every scan.
    known_devices: dict[str, tuple[float, tuple[str, str]]] = {}

    async def device_checkpoint(credentials: Credentials) -> tuple[str, str]:
        found = None
        if credentials is not None:
            token = credentials.credentials
            cached = known_devices.get(token)
            if cached is not None and cached[0] > time.monotonic():
                return cached[1]
            found = await gate.state.device(runtime.pool, token)
            if found is not None:
                if len(known_devices) > 10_000:
                    known_devices.clear()
                known_devices[token] = (time.monotonic() + DEVICE_CACHE_S, found)
        if found is None:
            raise HTTPException(
                status.HTTP_401_UNAUTHORIZED,
                "a registered device token is required",
                headers={"WWW-Authenticate": "Bearer"},
            )
        return found

    def admin(credentials: Credentials) -> str:
        if credentials is None or not hmac.compare_digest(
            credentials.credentials.encode(), settings.gate_admin_token.encode()
        ):
            raise HTTPException(
                status.HTTP_401_UNAUTHORIZED,
                "the office's admin token is required",
                headers={"WWW-Authenticate": "Bearer"},
            )
        return "office"

    Device = Annotated[tuple[str, str], Depends(device_checkpoint)]
    app.include_router(checkpoints_router(gate, admin, now))
    app.include_router(passes_router(gate, admin, now))
    app.include_router(restrictions_router(gate, admin, now))

    async def decide(
        scans: list[ScanIn], device: tuple[str, str], request: Request, batch: bool
    ) -> list[ScanResult]:
        """Decide ``scans`` in one transaction; bad input raises a 422 naming each field."""
        device_id, checkpoint_id = device

        def where(i: int) -> tuple[str | int, ...]:
            return ("body", "scans", i) if batch else ("body",)

        errors = []
        for i, scan in enumerate(scans):
            loc = where(i)
            if scan.checkpoint_id != checkpoint_id:
                raise HTTPException(
                    status.HTTP_403_FORBIDDEN,
                    f"device {device_id} reports for checkpoint {checkpoint_id},"
                    f" not {scan.checkpoint_id}",
                )
            if (problem := scan.time_error(now(), windows)) is not None:
                errors.append({"loc": (*loc, "scanned_at"), "msg": problem, "type": "value_error"})
        if errors:
            raise RequestValidationError(errors)
        actor = f"device:{device_id}"
        incoming = [s.incoming(gate.pseudonyms, correlation_id(request), actor) for s in scans]
        try:
            if batch or request_transaction() is not None:
                # A batch, or a scan sent with an Idempotency-Key: decided in the request's
                # own transaction (never waiting for a second pooled connection).
                results = await decide_batch(incoming)
            else:
                # One scan: decided together with the others arriving meanwhile.
                assert batcher is not None
                results = [await batcher.decide(incoming[0])]
        except TooMuchContention as error:
            raise HTTPException(
                status.HTTP_503_SERVICE_UNAVAILABLE, "too much contention; retry"
            ) from error
        rejected = [
            {"loc": (*where(i), r.rejection[0]), "msg": r.rejection[1], "type": "value_error"}
            for i, r in enumerate(results)
            if r.rejection
        ]
        if rejected:
            raise RequestValidationError(rejected)
        return results

    async def decide_batch(incoming: list[IncomingScan]) -> list[ScanResult]:
        """All of a batch or none of it: one transaction, rolled back on any bad scan."""
        # A pass used at two gates at once, or the same scan sent twice at once: decide
        # again, and the second finds the first's answer. Inside an idempotent request the
        # whole request is run again instead (only a fresh transaction sees the other's).
        for attempt in range(5):
            try:
                async with command_transaction(runtime.pool) as conn:
                    results = await gate.desk.decide(
                        conn, incoming, actor="device", record_rejections=False
                    )
                    if any(r.rejection for r in results):
                        raise _Rejected(results)
                    return results
            except _Rejected as rejected:
                return rejected.results
            except DECIDE_AGAIN as conflict:
                if request_transaction() is not None:
                    raise ConcurrencyError("scans", None, None, "decided meanwhile") from conflict
                await asyncio.sleep(0.005 * (attempt + 1))
        raise TooMuchContention

    @app.post("/v1/scans", response_model=DecisionOut, tags=["devices"], responses=OTHER_GATE)
    async def post_scan(scan: ScanIn, device: Device, request: Request) -> Any:
        """Decide one scan at once: allow or deny, with reasons and alerts."""
        [result] = await decide([scan], device, request, batch=False)
        # Serialized here: the response model would validate it again (it documents it).
        return Response(_decision(result).model_dump_json(), media_type="application/json")

    @app.post(
        "/v1/scans/batch",
        response_model=list[DecisionOut],
        tags=["devices"],
        responses=OTHER_GATE,
    )
    async def post_scans(batch: ScanBatchIn, device: Device, request: Request) -> Any:
        """Decide up to 1,000 scans in order; all are recorded or (on bad input) none."""
        if len(batch.scans) > settings.scan_batch_max:
            raise field_error(["body", "scans"], f"at most {settings.scan_batch_max} scans a batch")
        results = await decide(batch.scans, device, request, batch=True)
        return Response(
            DECISIONS.dump_json([_decision(r) for r in results]), media_type="application/json"
        )

    return app


class _Rejected(Exception):
    """A batch with a bad scan: its transaction is rolled back, its answers reported."""

    def __init__(self, results: list[ScanResult]) -> None:
        super().__init__("a scan of the batch was rejected")
        self.results = results


def _decision(result: ScanResult) -> DecisionOut:
    return DecisionOut(
        scan_id=result.scan_id,
        checkpoint_id=result.checkpoint_id,
        decision="allow" if result.decision == "allow" else "deny",
        reasons=list(result.reasons),
        alerts=list(result.alerts),
        event_id=result.event_id,
        event_type=result.event_type or "",
        policy_version=result.policy_version or 0,
        status_as_of=result.status_as_of,
        duplicate=result.duplicate,
    )

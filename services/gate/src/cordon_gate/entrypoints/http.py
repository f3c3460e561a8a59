"""The gate's HTTP API: scans from checkpoint devices, administration for the office.

(No ``from __future__ import annotations`` here: FastAPI must see the dependency types that
``create_app`` defines locally.)
"""

import asyncio
import hmac
import time
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from dataclasses import asdict
from datetime import datetime, timedelta
from typing import Annotated, Any, Literal

from fastapi import Depends, FastAPI, HTTPException, Request, Response, status
from fastapi.exceptions import RequestValidationError
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import AwareDatetime, BaseModel, Field, TypeAdapter

from cordon_contracts.asyncapi import install_asyncapi
from cordon_core.http import correlation_id, install_correlation, operations_router
from cordon_core.outage import install_outage_handlers
from cordon_gate.bootstrap import Gate
from cordon_gate.domain.state import Checkpoint, GatePolicy
from cordon_gate.entrypoints.schemas import DecisionOut, Id, ScanBatchIn, ScanIn
from cordon_gate.service.administration import AlreadyExists, NotFound
from cordon_gate.service.batching import ScanBatcher, TooMuchContention
from cordon_gate.service.scanning import DECIDE_AGAIN, IncomingScan, ScanResult

bearer = HTTPBearer(auto_error=False)
DECISIONS = TypeAdapter(list[DecisionOut])
DEVICE_CACHE_S = 10.0
"""How long a device token is trusted without asking PostgreSQL again."""
Credentials = Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)]


class CheckpointIn(BaseModel):
    checkpoint_id: Id
    community_id: Id
    compound_id: Id
    name: str = Field(min_length=1, max_length=100)
    is_open: bool = True
    requires_negative_test: bool = False
    negative_test_hours: int = Field(default=48, ge=1, le=24 * 14)


class OpenCloseIn(BaseModel):
    reason: str = Field(min_length=1, max_length=200)


class DeviceIn(BaseModel):
    device_id: Id


class PolicyIn(BaseModel):
    fever_threshold_c: float = Field(default=37.3, ge=36.5, le=39.0)
    yellow_code: Literal["deny", "alert"] = "deny"
    itinerary_risk: Literal["deny", "alert", "allow"] = "alert"
    health_monitoring_exit: Literal["deny", "alert", "allow"] = "alert"
    visitors: Literal["allow", "refuse"] = "allow"
    negative_test_hours: int = Field(default=48, ge=1, le=24 * 14)


class PassIn(BaseModel):
    kind: Literal["temporary", "service", "exit_slip"]
    holder_person_id: Id
    community_id: Id
    valid_from: AwareDatetime
    valid_until: AwareDatetime
    daily_exit_quota: int | None = Field(default=None, ge=0, le=50)


class RevokeIn(BaseModel):
    reason: str = Field(min_length=1, max_length=200)


def field_error(loc: Sequence[str | int], msg: str) -> RequestValidationError:
    return RequestValidationError([{"loc": tuple(loc), "msg": msg, "type": "value_error"}])


def create_app(gate: Gate, *, clock: Callable[[], datetime] | None = None) -> FastAPI:
    runtime, settings = gate.runtime, gate.settings
    now = clock or (lambda: datetime.now(gate.timezone))
    skew = timedelta(seconds=settings.max_clock_skew_s)

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
    install_correlation(app)
    install_outage_handlers(app, retry_after_s=runtime.settings.outage_retry_after_s)
    app.include_router(operations_router(runtime))
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
    Admin = Annotated[str, Depends(admin)]

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
            if (problem := scan.future_error(now(), skew)) is not None:
                errors.append({"loc": (*loc, "scanned_at"), "msg": problem, "type": "value_error"})
        if errors:
            raise RequestValidationError(errors)
        actor = f"device:{device_id}"
        incoming = [s.incoming(gate.pseudonyms, correlation_id(request), actor) for s in scans]
        try:
            if batch:
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
        # again, and the second finds the first's answer.
        for attempt in range(5):
            try:
                async with runtime.pool.acquire() as conn, conn.transaction():
                    results = await gate.desk.decide(
                        conn, incoming, actor="device", record_rejections=False
                    )
                    if any(r.rejection for r in results):
                        raise _Rejected(results)
                    return results
            except _Rejected as rejected:
                return rejected.results
            except DECIDE_AGAIN:
                await asyncio.sleep(0.005 * (attempt + 1))
        raise TooMuchContention

    @app.post("/v1/scans", response_model=DecisionOut, tags=["devices"])
    async def post_scan(scan: ScanIn, device: Device, request: Request) -> Any:
        """Decide one scan at once: allow or deny, with reasons and alerts."""
        [result] = await decide([scan], device, request, batch=False)
        # Serialized here: the response model would validate it again (it documents it).
        return Response(_decision(result).model_dump_json(), media_type="application/json")

    @app.post("/v1/scans/batch", response_model=list[DecisionOut], tags=["devices"])
    async def post_scans(batch: ScanBatchIn, device: Device, request: Request) -> Any:
        """Decide up to 1,000 scans in order; all are recorded or (on bad input) none."""
        if len(batch.scans) > settings.scan_batch_max:
            raise field_error(["body", "scans"], f"at most {settings.scan_batch_max} scans a batch")
        results = await decide(batch.scans, device, request, batch=True)
        return Response(
            DECISIONS.dump_json([_decision(r) for r in results]), media_type="application/json"
        )

    @app.post("/v1/checkpoints", status_code=201, tags=["office"])
    async def register_checkpoint(
        body: CheckpointIn, actor: Admin, request: Request
    ) -> dict[str, str]:
        async with runtime.pool.acquire() as conn, conn.transaction():
            try:
                await gate.office.register_checkpoint(
                    conn,
                    Checkpoint(**body.model_dump()),
                    actor=actor,
                    correlation_id=correlation_id(request),
                )
            except AlreadyExists as error:
                raise HTTPException(status.HTTP_409_CONFLICT, str(error)) from error
        return {"checkpoint_id": body.checkpoint_id}

    async def set_open(
        checkpoint_id: str, is_open: bool, body: OpenCloseIn, actor: str, request: Request
    ) -> dict[str, Any]:
        async with runtime.pool.acquire() as conn, conn.transaction():
            try:
                checkpoint = await gate.office.set_open(
                    conn,
                    checkpoint_id,
                    is_open=is_open,
                    reason=body.reason,
                    actor=actor,
                    correlation_id=correlation_id(request),
                )
            except NotFound as error:
                raise HTTPException(status.HTTP_404_NOT_FOUND, str(error)) from error
        return {"checkpoint_id": checkpoint_id, "is_open": checkpoint.is_open}

    @app.post("/v1/checkpoints/{checkpoint_id}/open", tags=["office"])
    async def open_checkpoint(
        checkpoint_id: str, body: OpenCloseIn, actor: Admin, request: Request
    ) -> dict[str, Any]:
        return await set_open(checkpoint_id, True, body, actor, request)

    @app.post("/v1/checkpoints/{checkpoint_id}/close", tags=["office"])
    async def close_checkpoint(
        checkpoint_id: str, body: OpenCloseIn, actor: Admin, request: Request
    ) -> dict[str, Any]:
        """Close a gate (e.g. three gates reduced to one): its scans are refused."""
        return await set_open(checkpoint_id, False, body, actor, request)

    @app.post("/v1/checkpoints/{checkpoint_id}/devices", status_code=201, tags=["office"])
    async def register_device(
        checkpoint_id: str, body: DeviceIn, actor: Admin, request: Request
    ) -> dict[str, str]:
        """Returns the device's bearer token once; only its hash is kept."""
        async with runtime.pool.acquire() as conn, conn.transaction():
            try:
                token = await gate.office.register_device(
                    conn,
                    checkpoint_id,
                    body.device_id,
                    actor=actor,
                    correlation_id=correlation_id(request),
                )
            except NotFound as error:
                raise HTTPException(status.HTTP_404_NOT_FOUND, str(error)) from error
            except AlreadyExists as error:
                raise HTTPException(status.HTTP_409_CONFLICT, str(error)) from error
        return {"device_id": body.device_id, "checkpoint_id": checkpoint_id, "token": token}

    @app.put("/v1/communities/{community_id}/gate-policy", tags=["office"])
    async def publish_policy(
        community_id: str, body: PolicyIn, actor: Admin, request: Request
    ) -> dict[str, Any]:
        """Publish the community's next policy version; later decisions name it."""
        async with runtime.pool.acquire() as conn, conn.transaction():
            published = await gate.office.publish_policy(
                conn,
                GatePolicy(community_id=community_id, **body.model_dump()),
                actor=actor,
                correlation_id=correlation_id(request),
            )
        return {"community_id": community_id, "version": published.version}

    @app.post("/v1/passes", status_code=201, tags=["office"])
    async def issue_pass(body: PassIn, actor: Admin, request: Request) -> dict[str, str]:
        """Issue a pass; the returned code goes on the pass (QR) and is kept only as a hash."""
        if body.valid_until <= body.valid_from:
            raise field_error(["body", "valid_until"], "must be after valid_from")
        async with runtime.pool.acquire() as conn, conn.transaction():
            pass_id, code = await gate.office.issue_pass(
                conn, **body.model_dump(), actor=actor, correlation_id=correlation_id(request)
            )
        return {"pass_id": pass_id, "pass_code": code}

    @app.post("/v1/passes/{pass_id}/revoke", tags=["office"])
    async def revoke_pass(
        pass_id: str, body: RevokeIn, actor: Admin, request: Request
    ) -> dict[str, str]:
        """Revoke on the spot: every later scan with this pass is denied."""
        async with runtime.pool.acquire() as conn, conn.transaction():
            try:
                await gate.office.revoke_pass(
                    conn,
                    pass_id,
                    reason=body.reason,
                    at=now(),
                    actor=actor,
                    correlation_id=correlation_id(request),
                )
            except NotFound as error:
                raise HTTPException(status.HTTP_404_NOT_FOUND, str(error)) from error
        return {"pass_id": pass_id, "status": "revoked"}

    @app.get("/v1/people/{person_id}/status", tags=["office"])
    async def person_status(person_id: str, actor: Admin) -> dict[str, Any]:
        """What the gate knows of a person, and as of when (from the other services' events)."""
        async with runtime.pool.acquire() as conn:
            person = (await gate.state.people(conn, [person_id])).get(person_id)
        if person is None:
            raise HTTPException(status.HTTP_404_NOT_FOUND, f"the gate knows nothing of {person_id}")
        return asdict(person)

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

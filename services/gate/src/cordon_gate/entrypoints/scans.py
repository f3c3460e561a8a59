"""The devices' routes: a scan, or a batch of scans, decided at once (allow or deny, with
reasons and alerts). Bad input is refused with 422 naming each field; a device reporting
for another checkpoint with 403.

(No ``from __future__ import annotations`` here: FastAPI must see the dependency types.)
"""

from collections.abc import Awaitable, Callable
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Request, Response, status
from fastapi.exceptions import RequestValidationError
from pydantic import TypeAdapter

from cordon_core.api_errors import errors
from cordon_core.http import correlation_id
from cordon_core.unit_of_work import request_transaction, run_command
from cordon_gate.domain.answers import ScanResult
from cordon_gate.domain.batch import IncomingScan
from cordon_gate.entrypoints.schemas import DecisionOut, ScanBatchIn, ScanIn, field_error
from cordon_gate.service.batching import ScanBatcher
from cordon_gate.service.scanning import DECIDE_AGAIN
from cordon_gate.service.unit import Gate

DECISIONS = TypeAdapter(list[DecisionOut])
OTHER_GATE: dict[int | str, dict[str, Any]] = {
    403: {**errors(403)[403], "description": "The device reports for another checkpoint."}
}


def scans_router(
    gate: Gate,
    device_checkpoint: Callable[..., Awaitable[tuple[str, str]]],
    batcher: Callable[[], ScanBatcher],
) -> APIRouter:
    """``batcher()`` is the running group commit of single scans (it starts with the app)."""
    router = APIRouter(tags=["devices"])
    Device = Annotated[tuple[str, str], Depends(device_checkpoint)]
    settings = gate.settings

    async def decide(
        scans: list[ScanIn], device: tuple[str, str], request: Request, batch: bool
    ) -> list[ScanResult]:
        """Decide ``scans`` in one transaction; bad input raises a 422 naming each field."""
        device_id, checkpoint_id = device

        def where(i: int) -> tuple[str | int, ...]:
            return ("body", "scans", i) if batch else ("body",)

        problems = []
        for i, scan in enumerate(scans):
            if scan.checkpoint_id != checkpoint_id:
                raise HTTPException(
                    status.HTTP_403_FORBIDDEN,
                    f"device {device_id} reports for checkpoint {checkpoint_id},"
                    f" not {scan.checkpoint_id}",
                )
            if (problem := scan.time_error(gate.clock(), gate.windows)) is not None:
                problems.append(
                    {"loc": (*where(i), "scanned_at"), "msg": problem, "type": "value_error"}
                )
        if problems:
            raise RequestValidationError(problems)
        actor = f"device:{device_id}"
        incoming = [s.incoming(gate.pseudonyms, correlation_id(request), actor) for s in scans]
        if batch or request_transaction() is not None:
            # A batch, or a scan sent with an Idempotency-Key: decided in the request's own
            # transaction (never waiting for a second pooled connection), all or none.
            results = await decide_all_or_none(incoming)
        else:
            # One scan: decided together with the others arriving meanwhile.
            results = [await batcher().decide(incoming[0])]
        rejected = [
            {"loc": (*where(i), r.rejection[0]), "msg": r.rejection[1], "type": "value_error"}
            for i, r in enumerate(results)
            if r.rejection
        ]
        if rejected:
            raise RequestValidationError(rejected)
        return results

    async def decide_all_or_none(incoming: list[IncomingScan]) -> list[ScanResult]:
        # A pass used at two gates at once, or the same scan sent twice at once: the unit of
        # work decides again, and the second look finds the first's answer.
        return await run_command(
            gate.runtime.pool,
            lambda conn: gate.desk.decide(
                conn, incoming, actor="device", rejections="refuse_batch"
            ),
            conflicts=DECIDE_AGAIN,
        )

    @router.post("/v1/scans", response_model=DecisionOut, responses=OTHER_GATE)
    async def post_scan(scan: ScanIn, device: Device, request: Request) -> Any:
        """Decide one scan at once: allow or deny, with reasons and alerts."""
        [result] = await decide([scan], device, request, batch=False)
        # Serialized here: the response model would validate it again (it documents it).
        return Response(_decision(result).model_dump_json(), media_type="application/json")

    @router.post("/v1/scans/batch", response_model=list[DecisionOut], responses=OTHER_GATE)
    async def post_scans(batch: ScanBatchIn, device: Device, request: Request) -> Any:
        """Decide up to 1,000 scans in order; all are recorded or (on bad input) none."""
        if len(batch.scans) > settings.scan_batch_max:
            raise field_error(["body", "scans"], f"at most {settings.scan_batch_max} scans a batch")
        results = await decide(batch.scans, device, request, batch=True)
        return Response(
            DECISIONS.dump_json([_decision(r) for r in results]), media_type="application/json"
        )

    return router


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

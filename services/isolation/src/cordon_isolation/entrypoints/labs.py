"""Lab routes: results as JSON or as a CSV upload, each answered with a report of what was
recorded and every refused row (row, column, reason).

(No ``from __future__ import annotations``: FastAPI must resolve the local ``Lab`` type.)
"""

from collections.abc import Callable, Iterable
from dataclasses import asdict
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request, UploadFile, status
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from cordon_core.api_errors import ErrorBody
from cordon_core.http import correlation_id
from cordon_core.idempotency import request_transaction
from cordon_isolation.adapters.results_csv import read_results_csv
from cordon_isolation.domain.results import ResultRow, RowError, parse_row
from cordon_isolation.entrypoints.deps import Isolation
from cordon_isolation.entrypoints.schemas import ResultsIn


class RowRefusal(BaseModel):
    row: int
    column: str
    reason: str


class IntakeReportOut(BaseModel):
    """What became of a batch: counts, and every refused row with its column and reason."""

    batch_id: str
    rows: int
    received: int
    corrected: int
    duplicates: int
    errors: list[RowRefusal]
    recorded: bool = Field(
        description="False when rows were refused in a request sent with an Idempotency-Key:"
        " then nothing of the batch is kept (send it again, corrected, with a new key)."
    )


REPORTED: dict[int | str, dict[str, Any]] = {
    200: {"model": IntakeReportOut},
    422: {
        "model": IntakeReportOut | ErrorBody,
        "description": "Some rows were refused (the report names each; the others are"
        " recorded, unless the request carried an Idempotency-Key), or the request itself"
        " was (ErrorBody).",
    },
}


def lab_routes(iso: Isolation, lab: Callable[..., str]) -> APIRouter:
    router = APIRouter(tags=["labs"])
    Lab = Annotated[str, Depends(lab)]

    async def ingest(
        rows: Iterable[ResultRow | list[RowError]], lab_name: str, request: Request
    ) -> JSONResponse:
        report = await iso.intake.ingest(
            iso.runtime.pool, rows, lab=lab_name, actor=f"lab:{lab_name}",
            correlation_id=correlation_id(request),
        )  # fmt: skip
        body: dict[str, Any] = asdict(report)
        # Sent with an Idempotency-Key, a refused answer rolls the whole request back: say
        # so, rather than count rows that will not be kept.
        body["recorded"] = not (report.errors and request_transaction() is not None)
        code = status.HTTP_422_UNPROCESSABLE_ENTITY if report.errors else status.HTTP_200_OK
        return JSONResponse(body, code)

    @router.post("/v1/lab/results", responses=REPORTED)
    async def post_results(body: ResultsIn, lab_name: Lab, request: Request) -> JSONResponse:
        """Results as JSON (rows numbered from 1). 200 when every row was recorded or was a
        duplicate; 422 with the same report when some were refused (the others are
        recorded, except with an Idempotency-Key: then nothing is, and ``recorded`` is
        false)."""
        results = enumerate(body.results, start=1)
        rows = (parse_row(i, r.model_dump(mode="json")) for i, r in results)
        return await ingest(rows, lab_name, request)

    @router.post("/v1/lab/results/csv", responses=REPORTED)
    async def upload_results(file: UploadFile, lab_name: Lab, request: Request) -> JSONResponse:
        """A CSV batch (UTF-8; header sample_id, result, and optionally person_id,
        collected_at). Rows are numbered as in a spreadsheet: the header is row 1."""
        text = (await file.read()).decode("utf-8", errors="replace")
        return await ingest(read_results_csv(text), lab_name, request)

    return router

"""Lab routes: results as JSON or as a CSV upload, each answered with a report of what was
recorded and every refused row (row, column, reason).

(No ``from __future__ import annotations``: FastAPI must resolve the local ``Lab`` type.)
"""

from collections.abc import Callable, Iterable
from dataclasses import asdict
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request, UploadFile, status
from fastapi.responses import JSONResponse

from cordon_core.http import correlation_id
from cordon_core.idempotency import request_transaction
from cordon_isolation.adapters.results_csv import read_results_csv
from cordon_isolation.bootstrap import Isolation
from cordon_isolation.domain.results import ResultRow, RowError, parse_row
from cordon_isolation.entrypoints.schemas import ResultsIn


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

    @router.post("/v1/lab/results")
    async def post_results(body: ResultsIn, lab_name: Lab, request: Request) -> JSONResponse:
        """Results as JSON (rows numbered from 1). 200 when every row was recorded or was a
        duplicate; 422 with the same report when some were refused (the others are
        recorded, except with an Idempotency-Key: then nothing is, and ``recorded`` is
        false)."""
        rows = (parse_row(i, r.model_dump()) for i, r in enumerate(body.results, start=1))
        return await ingest(rows, lab_name, request)

    @router.post("/v1/lab/results/csv")
    async def upload_results(file: UploadFile, lab_name: Lab, request: Request) -> JSONResponse:
        """A CSV batch (UTF-8; header sample_id, result, and optionally person_id,
        collected_at). Rows are numbered as in a spreadsheet: the header is row 1."""
        text = (await file.read()).decode("utf-8", errors="replace")
        return await ingest(read_results_csv(text), lab_name, request)

    return router

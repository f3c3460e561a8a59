"""The real-time checkpoint feed: raw scans from device gateways on ``<prefix>.gate.scans``.

Each record's value is one scan as JSON (the HTTP API's ``ScanIn``); its key should be the
checkpoint id, so one checkpoint's scans are decided in order. Decisions go out as the
gate's events. A record that is not a valid scan goes to the dead-letter topic with the
field and reason; a valid scan naming an unknown checkpoint is recorded as ``ScanRejected``.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any

import asyncpg
from aiokafka import ConsumerRecord
from pydantic import ValidationError

from cordon_core.consumer import MalformedRecord
from cordon_gate.adapters.pseudonyms import Pseudonymizer
from cordon_gate.domain.batch import IncomingScan
from cordon_gate.domain.outcomes import SCAN_NAMESPACE
from cordon_gate.domain.windows import Windows
from cordon_gate.entrypoints.schemas import ScanIn
from cordon_gate.service.scanning import ScanDesk


class ScanFeedCodec:
    def __init__(
        self, pseudonyms: Pseudonymizer, clock: Callable[[], datetime], windows: Windows
    ) -> None:
        self.pseudonyms = pseudonyms
        self.clock = clock
        self.windows = windows

    def decode(self, record: ConsumerRecord[Any, Any]) -> IncomingScan:
        try:
            scan = ScanIn.model_validate_json(record.value or b"")
        except ValidationError as error:
            problems = "; ".join(
                f"{'.'.join(str(p) for p in e['loc']) or 'scan'}: {e['msg']}"
                for e in error.errors()
            )
            raise MalformedRecord(problems) from error
        if (problem := scan.time_error(self.clock(), self.windows)) is not None:
            raise MalformedRecord(f"scanned_at: {problem}")
        return scan.incoming(self.pseudonyms, correlation_id=uuid.uuid4())

    def identity(self, item: IncomingScan) -> uuid.UUID:
        return uuid.uuid5(SCAN_NAMESPACE, f"feed/{item.scan.checkpoint_id}/{item.scan.scan_id}")

    def log_context(self, item: IncomingScan) -> dict[str, str]:
        return {"scan_id": item.scan.scan_id, "checkpoint_id": item.scan.checkpoint_id}


class ScanFeedHandler:
    def __init__(self, desk: ScanDesk) -> None:
        self.desk = desk

    async def apply_batch(self, conn: asyncpg.Connection, items: Sequence[IncomingScan]) -> None:
        await self.desk.decide(conn, items, actor="feed", rejections="record")

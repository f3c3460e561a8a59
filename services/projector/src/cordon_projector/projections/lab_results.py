"""Projection ``test-results``: one row per sample with its current result (a correction
supersedes it), from the lab events isolation publishes.

Its name stays ``test-results`` (as do the table ``test_result`` and the lab's event types):
the name is the consumer group, the dead-letter topic and the rebuild command's argument."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

import asyncpg

from cordon_contracts.lab import TestResultCorrected, TestResultReceived
from cordon_core.envelope import Envelope


class LabResultsProjection:
    name = "test-results"
    reads_from = ("isolation",)
    """Lab results travel on isolation's events topic."""
    event_types = (TestResultReceived.event_type, TestResultCorrected.event_type)

    def __init__(self, schema: str) -> None:
        self.schema = schema

    async def apply_batch(self, conn: asyncpg.Connection, envelopes: Sequence[Envelope]) -> None:
        received: dict[str, tuple[str, str, datetime, str]] = {}
        corrected: dict[str, tuple[str, str, datetime, str]] = {}
        for envelope in envelopes:
            event = envelope.payload
            assert isinstance(event, TestResultReceived | TestResultCorrected)
            row = (event.sample_id, event.person_id, event.collected_at, event.result)
            if isinstance(event, TestResultCorrected):
                corrected[event.sample_id] = row
            elif event.sample_id not in corrected:
                received.setdefault(event.sample_id, row)
        for rows, on_conflict in (
            (received, "DO NOTHING"),
            (corrected, "DO UPDATE SET result = EXCLUDED.result"),
        ):
            if rows:
                await conn.execute(
                    f"""INSERT INTO {self.schema}.test_result
                        SELECT * FROM unnest($1::text[], $2::text[], $3::timestamptz[],
                                             $4::text[])
                        ON CONFLICT (sample_id) {on_conflict}""",
                    *map(list, zip(*rows.values(), strict=True)),
                )

    async def reset(self, conn: asyncpg.Connection) -> None:
        await conn.execute(f"TRUNCATE {self.schema}.test_result")

"""Operator commands: ``cordon-isolation results FILE --lab NAME`` records a lab's CSV batch
straight into the isolation service's database (settings from CORDON_* variables) and
prints the report; the running service's relay publishes the events."""

from __future__ import annotations

import asyncio
import json
import sys
from dataclasses import asdict
from pathlib import Path
from typing import Annotated

import asyncpg
import structlog
import typer

from cordon_core.envelope import utc_now
from cordon_core.migrations import apply_migrations, core_migrations, migrations_from_package
from cordon_core.store import PostgresEventStore
from cordon_isolation.adapters.results_csv import read_results_csv
from cordon_isolation.adapters.state import IsolationState
from cordon_isolation.bootstrap import event_registry
from cordon_isolation.service.lab import IntakeReport, LabIntake
from cordon_isolation.settings import IsolationSettings

app = typer.Typer(help="Cordon isolation: orders, follow-up and lab results.", no_args_is_help=True)


@app.callback()
def main() -> None:
    """Operator commands for the isolation service (settings from CORDON_* variables)."""
    # The report goes to stdout; log lines go to stderr, out of its way.
    structlog.configure(logger_factory=structlog.PrintLoggerFactory(sys.stderr))


async def ingest_csv(
    pool: asyncpg.Pool, settings: IsolationSettings, text: str, lab: str
) -> IntakeReport:
    """Record a CSV batch through the same intake as the HTTP upload."""
    schema = "isolation"
    async with pool.acquire() as conn:
        migrations = [*core_migrations(), *migrations_from_package("isolation", "cordon_isolation")]
        await apply_migrations(conn, schema, migrations)
    store = PostgresEventStore(pool, schema, event_registry(), source="/cordon/isolation")
    intake = LabIntake(
        store,
        IsolationState(schema),
        district=settings.district,
        window=settings.collection_window,
        clock=utc_now,
        chunk_rows=settings.lab_chunk_rows,
    )
    return await intake.ingest(pool, read_results_csv(text), lab=lab, actor=f"lab:{lab}")


@app.command("results")
def results_command(
    file: Annotated[Path, typer.Argument(exists=True, dir_okay=False, help="A lab's CSV batch.")],
    lab: Annotated[str, typer.Option("--lab", help="The lab the results come from.")],
) -> None:
    """Record a lab's results; every refused row is reported by row, column and reason.
    Exits 1 when any row was refused (the others are recorded)."""
    settings = IsolationSettings()
    text = file.read_text(encoding="utf-8-sig")

    async def run() -> IntakeReport:
        pool = await asyncpg.create_pool(settings.database_url, min_size=1, max_size=2)
        try:
            return await ingest_csv(pool, settings, text, lab)
        finally:
            await pool.close()

    report = asyncio.run(run())
    typer.echo(json.dumps(asdict(report), indent=2, ensure_ascii=False))
    raise typer.Exit(1 if report.errors else 0)


if __name__ == "__main__":
    app()

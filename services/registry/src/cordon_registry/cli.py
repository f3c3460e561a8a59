"""Operator commands: ``cordon-registry import FILE --community ID`` imports a spreadsheet
straight into the registry's database (settings from CORDON_* variables); the running
service's relay publishes the events."""

from __future__ import annotations

import asyncio
import getpass
import sys
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated

import asyncpg
import structlog
import typer

from cordon_core.envelope import utc_now
from cordon_core.migrations import apply_migrations
from cordon_core.store import PostgresEventStore
from cordon_registry.adapters.spreadsheets import read_spreadsheet
from cordon_registry.bootstrap import build_runtime, vault_from
from cordon_registry.domain.errors import RegistryError
from cordon_registry.domain.staff import StaffMember
from cordon_registry.service.importing import ImportReport, import_rows
from cordon_registry.service.search import reindex_search
from cordon_registry.service.unit import Caller, Registry
from cordon_registry.settings import RegistrySettings

app = typer.Typer(help="Cordon registry: places, households and residents.", no_args_is_help=True)


@app.callback()
def main() -> None:
    """Operator commands for the registry (settings from CORDON_* variables)."""
    # The report goes to stdout; log lines go to stderr, out of its way.
    structlog.configure(logger_factory=structlog.PrintLoggerFactory(sys.stderr))


@dataclass
class DirectStorage:
    """The registry's pool and store without the service's Kafka side."""

    pool: asyncpg.Pool
    store: PostgresEventStore
    schema: str


@app.command("import")
def import_command(
    file: Annotated[
        Path, typer.Argument(exists=True, dir_okay=False, help="A .csv or .xlsx file.")
    ],
    community: Annotated[str, typer.Option("--community", help="The community the file lists.")],
    operator: Annotated[
        str | None, typer.Option(help="Recorded as the actor; the login name if omitted.")
    ] = None,
) -> None:
    """Import households and residents; every bad row is reported by number and column.

    Good rows are imported even when others are bad; importing the same file again
    changes nothing. Exits 1 when any row was rejected.
    """
    try:
        report = asyncio.run(_import(file, community, operator or getpass.getuser()))
    except RegistryError as error:
        typer.secho(f"{error.field}: {error.reason}", fg="red", err=True)
        raise typer.Exit(2) from None
    typer.echo(
        f"{report.rows} rows: {report.registered} residents registered, "
        f"{report.already_registered} already registered, {report.places_added} places added, "
        f"{len({e.row for e in report.errors})} rows rejected"
    )
    for bad in report.errors:
        typer.secho(str(bad), fg="red")
    if report.errors:
        raise typer.Exit(1)


@app.command("reindex-search")
def reindex_search_command() -> None:
    """Write the partial, pinyin and last-digits search tokens of every resident whose
    details can be opened (those registered before search tokens existed). Idempotent."""
    typer.echo(f"{asyncio.run(_reindex())} residents indexed")


async def _reindex() -> int:
    pool, registry = await _direct_registry()
    try:
        return await reindex_search(registry)
    finally:
        await pool.close()


async def _direct_registry() -> tuple[asyncpg.Pool, Registry]:
    """The registry on its database, migrated, without the service's Kafka side."""
    settings = RegistrySettings()
    runtime = build_runtime(settings)
    pool = await asyncpg.create_pool(settings.database_url, min_size=1, max_size=2)
    try:
        async with pool.acquire() as conn:
            await apply_migrations(conn, runtime.schema, runtime.migrations)
    except BaseException:
        await pool.close()
        raise
    store = PostgresEventStore(pool, runtime.schema, runtime.registry, source="/cordon/registry")
    registry = Registry(
        storage=DirectStorage(pool, store, runtime.schema),
        vault=vault_from(settings),
        district=settings.district,
        clock=utc_now,
        import_batch_size=settings.registry_import_batch_size,
        admin_token="",
    )
    return pool, registry


async def _import(file: Path, community: str, operator: str) -> ImportReport:
    columns, rows = read_spreadsheet(file)
    pool, registry = await _direct_registry()
    try:
        caller = Caller(StaffMember(f"cli:{operator}", "district_staff", None), uuid.uuid4())
        return await import_rows(registry, caller, community, columns, rows)
    finally:
        await pool.close()


if __name__ == "__main__":
    app()

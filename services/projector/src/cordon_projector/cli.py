"""Operator commands for the projector: rebuild read models from the event streams."""

from __future__ import annotations

import asyncio
import json
from datetime import datetime
from typing import Annotated

import asyncpg
import typer
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TimeRemainingColumn,
)

from cordon_core.envelope import local_day
from cordon_core.migrations import apply_migrations
from cordon_core.projection import rebuild_together
from cordon_projector.bootstrap import build_projector
from cordon_projector.entrypoints.http import past_moments
from cordon_projector.read_models.areas import find_area
from cordon_projector.read_models.daily_report import daily_report
from cordon_projector.read_models.four_colour import four_colour_map
from cordon_projector.read_models.gates import live_gates
from cordon_projector.read_models.ledger import isolation_ledger, screening_coverage

VIEWS = ("map", "gates", "daily-report", "isolation-ledger", "screening")

app = typer.Typer(
    help="Cordon projector: read models built only from events.", no_args_is_help=True
)


@app.callback()
def main() -> None:
    """Operator commands for the projector (settings from CORDON_* variables)."""


@app.command("rebuild")
def rebuild_command(
    name: str = typer.Argument(None, help="Projection to rebuild; all when omitted."),
) -> None:
    """Empty read models and replay their topics from the beginning, with progress: one pass
    over the topics, each record decoded once for every read model that wants it."""
    asyncio.run(_rebuild(name))


async def _rebuild(name: str | None) -> None:
    projector = build_projector()
    runtime = projector.runtime
    chosen = [p for p in projector.projections if name in (None, p.name)]
    if not chosen:
        known = ", ".join(p.name for p in projector.projections)
        typer.secho(f"no projection named {name!r}; known: {known}", fg="red", err=True)
        raise typer.Exit(2)
    # One connection holds the locks; each projection applies its batches on its own.
    pool = await asyncpg.create_pool(
        projector.settings.database_url, min_size=1, max_size=len(chosen) + 1
    )
    try:
        async with pool.acquire() as conn:
            await apply_migrations(conn, runtime.schema, runtime.migrations)
        with Progress(
            "[progress.description]{task.description}",
            BarColumn(),
            MofNCompleteColumn(),
            TimeRemainingColumn(),
        ) as bar:
            # One pass over the topics: each record is read and decoded once for all of them.
            what = name if name is not None else f"{len(chosen)} read models"
            task = bar.add_task(what, total=None)
            read = await rebuild_together(
                [(p, projector.topics_of(p)) for p in chosen],
                pool=pool,
                schema=runtime.schema,
                registry=runtime.registry,
                settings=projector.settings,
                progress=lambda done, total: bar.update(task, completed=done, total=total),
            )
            bar.update(task, completed=read, total=read)
    finally:
        await pool.close()


@app.command("as-of")
def as_of_command(
    moment: Annotated[datetime, typer.Argument(help="ISO 8601; local time when no offset.")],
    area: Annotated[
        str | None, typer.Option(help="District, sub-district, community, grid, ... id.")
    ] = None,
    view: Annotated[str, typer.Option(help=f"One of: {', '.join(VIEWS)}.")] = "map",
) -> None:
    """Print a read model (JSON) as of a past moment, replaying the topics up to it."""
    if view not in VIEWS:
        typer.secho(f"no view {view!r}; known: {', '.join(VIEWS)}", fg="red", err=True)
        raise typer.Exit(2)
    print(
        json.dumps(
            asyncio.run(_as_of(moment, area, view)), ensure_ascii=False, indent=1, default=str
        )
    )


async def _as_of(moment: datetime, area_id: str | None, view: str) -> object:
    projector = build_projector()
    settings = projector.settings
    at = moment if moment.tzinfo else moment.replace(tzinfo=projector.timezone)
    past = past_moments(projector)
    pool = await asyncpg.create_pool(settings.database_url, min_size=1, max_size=4)
    try:
        with Progress(
            "[progress.description]{task.description}",
            BarColumn(),
            MofNCompleteColumn(),
            console=Console(stderr=True),
        ) as bar:
            task = bar.add_task(f"replay to {at.isoformat()}", total=None)
            schema = await past.schema_for(
                pool, at, lambda done, total: bar.update(task, completed=done, total=total)
            )
        try:
            found = await find_area(pool, schema, area_id or settings.district, settings.district)
            if found is None:
                typer.secho(f"no area {area_id!r} as of {at}", fg="red", err=True)
                raise typer.Exit(2)
            if view == "map":
                return await four_colour_map(
                    pool, schema, found, at, settings.full_vaccination_doses
                )
            if view == "gates":
                return await live_gates(pool, schema, found, at, projector.timezone)
            if view == "daily-report":
                day = local_day(at, projector.timezone)
                return await daily_report(pool, schema, found, day, at, projector.timezone)
            if view == "isolation-ledger":
                return await isolation_ledger(pool, schema, found, at)
            return await screening_coverage(pool, schema, found, at)
        finally:
            await past.drop_all(pool)
    finally:
        await pool.close()


if __name__ == "__main__":
    app()

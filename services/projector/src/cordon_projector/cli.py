"""Operator commands for the projector: rebuild read models from the event streams."""

from __future__ import annotations

import asyncio

import asyncpg
import typer
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TaskID,
    TimeRemainingColumn,
)

from cordon_core.migrations import apply_migrations
from cordon_core.projection import rebuild
from cordon_projector.bootstrap import build_projector

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
    """Empty read models and replay their topics from the beginning, with progress."""
    asyncio.run(_rebuild(name))


async def _rebuild(name: str | None) -> None:
    projector = build_projector()
    runtime = projector.runtime
    chosen = [p for p in projector.projections if name in (None, p.name)]
    if not chosen:
        known = ", ".join(p.name for p in projector.projections)
        typer.secho(f"no projection named {name!r}; known: {known}", fg="red", err=True)
        raise typer.Exit(2)
    pool = await asyncpg.create_pool(projector.settings.database_url, min_size=1, max_size=4)
    try:
        async with pool.acquire() as conn:
            await apply_migrations(conn, runtime.schema, runtime.migrations)
        with Progress(
            "[progress.description]{task.description}",
            BarColumn(),
            MofNCompleteColumn(),
            TimeRemainingColumn(),
        ) as bar:
            for projection in chosen:
                task = bar.add_task(projection.name, total=None)

                def advance(done: int, total: int, task: TaskID = task) -> None:
                    bar.update(task, completed=done, total=total)

                read = await rebuild(
                    projection,
                    topics=projector.topics_of(projection),
                    pool=pool,
                    schema=runtime.schema,
                    registry=runtime.registry,
                    settings=projector.settings,
                    progress=advance,
                )
                bar.update(task, completed=read, total=read)
    finally:
        await pool.close()


if __name__ == "__main__":
    app()

"""`cordon-infra` command line: up, down and status of the local infrastructure."""

from __future__ import annotations

import json
import logging
import os
import shlex
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer

from cordon_devenv import tansu
from cordon_devenv.errors import InfraError
from cordon_devenv.infra import infrastructure_status, start_infrastructure, stop_infrastructure

app = typer.Typer(
    help="Start, stop and inspect Cordon's local Kafka and PostgreSQL.", no_args_is_help=True
)


class Broker(StrEnum):
    auto = "auto"
    kafka = "kafka"
    tansu = "tansu"


def _state_dir(option: Path | None) -> Path:
    if option is not None:
        return option
    env = os.environ.get("CORDON_STATE_DIR")
    return Path(env) if env else Path.cwd() / ".cordon"


StateDirOption = Annotated[
    Path | None,
    typer.Option(
        "--state-dir", help="Where data, logs and infra.json live [env CORDON_STATE_DIR; ./.cordon]"
    ),
]


@app.callback()
def main(verbose: Annotated[bool, typer.Option("--verbose", "-v")] = False) -> None:
    """Configure logging for every command."""
    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s %(message)s",
    )
    logging.getLogger("aiokafka").setLevel(logging.WARNING)


@app.command()
def up(
    broker: Annotated[Broker, typer.Option(help="Which broker to run")] = Broker.auto,
    kafka_port: Annotated[int | None, typer.Option(help="0 = any free port")] = None,
    postgres_port: Annotated[int | None, typer.Option(help="0 = any free port")] = None,
    state_dir: StateDirOption = None,
) -> None:
    """Start (or reuse) the broker and PostgreSQL; print the environment to use them."""
    try:
        infra = start_infrastructure(
            _state_dir(state_dir),
            broker=broker.value,
            kafka_port=kafka_port,
            postgres_port=postgres_port,
        )
    except InfraError as exc:
        typer.secho(f"cordon-infra up failed: {exc}", fg=typer.colors.RED, err=True)
        raise typer.Exit(1) from exc
    if infra.broker_kind == "tansu":
        typer.secho(f"WARNING: {tansu.CAVEATS}", fg=typer.colors.YELLOW, bold=True, err=True)
    for key, value in infra.env().items():
        typer.echo(f"export {key}={shlex.quote(value)}")
    typer.echo(f"# broker: {infra.broker_kind}")


@app.command()
def down(state_dir: StateDirOption = None) -> None:
    """Stop the servers started for the state directory (their data stays on disk)."""
    try:
        stop_infrastructure(_state_dir(state_dir))
    except InfraError as exc:
        typer.secho(f"cordon-infra down failed: {exc}", fg=typer.colors.RED, err=True)
        raise typer.Exit(1) from exc
    typer.echo("stopped")


@app.command()
def status(state_dir: StateDirOption = None) -> None:
    """Show what is recorded and which of our servers are running (exit 1 if none)."""
    report = infrastructure_status(_state_dir(state_dir))
    typer.echo(json.dumps(report, indent=2, sort_keys=True))
    running = report["apache_kafka"] or report["tansu"] or report["postgres"]
    if not running:
        raise typer.Exit(1)

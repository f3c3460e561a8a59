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
from cordon_ops.cli import reconcile_command

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
    brokers: Annotated[
        int,
        typer.Option(min=1, max=9, help="Apache Kafka nodes; 3 gives replication 3 and min ISR 2"),
    ] = 1,
    state_dir: StateDirOption = None,
) -> None:
    """Start (or reuse) the broker and PostgreSQL; print the environment to use them."""
    try:
        infra = start_infrastructure(
            _state_dir(state_dir),
            broker=broker.value,
            kafka_port=kafka_port,
            postgres_port=postgres_port,
            brokers=brokers,
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
    running = (
        report["apache_kafka"] or report["kafka_cluster"] or report["tansu"] or report["postgres"]
    )
    if not running:
        raise typer.Exit(1)


system_app = typer.Typer(help="Run the whole Cordon system locally.", no_args_is_help=True)


@system_app.callback()
def system_main() -> None:
    """Cordon: community epidemic control, run locally."""


system_app.command("reconcile", help=reconcile_command.__doc__)(reconcile_command)


@system_app.command("up")
def system_up(
    broker: Annotated[Broker, typer.Option(help="Which broker to run")] = Broker.auto,
    demo_rate: Annotated[
        float, typer.Option(help="Demo scans per second posted to the gate (0: no demo)")
    ] = 10.0,
    keep_infra: Annotated[
        bool, typer.Option(help="Leave Kafka and PostgreSQL running after Ctrl-C")
    ] = False,
    replicas: Annotated[
        str,
        typer.Option(
            help="Processes per service behind a balancer on its port, e.g. gate=2,projector=2"
        ),
    ] = "",
    brokers: Annotated[
        int,
        typer.Option(min=1, max=9, help="Apache Kafka nodes; 3 gives replication 3 and min ISR 2"),
    ] = 1,
    state_dir: StateDirOption = None,
) -> None:
    """Start Kafka, PostgreSQL and every service, feed a demo district, print the URLs;
    Ctrl-C stops everything."""
    import asyncio
    import signal

    from cordon_devenv.system import SERVICES, RunningSystem, parse_replicas, run_until_interrupted

    try:
        counts = parse_replicas(replicas)
    except ValueError as exc:
        raise typer.BadParameter(str(exc), param_hint="--replicas") from exc

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    logging.getLogger("httpx").setLevel(logging.WARNING)  # one line per demo scan otherwise
    state = _state_dir(state_dir)
    try:
        infra = start_infrastructure(state, broker=broker.value, brokers=brokers)
    except InfraError as exc:
        typer.secho(f"cordon up failed: {exc}", fg=typer.colors.RED, err=True)
        raise typer.Exit(1) from exc
    if infra.broker_kind == "tansu":
        typer.secho(f"WARNING: {tansu.CAVEATS}", fg=typer.colors.YELLOW, bold=True, err=True)
    log_dir = state / "logs"
    log_dir.mkdir(parents=True, exist_ok=True)
    system = RunningSystem(infra, log_dir, counts)
    try:
        for spec in SERVICES:
            times = counts.get(spec.name, 1)
            typer.echo(f"starting {spec.name}{f' ({times} replicas)' if times > 1 else ''} ...")
            system.start(spec)
        typer.secho("\nCordon is running.", bold=True)
        typer.echo(f"  dashboard:  {system.url('projector')}/?token=dev-district-token")
        for spec in SERVICES:
            typer.echo(f"  {spec.name + ':':<11} {system.url(spec.name)}/docs   (API docs)")
        typer.echo(f"  kafka:      {infra.kafka_bootstrap} ({infra.broker_kind})")
        typer.echo(f"  postgres:   {infra.database_url}")
        typer.echo(f"  logs:       {log_dir}")
        typer.echo("Press Ctrl-C to stop everything.")
        asyncio.run(run_until_interrupted(system, demo_rate=demo_rate))
    except RuntimeError as exc:
        typer.secho(f"cordon up failed: {exc}", fg=typer.colors.RED, err=True)
        raise typer.Exit(1) from exc
    finally:
        signal.signal(signal.SIGINT, signal.SIG_IGN)  # a second Ctrl-C must not cut the shutdown
        typer.echo("stopping services ...")
        system.stop()
        if not keep_infra:
            stop_infrastructure(state)
        typer.echo("stopped")


@system_app.command("doctor")
def system_doctor() -> None:
    """Say, one line per tool, what this machine has for `./cordon up` and `./cordon test`,
    and what happens for each one that is missing (exit 1 if something blocks)."""
    from cordon_devenv.doctor import report, run_checks

    checks = run_checks()
    typer.echo(report(checks))
    if any(check.blocking for check in checks):
        raise typer.Exit(1)

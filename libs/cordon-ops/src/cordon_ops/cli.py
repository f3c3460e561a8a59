"""``cordon reconcile``: after an incident, count the gate's events at every stage and list
any that went missing or were counted twice (exit status 1 when there is one)."""

from __future__ import annotations

import asyncio
import json
import os
import re
from datetime import datetime, timedelta
from typing import Annotated
from zoneinfo import ZoneInfo

import asyncpg
import typer
from aiokafka.errors import KafkaError

from cordon_core.kafka import Topics
from cordon_core.settings import ServiceSettings
from cordon_ops.ledger import Report, gate_read_models, reconcile
from cordon_ops.sources import Places, TopicUnreadable, observe

_AGO = re.compile(r"^(\d+)([smhd])$")
_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days"}


def parse_moment(text: str, timezone: ZoneInfo, now: datetime) -> datetime:
    """ISO 8601 (local to ``timezone`` without an offset), ``now``, or an age: ``90m``, ``2h``."""
    if text == "now":
        return now
    if ago := _AGO.match(text):
        return now - timedelta(**{_UNITS[ago.group(2)]: int(ago.group(1))})
    try:
        moment = datetime.fromisoformat(text)
    except ValueError as error:
        raise typer.BadParameter(f"{text!r}: ISO 8601, 'now', or an age like 90m or 2h") from error
    return moment if moment.tzinfo else moment.replace(tzinfo=timezone)


def reconcile_command(
    since: Annotated[
        str, typer.Option(help="Start of the period (recorded at): ISO 8601, or an age: 2h")
    ],
    until: Annotated[str, typer.Option(help="End of the period (excluded)")] = "now",
    database_url: Annotated[
        str | None, typer.Option(help="PostgreSQL of the services (env CORDON_DATABASE_URL)")
    ] = None,
    gate_database_url: Annotated[
        str | None, typer.Option(help="The gate's, when it has its own (default: --database-url)")
    ] = None,
    projector_database_url: Annotated[
        str | None,
        typer.Option(help="The projector's, when it has its own (default: --database-url)"),
    ] = None,
    bootstrap: Annotated[
        str | None, typer.Option(help="Kafka bootstrap servers (env CORDON_KAFKA_BOOTSTRAP)")
    ] = None,
    topic_prefix: Annotated[
        str | None, typer.Option(help="Topic prefix (env CORDON_TOPIC_PREFIX)")
    ] = None,
    timezone: Annotated[
        str | None,
        typer.Option(help="The projector's CORDON_TIMEZONE (its days) (env CORDON_TIMEZONE)"),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the report as JSON")] = False,
) -> None:
    """Count the gate's events recorded in a period at every stage (accepted by the gate,
    published to Kafka, applied by each projection, shown in the read models); list every
    event missing downstream and every counter that is short or counted twice. Exit status:
    0 when everything adds up, 1 when something is listed, 2 when a store or the topic
    cannot be read."""
    settings = ServiceSettings()
    zone = ZoneInfo(timezone or os.environ.get("CORDON_TIMEZONE", "Asia/Shanghai"))
    now = datetime.now(zone)
    start, end = parse_moment(since, zone, now), parse_moment(until, zone, now)
    if start >= end:
        raise typer.BadParameter(f"--since {start.isoformat()} is not before --until")
    database = database_url or settings.database_url
    places = Places(
        gate_database_url=gate_database_url or database,
        projector_database_url=projector_database_url or database,
        bootstrap=bootstrap or settings.kafka_bootstrap,
        topic=Topics(topic_prefix or settings.topic_prefix).events("gate"),
    )
    models = gate_read_models(zone)
    try:
        observed = asyncio.run(observe(places, start, end, models))
    except (OSError, asyncpg.PostgresError, KafkaError, TopicUnreadable) as error:
        typer.secho(f"cannot reconcile: {type(error).__name__}: {error}", fg="red", err=True)
        raise typer.Exit(2) from error
    report = reconcile(start, end, places.topic, models, observed)
    if as_json:
        typer.echo(json.dumps(report.as_json(), indent=1))
    else:
        print_report(report)
    if not report.clean:
        raise typer.Exit(1)


def print_report(report: Report) -> None:
    typer.echo(
        f"Gate events recorded from {report.since.isoformat()} to {report.until.isoformat()}"
    )
    for stage in report.stages:
        mark = "ok " if stage.count == stage.of else "!! "
        typer.echo(f"  {mark}{stage.name:<52} {stage.count:>9} of {stage.of}")
    if report.republished:
        typer.echo(
            f"  {report.republished} record(s) were published more than once: harmless, "
            "every consumer skips an event id it has applied"
        )
    if report.clean:
        typer.secho("Nothing lost, nothing counted twice.", fg=typer.colors.GREEN, bold=True)
        return
    typer.secho(f"{len(report.findings)} finding(s):", fg=typer.colors.RED, bold=True)
    for finding in report.findings:
        typer.echo(f"  - {finding.describe()}")


reconcile_app = typer.Typer(add_completion=False)
reconcile_app.command(help=reconcile_command.__doc__)(reconcile_command)

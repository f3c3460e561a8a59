"""``cordon-topics``: renders Cordon's topic catalogue (``cordon_contracts.topics``) as
deploy/kafka/topics.yaml and provisions a cluster with it.

    cordon-topics render > deploy/kafka/topics.yaml      # the catalogue (a test checks drift)
    cordon-topics apply --bootstrap HOST:PORT --prefix cordon \\
        [--replication-factor 3] [--min-insync-replicas 2] [--file topics.yaml] [--dry-run]

``apply`` is idempotent: it creates missing topics with their configs, raises partition counts
that are too low (never lowers one), aligns the managed configs, prints what it changed, and
on a second run changes nothing. See deploy/kafka/README.md.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated

import typer
import yaml
from aiokafka.admin import AIOKafkaAdminClient, NewPartitions, NewTopic
from aiokafka.admin.config_resource import ConfigResource, ConfigResourceType

from cordon_contracts.topics import (
    BROKER_SETTINGS,
    CONSUMER_SETTINGS,
    MIN_INSYNC_REPLICAS,
    PRODUCER_SETTINGS,
    REPLICATION_FACTOR,
    Catalogue,
    TopicSpec,
    catalogue,
)

YAML_HEADER = """\
# Cordon's Kafka topics and production settings (see README.md beside this file).
# Generated from cordon_contracts.topics by `uv run cordon-topics render` (cordon_ops.topics);
# a test fails when this file and the code differ. Provision a cluster with
#   uv run cordon-topics apply --bootstrap HOST:9092 --prefix cordon
# (or pass --file with an edited copy of this file, e.g. more partitions).
# "{prefix}" is CORDON_TOPIC_PREFIX. min.insync.replicas is added to every topic's configs.
"""


def render(cat: Catalogue | None = None) -> str:
    cat = cat or catalogue()
    document = {
        "naming": {
            "events": "{prefix}.<service>.events",
            "ingest": "{prefix}.gate.scans",
            "dead-letter": "{prefix}.dlq.<consumer>",
        },
        "replication_factor": cat.replication_factor,
        "min_insync_replicas": cat.min_insync_replicas,
        "producer": dict(PRODUCER_SETTINGS),
        "consumer": dict(CONSUMER_SETTINGS),
        "broker": dict(BROKER_SETTINGS),
        "compaction": "No Cordon topic is compacted. Compaction keeps the last record per "
        "key, which is right for a topic that carries current state (a changelog, a "
        "'person status' snapshot) and wrong for a log of events that is replayed. Should "
        "Cordon ever publish a state topic, that one would be cleanup.policy=compact.",
        "topics": [t.as_dict() for t in cat.topics],
    }
    body = yaml.safe_dump(document, sort_keys=False, allow_unicode=True, width=92)
    return YAML_HEADER + body


def load(path: Path) -> Catalogue:
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    return Catalogue(
        topics=tuple(TopicSpec.from_dict(t) for t in data["topics"]),
        replication_factor=int(data.get("replication_factor", REPLICATION_FACTOR)),
        min_insync_replicas=int(data.get("min_insync_replicas", MIN_INSYNC_REPLICAS)),
    )


@dataclass
class Plan:
    """What ``apply`` did (or, with ``dry_run``, would do), one line per change."""

    created: list[str] = field(default_factory=list)
    repartitioned: list[str] = field(default_factory=list)
    reconfigured: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    lines: list[str] = field(default_factory=list)

    @property
    def changed(self) -> bool:
        return bool(self.created or self.repartitioned or self.reconfigured)


DYNAMIC_TOPIC_CONFIG = 1
"""DescribeConfigs config_source of a value set on the topic itself."""
TOPIC_ALREADY_EXISTS = 36


async def apply(
    bootstrap: str,
    prefix: str,
    cat: Catalogue,
    *,
    replication_factor: int | None = None,
    min_insync_replicas: int | None = None,
    dry_run: bool = False,
    echo: Callable[[str], None] = print,
) -> Plan:
    """Provision ``cat`` under ``prefix`` on the cluster at ``bootstrap``, idempotently."""
    rf = replication_factor or cat.replication_factor
    isr = min_insync_replicas or cat.min_insync_replicas
    wanted = {
        t.name(prefix): (t, {**t.configs, "min.insync.replicas": str(isr)}) for t in cat.topics
    }
    plan = Plan()

    def say(action: str, topic: str, detail: str = "") -> None:
        line = f"{action:<12} {topic}" + (f"  {detail}" if detail else "")
        plan.lines.append(line)
        echo(line)

    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        existing_names = set(await admin.list_topics()) & set(wanted)
        missing = [name for name in wanted if name not in existing_names]
        if missing and not dry_run:
            response = await admin.create_topics(
                [
                    NewTopic(
                        name,
                        num_partitions=wanted[name][0].partitions,
                        replication_factor=rf,
                        topic_configs=wanted[name][1],
                    )
                    for name in missing
                ]
            )
            failed = [
                f"{topic}: error {code} {message or ''}".strip()
                for topic, code, message in response.topic_errors
                if code not in (0, TOPIC_ALREADY_EXISTS)
            ]
            if failed:
                raise RuntimeError("could not create topics: " + "; ".join(failed))
        for name in missing:
            spec, configs = wanted[name]
            plan.created.append(name)
            settings = " ".join(f"{k}={v}" for k, v in sorted(configs.items()))
            say("create", name, f"partitions={spec.partitions} replication={rf} {settings}")

        present = sorted(existing_names)
        metadata = {t["topic"]: t for t in await admin.describe_topics(present)} if present else {}
        described = await _describe(admin, present)
        increases: dict[str, NewPartitions] = {}
        alterations: list[ConfigResource] = []
        for name in present:
            spec, configs = wanted[name]
            partitions = metadata[name]["partitions"]
            count = len(partitions)
            if count < spec.partitions:
                increases[name] = NewPartitions(spec.partitions)
                plan.repartitioned.append(name)
                say(
                    "partitions",
                    name,
                    f"{count} -> {spec.partitions} (existing keys may move to another "
                    "partition: order per key holds only for events written after this)",
                )
            elif count > spec.partitions:
                plan.warnings.append(f"{name} keeps {count} partitions (never lowered)")
            replicas = min((len(p["replicas"]) for p in partitions), default=rf)
            if replicas < rf:
                plan.warnings.append(
                    f"{name} has replication factor {replicas}, not {rf}: "
                    "reassign its partitions (kafka-reassign-partitions.sh)"
                )
            current, own = described[name]
            # Pinned on the topic itself, not merely inherited: a changed broker default
            # must not change a topic's retention.
            drift = {k: v for k, v in configs.items() if own.get(k) != v}
            if drift:
                plan.reconfigured.append(name)
                for key, value in sorted(drift.items()):
                    was = own.get(key) or f"{current.get(key)} (inherited)"
                    say("config", name, f"{key}: {was} -> {value}")
                # AlterConfigs replaces the topic's whole dynamic config: keep the values
                # set on the topic that we do not manage.
                alterations.append(
                    ConfigResource(ConfigResourceType.TOPIC, name, {**own, **configs})
                )
            if name not in increases and not drift:
                plan.unchanged.append(name)
                say("unchanged", name)
        if not dry_run:
            if increases:
                await admin.create_partitions(increases)
            if alterations:
                for response in await admin.alter_configs(alterations):
                    for resource in response.to_object()["resources"]:
                        if resource["error_code"]:
                            raise RuntimeError(
                                f"could not alter {resource['resource_name']}: "
                                f"error {resource['error_code']} {resource['error_message']}"
                            )
            if plan.changed:
                await _settle(admin, {n: wanted[n] for n in plan.created + present})
    finally:
        await admin.close()
    for warning in plan.warnings:
        echo(f"warning: {warning}")
    summary = (
        f"{len(plan.created)} created, {len(plan.repartitioned)} repartitioned, "
        f"{len(plan.reconfigured)} reconfigured, {len(plan.unchanged)} unchanged"
    )
    if not plan.changed:
        summary += ": nothing to change"
    elif dry_run:
        summary += " (dry run: nothing was changed)"
    echo(summary)
    return plan


async def _settle(
    admin: AIOKafkaAdminClient,
    wanted: Mapping[str, tuple[TopicSpec, Mapping[str, str]]],
    timeout: float = 30.0,
) -> None:
    """Wait until the cluster's metadata shows the changes (brokers apply them a moment after
    acknowledging), so that what runs next, a second ``apply`` included, sees them."""
    names = sorted(wanted)
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        try:
            if set(names) <= set(await admin.list_topics()):
                topics = await admin.describe_topics(names)
                counts = {t["topic"]: len(t["partitions"]) for t in topics}
                described = await _describe(admin, names)
                if all(
                    counts.get(name, 0) >= spec.partitions
                    and all(described[name][1].get(k) == v for k, v in configs.items())
                    for name, (spec, configs) in wanted.items()
                ):
                    return
        except RuntimeError:
            pass  # a topic created a moment ago may not be describable yet
        if asyncio.get_running_loop().time() > deadline:
            raise RuntimeError(f"the cluster did not show the changes within {timeout:.0f} s")
        await asyncio.sleep(0.2)


async def _describe(
    admin: AIOKafkaAdminClient, names: Iterable[str]
) -> dict[str, tuple[dict[str, str], dict[str, str]]]:
    """topic -> (every config value, the values set on the topic itself)."""
    resources = [ConfigResource(ConfigResourceType.TOPIC, name) for name in names]
    if not resources:
        return {}
    out: dict[str, tuple[dict[str, str], dict[str, str]]] = {}
    for response in await admin.describe_configs(resources):
        for resource in response.to_object()["resources"]:
            if resource["error_code"]:
                raise RuntimeError(
                    f"could not describe {resource['resource_name']}: "
                    f"error {resource['error_code']} {resource['error_message']}"
                )
            values: dict[str, str] = {}
            own: dict[str, str] = {}
            for entry in resource["config_entries"]:
                values[entry["config_names"]] = entry["config_value"]
                if entry.get("config_source") == DYNAMIC_TOPIC_CONFIG:
                    own[entry["config_names"]] = entry["config_value"]
            out[resource["resource_name"]] = (values, own)
    return out


app = typer.Typer(help="Cordon's Kafka topics.", no_args_is_help=True)


@app.command("apply")
def apply_command(
    bootstrap: Annotated[str, typer.Option(help="Kafka bootstrap servers, host:port[,...]")],
    prefix: Annotated[str, typer.Option(help="The deployment's CORDON_TOPIC_PREFIX.")] = "cordon",
    replication_factor: Annotated[
        int | None,
        typer.Option(min=1, help=f"For new topics (default {REPLICATION_FACTOR})."),
    ] = None,
    min_insync_replicas: Annotated[
        int | None,
        typer.Option(min=1, help=f"Topic config (default {MIN_INSYNC_REPLICAS})."),
    ] = None,
    file: Annotated[
        Path | None,
        typer.Option(help="A topics.yaml to apply instead of the built-in catalogue."),
    ] = None,
    dry_run: Annotated[bool, typer.Option(help="Print the changes, make none.")] = False,
) -> None:
    """Create missing topics, raise too-low partition counts, align configs."""
    cat = load(file) if file else catalogue()
    asyncio.run(
        apply(
            bootstrap,
            prefix,
            cat,
            replication_factor=replication_factor,
            min_insync_replicas=min_insync_replicas,
            dry_run=dry_run,
            echo=typer.echo,
        )
    )


@app.command("render")
def render_command() -> None:
    """Print the catalogue as YAML (deploy/kafka/topics.yaml)."""
    typer.echo(render(), nl=False)


if __name__ == "__main__":
    app()

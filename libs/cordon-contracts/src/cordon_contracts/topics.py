"""Cordon's Kafka topics: names, keys, partitions, retention and production settings, and
``cordon-topics``, which provisions them on a cluster.

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
from typing import Annotated, Any

import typer
import yaml
from aiokafka.admin import AIOKafkaAdminClient, NewPartitions, NewTopic
from aiokafka.admin.config_resource import ConfigResource, ConfigResourceType

from cordon_contracts.schemas import REGISTRIES

HOUR_MS = 3_600_000
DAY_MS = 24 * HOUR_MS

REPLICATION_FACTOR = 3
MIN_INSYNC_REPLICAS = 2
"""Production: a write is acknowledged (acks=all) once 2 of 3 replicas have it, so one broker
can fail or be restarted without losing an acknowledged event or stopping producers."""

EVENTS_RETENTION = (
    "Kept forever (retention.ms=-1, retention.bytes=-1) and never compacted "
    "(cleanup.policy=delete): the topic is the log of facts that projections are rebuilt "
    "and new consumers are bootstrapped from, by replaying it from offset 0. Compaction would "
    "keep only the last event per key (the last scan of a checkpoint, the last event of a "
    "person) and silently destroy that history. No personal data travels here, only "
    "pseudonymous ids, which is what makes keeping it forever acceptable."
)
EVENTS_CONFIGS: Mapping[str, str] = {
    "cleanup.policy": "delete",
    "retention.ms": "-1",
    "retention.bytes": "-1",
    "unclean.leader.election.enable": "false",
}
SCANS_RETENTION = (
    "Short (48 h, delete): an ingest buffer between device gateways and the gate, which "
    "decides each scan within seconds; 48 h rides out a gate outage over a night and a day. "
    "Raw scans can carry a visitor's document number, name and phone in clear, so they must "
    "not be kept: the decided outcomes (with pseudonymous ids) are on <prefix>.gate.events."
)
DLQ_RETENTION = (
    "30 days (delete): long enough for an operator to inspect a set-aside record and "
    "replay it after a fix; the original event stays on its events topic anyway. Never "
    "compacted: every dead letter matters, not the last one per key."
)

DEFAULT_EVENT_PARTITIONS = 6
EVENT_TOPICS: Mapping[str, tuple[int, str]] = {
    "gate": (
        12,
        "The aggregate's partition key (also the ce_partitionkey header): the checkpoint id "
        "for scan outcomes (PersonEntered, PersonExited, EntryDenied, ExitDenied, "
        "FeverDetected, VisitorRegistered, ScanRejected) and for checkpoint and device "
        "events; the pass id for PassIssued, PassUsed, PassRevoked and PassReissued; the "
        "person id for PersonBarred, PersonBarLifted and PersonExitQuotaAssigned; the "
        "community id for GatePolicyPublished.",
    ),
    "registry": (
        6,
        "The aggregate's partition key (also the ce_partitionkey header): the person id for "
        "resident events, the place id for place and staff events, the household id for "
        "screening visits, the round id for screening rounds.",
    ),
    "isolation": (
        6,
        "The person id (also the ce_partitionkey header): one person's orders and test "
        "results stay in order.",
    ),
    "notification": (
        6,
        "The recipient id (also the ce_partitionkey header): a pseudonymous person, staff "
        "or office id.",
    ),
}
"""Partitions and key of each publishing service's events topic; a service in REGISTRIES
but not here gets DEFAULT_EVENT_PARTITIONS and a generic key description."""

CONSUMER_GROUPS: Mapping[str, tuple[str, tuple[str, ...]]] = {
    "gate-person-status": (
        "gate: people's residence, isolation and test status",
        ("registry.events", "isolation.events"),
    ),
    "gate-scan-feed": ("gate: raw scans from device gateways", ("gate.scans",)),
    "gate-traffic": ("projector: the daily gate traffic read model", ("gate.events",)),
    "isolation-households": ("isolation: households and their residents", ("registry.events",)),
    "isolation-policy": (
        "isolation: orders decided from results, travel, fevers",
        ("registry.events", "gate.events", "isolation.events"),
    ),
    "notification-dispatch": (
        "notification: messages to send about other services' events",
        ("registry.events", "gate.events", "isolation.events"),
    ),
}
"""Cordon's consumer groups: what each is for and the topics (without prefix) it reads; each
has a dead-letter topic <prefix>.dlq.<consumer>. Add a group here when a service subscribes."""


def consumers_of(topic: str) -> tuple[str, ...]:
    return tuple(group for group, (_, topics) in CONSUMER_GROUPS.items() if topic in topics)


PRODUCER_SETTINGS: Mapping[str, str] = {
    "acks": "all",
    "enable.idempotence": "true",
    "max.in.flight.requests.per.connection": "5",
    "retries": "2147483647",
    # A paused or restarting broker (30-60 s) must delay a send, not fail it: each request
    # may time out and be retried until the delivery timeout, which outlasts such a pause.
    "request.timeout.ms": "30000",
    "delivery.timeout.ms": "300000",
}
CONSUMER_SETTINGS: Mapping[str, str] = {
    "enable.auto.commit": "false",
    "auto.offset.reset": "earliest",
    "isolation.level": "read_uncommitted",
}
BROKER_SETTINGS: Mapping[str, str] = {
    "auto.create.topics.enable": "false",
    "default.replication.factor": "3",
    "min.insync.replicas": "2",
    "unclean.leader.election.enable": "false",
    "offsets.topic.replication.factor": "3",
    "transaction.state.log.replication.factor": "3",
    "transaction.state.log.min.isr": "2",
}


@dataclass(frozen=True)
class TopicSpec:
    """One topic of the catalogue; ``address`` contains ``{prefix}``."""

    address: str
    kind: str
    """events (published by a service), ingest (produced by devices) or dead-letter."""
    partitions: int
    key: str
    description: str
    retention: str
    configs: Mapping[str, str]
    producers: tuple[str, ...] = ()
    consumers: tuple[str, ...] = ()

    def name(self, prefix: str) -> str:
        return self.address.replace("{prefix}", prefix)

    def as_dict(self) -> dict[str, Any]:
        return {
            "address": self.address,
            "kind": self.kind,
            "partitions": self.partitions,
            "key": self.key,
            "description": self.description,
            "producers": list(self.producers),
            "consumers": list(self.consumers),
            "configs": dict(self.configs),
            "retention": self.retention,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> TopicSpec:
        return cls(
            address=str(data["address"]),
            kind=str(data.get("kind", "events")),
            partitions=int(data["partitions"]),
            key=str(data.get("key", "")),
            description=str(data.get("description", "")),
            retention=str(data.get("retention", "")),
            configs={str(k): str(v) for k, v in (data.get("configs") or {}).items()},
            producers=tuple(data.get("producers") or ()),
            consumers=tuple(data.get("consumers") or ()),
        )


@dataclass(frozen=True)
class Catalogue:
    topics: tuple[TopicSpec, ...]
    replication_factor: int = REPLICATION_FACTOR
    min_insync_replicas: int = MIN_INSYNC_REPLICAS


def events_topic(service: str) -> TopicSpec:
    partitions, key = EVENT_TOPICS.get(
        service,
        (
            DEFAULT_EVENT_PARTITIONS,
            "The aggregate's partition key (also the ce_partitionkey header), so one "
            "aggregate's events stay in order on one partition.",
        ),
    )
    return TopicSpec(
        address=f"{{prefix}}.{service}.events",
        kind="events",
        partitions=partitions,
        key=key,
        description=f"Every public event of the {service} service, as CloudEvents 1.0 "
        "(binary mode: ce_* headers, JSON payload).",
        retention=EVENTS_RETENTION,
        configs=EVENTS_CONFIGS,
        producers=(service,),
        consumers=consumers_of(f"{service}.events"),
    )


def catalogue() -> Catalogue:
    """Every topic of a Cordon deployment: one events topic per publishing service (from
    ``REGISTRIES``), the gate's raw scan feed, and the dead-letter topics."""
    topics = [events_topic(service) for service in REGISTRIES]
    topics.append(
        TopicSpec(
            address="{prefix}.gate.scans",
            kind="ingest",
            partitions=12,
            key="The checkpoint id, so one checkpoint's scans are decided in order.",
            description="Raw scans from checkpoint device gateways (JSON, no CloudEvents "
            "headers; see docs/gate.md), decided by the gate. Not for data platforms.",
            retention=SCANS_RETENTION,
            configs={
                "cleanup.policy": "delete",
                "retention.ms": str(48 * HOUR_MS),
                "unclean.leader.election.enable": "false",
            },
            producers=("device gateways",),
            consumers=consumers_of("gate.scans"),
        )
    )
    for consumer, (what, _) in CONSUMER_GROUPS.items():
        topics.append(
            TopicSpec(
                address=f"{{prefix}}.dlq.{consumer}",
                kind="dead-letter",
                partitions=1,
                key="The original record's key.",
                description=f"Records the {consumer} consumer ({what}) set aside after its "
                "retries, with the original headers plus cordon_dlq_* headers.",
                retention=DLQ_RETENTION,
                configs={
                    "cleanup.policy": "delete",
                    "retention.ms": str(30 * DAY_MS),
                    "unclean.leader.election.enable": "false",
                },
                producers=(consumer,),
            )
        )
    return Catalogue(tuple(topics))


YAML_HEADER = """\
# Cordon's Kafka topics and production settings (see README.md beside this file).
# Generated from cordon_contracts.topics by `uv run cordon-topics render`; a test fails when
# this file and the code differ. Provision a cluster with
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

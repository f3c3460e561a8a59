"""Cordon's Kafka topics: names, keys, partitions, retention, production settings and the
consumer groups that read them. Data only: ``cordon-topics`` (cordon-ops) renders it as
deploy/kafka/topics.yaml and provisions a cluster with it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from cordon_contracts.consumer_groups import CONSUMER_GROUPS
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

GROUP_PURPOSES: Mapping[str, str] = {
    "gate-person-status": "people's residence, isolation and test status",
    "gate-scan-feed": "raw scans from device gateways",
    "gate-staff-access": "the registry's staff tokens (hashes), for the office routes",
    "isolation-households": "households and their residents",
    "isolation-passages": "who passed which checkpoint when (close-contact candidates)",
    "isolation-policy": "orders decided from results, travel, fevers",
    "isolation-staff-access": "the registry's staff tokens (hashes), for the staff routes",
    "notification-dispatch": "messages to send about other services' events",
    "projection-gate-traffic": "the daily gate traffic read model",
    "projection-isolation-ledger": "the isolation ledger read model (orders and their levels)",
    "projection-live-gates": "the live gates read model (passages per checkpoint and minute)",
    "projection-places": "the places read model (the district's hierarchy and names)",
    "projection-residents": "the residents read model (homes and vaccine doses)",
    "projection-screening-coverage": "the screening coverage read model",
    "projection-test-results": "the lab results read model (each sample's current result)",
}
"""What each consumer group is for. The groups themselves and the topics they read are
generated from the services' subscriptions (``cordon_contracts.consumer_groups``); a test
fails when a group has no purpose here, or a purpose no group."""


def group_purpose(group: str) -> str:
    service = CONSUMER_GROUPS[group][0]
    return f"{service}: {GROUP_PURPOSES.get(group, 'consumer group ' + group)}"


def consumers_of(topic: str) -> tuple[str, ...]:
    return tuple(group for group, (_, topics) in sorted(CONSUMER_GROUPS.items()) if topic in topics)


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
    for consumer in sorted(CONSUMER_GROUPS):
        what = group_purpose(consumer)
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

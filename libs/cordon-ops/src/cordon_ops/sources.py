"""Reading the facts a reconciliation compares: the gate's event store, the gate's topic,
and the projector's inbox and read models (``ledger.py`` does the counting)."""

from __future__ import annotations

import time
import uuid
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import asyncpg
from aiokafka import AIOKafkaConsumer

from cordon_core.cloudevents import header
from cordon_core.kafka import topic_partitions
from cordon_core.migrations import checked_identifier
from cordon_ops.ledger import Bucket, GateEvent, Observed, ReadModel

READ_MODEL_TABLES = {
    "gate-traffic": ("gate_traffic_daily", ("community_id", "day")),
    "live-gates": ("gate_minute", ("community_id", "minute", "checkpoint_id")),
}
"""Each projection's counter table and the columns of its bucket key."""

TOPIC_SLACK = timedelta(minutes=5)
"""How far before ``since`` the topic is read: a record's timestamp is when the relay
produced it, after its event was recorded, so this is only for clocks that disagree."""

STALLED_S = 60.0
"""Reading the topic gives up when no record arrives for this long (the broker is away)."""


class TopicUnreadable(RuntimeError):
    """The topic could not be read to its end offsets."""


_EVENT_COLUMNS = """event_id, event_type, payload->>'community_id' AS community_id,
    payload->>'checkpoint_id' AS checkpoint_id,
    coalesce(payload->>'scanned_at', payload->>'registered_at')::timestamptz AS at"""


@dataclass(frozen=True)
class Places:
    """Where each stage lives."""

    gate_database_url: str
    projector_database_url: str
    bootstrap: str
    topic: str
    gate_schema: str = "gate"
    projector_schema: str = "projector"


async def observe(
    places: Places, since: datetime, until: datetime, read_models: Sequence[ReadModel]
) -> Observed:
    types = sorted({t for m in read_models for t in m.event_types})
    gate = await asyncpg.connect(places.gate_database_url)
    try:
        accepted = await accepted_events(gate, places.gate_schema, since, until, types)
        buckets = {m.projection: {m.bucket(e) for e in accepted if e.event_type in m.columns}
                   for m in read_models}  # fmt: skip
        bucket_events = {
            m.projection: await events_in_buckets(
                gate, places.gate_schema, m, buckets[m.projection]
            )
            for m in read_models
        }
    finally:
        await gate.close()
    on_topic = await count_on_topic(
        places.bootstrap, places.topic, since - TOPIC_SLACK, {e.event_id for e in accepted}
    )
    projector = await asyncpg.connect(places.projector_database_url)
    try:
        # Inbox rows and counters are written in one transaction: read them in one snapshot.
        async with projector.transaction(isolation="repeatable_read", readonly=True):
            inbox = {}
            shown = {}
            for model in read_models:
                ids = {e.event_id for e in accepted} | {
                    e.event_id for e in bucket_events[model.projection]
                }
                inbox[model.projection] = await inbox_outcomes(
                    projector, places.projector_schema, model.projection, ids
                )
                shown[model.projection] = await counters(
                    projector, places.projector_schema, model, buckets[model.projection]
                )
    finally:
        await projector.close()
    return Observed(accepted, on_topic, inbox, bucket_events, shown)


def _gate_event(row: asyncpg.Record) -> GateEvent:
    return GateEvent(
        row["event_id"], row["event_type"], row["community_id"], row["checkpoint_id"], row["at"]
    )


async def accepted_events(
    conn: asyncpg.Connection, schema: str, since: datetime, until: datetime, types: list[str]
) -> list[GateEvent]:
    rows = await conn.fetch(
        f"""SELECT {_EVENT_COLUMNS} FROM {checked_identifier(schema)}.events
            WHERE recorded_at >= $1 AND recorded_at < $2 AND event_type = ANY($3::text[])
            ORDER BY global_position""",
        since,
        until,
        types,
    )
    return [_gate_event(r) for r in rows]


async def events_in_buckets(
    conn: asyncpg.Connection, schema: str, model: ReadModel, buckets: set[Bucket]
) -> list[GateEvent]:
    """Every stored event of ``model``'s types that falls in one of ``buckets``, whenever it
    was recorded (a late scan counts in the day or minute it happened)."""
    if not buckets:
        return []
    communities = sorted({b[0] for b in buckets})
    rows = await conn.fetch(
        f"""SELECT {_EVENT_COLUMNS} FROM {checked_identifier(schema)}.events
            WHERE event_type = ANY($1::text[]) AND payload->>'community_id' = ANY($2::text[])""",
        list(model.event_types),
        communities,
    )
    return [e for e in map(_gate_event, rows) if model.bucket(e) in buckets]


async def inbox_outcomes(
    conn: asyncpg.Connection, schema: str, projection: str, ids: Iterable[uuid.UUID]
) -> dict[uuid.UUID, str]:
    rows = await conn.fetch(
        f"""SELECT event_id, outcome FROM {checked_identifier(schema)}.inbox
            WHERE consumer = $1 AND event_id = ANY($2::uuid[])""",
        f"projection-{projection}",  # cordon_core.projection.consumer_name
        list(ids),
    )
    return {r["event_id"]: r["outcome"] for r in rows}


async def counters(
    conn: asyncpg.Connection, schema: str, model: ReadModel, buckets: set[Bucket]
) -> dict[Bucket, dict[str, int]]:
    table, keys = READ_MODEL_TABLES[model.projection]
    columns = sorted(set(model.columns.values()))
    rows = await conn.fetch(
        f"SELECT {', '.join(keys)}, {', '.join(columns)}"
        f" FROM {checked_identifier(schema)}.{table}"
        f" WHERE community_id = ANY($1::text[])",
        sorted({b[0] for b in buckets}),
    )
    shown: dict[Bucket, dict[str, int]] = {}
    for row in rows:
        bucket = _bucket_of(model, [row[k] for k in keys])
        if bucket in buckets:
            shown[bucket] = {c: row[c] for c in columns}
    return shown


def _bucket_of(model: ReadModel, values: list[object]) -> Bucket:
    """A read-model row's key in the text form ``ReadModel.bucket`` gives."""
    if model.per_minute:
        community, minute, checkpoint = values
        assert isinstance(minute, datetime)
        return (str(community), minute.astimezone(UTC).isoformat(), str(checkpoint))
    community, day = values
    return (str(community), str(day))


async def count_on_topic(
    bootstrap: str, topic: str, since: datetime, ids: set[uuid.UUID]
) -> Counter[uuid.UUID]:
    """How many records carry each of ``ids`` as ``ce_id``, from ``since`` to the end offsets
    read at the start (Apache Kafka reports them exactly; Tansu under-reports)."""
    found: Counter[uuid.UUID] = Counter()
    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap, group_id=None, enable_auto_commit=False
    )
    await consumer.start()
    try:
        partitions = await topic_partitions(consumer, [topic])
        if not partitions:
            return found
        consumer.assign(partitions)
        ends = await consumer.end_offsets(partitions)
        starts = await consumer.offsets_for_times(
            {p: int(since.timestamp() * 1000) for p in partitions}
        )
        remaining = set()
        for partition in partitions:
            start = starts.get(partition)
            offset = start.offset if start is not None else ends[partition]
            consumer.seek(partition, offset)
            if offset < ends[partition]:
                remaining.add(partition)
        wanted = {str(i).encode() for i in ids}
        last_progress = time.monotonic()
        while remaining:
            if time.monotonic() - last_progress > STALLED_S:
                raise TopicUnreadable(f"{topic}: no records for {STALLED_S:.0f}s before its end")
            batch = await consumer.getmany(*remaining, timeout_ms=1000, max_records=5000)
            if batch:
                last_progress = time.monotonic()
            for partition, records in batch.items():
                for record in records:
                    if record.offset < ends[partition]:
                        event_id = header(record.headers, "ce_id")
                        if event_id in wanted:
                            found[uuid.UUID(event_id.decode())] += 1
                    if record.offset + 1 >= ends[partition]:
                        remaining.discard(partition)
    finally:
        await consumer.stop()
    return found

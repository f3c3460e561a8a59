#!/usr/bin/env python3
"""Cordon events to Parquet files: a starting point for a data platform.

A plain Kafka consumer (aiokafka; no Cordon code) reads Cordon's event topics, decodes the
CloudEvents 1.0 binary-mode headers and writes Parquet files with pyarrow, partitioned by
event type and day (Hive layout, readable by Spark, Trino, DuckDB, pandas, pyarrow):

    <out>/ce_type=cordon.PersonEntered/day=2022-04-01/part-<topic>-<partition>-<offset>.parquet

Each row is one event: the CloudEvents attributes as columns (ce_id, ce_source, ce_time, ...;
ce_type and day come from the path), where it was read (kafka_topic, kafka_partition,
kafka_offset) and the payload as a JSON string (``data``); flatten it per event type
downstream, with the schemas in schemas/events/.

Resumable: the consumer group's offsets are committed only after the batch's files are
written, so a restarted sink continues where it stopped. A file is named after the topic,
partition and first offset of its rows, so a batch re-read after a crash rewrites the same
files instead of duplicating rows: the output holds every event exactly once.

    pip install aiokafka pyarrow
    python parquet_sink.py --bootstrap 127.0.0.1:19092 --out ./lake \\
        --topics cordon.gate.events,cordon.registry.events,cordon.isolation.events
    python parquet_sink.py --bootstrap ... --out ./lake --pattern '^cordon\\.[^.]+\\.events$'

``--exit-when-idle N`` stops after N seconds without new records (for batch jobs and tests).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import re
import time
from collections import defaultdict
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pyarrow as pa
import pyarrow.parquet as pq
from aiokafka import AIOKafkaConsumer, ConsumerRecord, TopicPartition

log = logging.getLogger("parquet_sink")

TIMESTAMP = pa.timestamp("us", tz="UTC")
SCHEMA = pa.schema(
    [
        ("ce_id", pa.string()),
        ("ce_source", pa.string()),
        ("ce_specversion", pa.string()),
        ("ce_time", TIMESTAMP),
        ("ce_subject", pa.string()),
        ("ce_dataschema", pa.string()),
        ("ce_schemaversion", pa.int32()),
        ("ce_streamversion", pa.int64()),
        ("ce_partitionkey", pa.string()),
        ("ce_recordedtime", TIMESTAMP),
        ("ce_correlationid", pa.string()),
        ("ce_causationid", pa.string()),
        ("ce_actor", pa.string()),
        ("ce_district", pa.string()),
        ("ce_community", pa.string()),
        ("kafka_topic", pa.string()),
        ("kafka_partition", pa.int32()),
        ("kafka_offset", pa.int64()),
        ("data", pa.string()),
    ]
)
"""Columns of every file (ce_type and day are the partition directories)."""


def headers_of(record: ConsumerRecord[bytes, bytes]) -> dict[str, str]:
    return {key: bytes(value).decode() for key, value in record.headers or () if value is not None}


def timestamp(text: str | None) -> datetime | None:
    return datetime.fromisoformat(text).astimezone(UTC) if text else None


def row_of(
    record: ConsumerRecord[bytes, bytes], day_zone: ZoneInfo
) -> tuple[str, str, dict[str, Any]] | None:
    """(ce_type, day, row) for a CloudEvent; None for anything else (it is skipped)."""
    h = headers_of(record)
    if h.get("ce_specversion") != "1.0" or "ce_type" not in h or "ce_time" not in h:
        return None
    occurred = timestamp(h["ce_time"])
    assert occurred is not None
    data = (record.value or b"null").decode()
    json.loads(data)  # a CloudEvent of Cordon's carries a JSON payload; fail loudly if not
    row = {
        "ce_id": h.get("ce_id"),
        "ce_source": h.get("ce_source"),
        "ce_specversion": h.get("ce_specversion"),
        "ce_time": occurred,
        "ce_subject": h.get("ce_subject"),
        "ce_dataschema": h.get("ce_dataschema"),
        "ce_schemaversion": int(h["ce_schemaversion"]) if "ce_schemaversion" in h else None,
        "ce_streamversion": int(h["ce_streamversion"]) if "ce_streamversion" in h else None,
        "ce_partitionkey": h.get("ce_partitionkey"),
        "ce_recordedtime": timestamp(h.get("ce_recordedtime")),
        "ce_correlationid": h.get("ce_correlationid"),
        "ce_causationid": h.get("ce_causationid"),
        "ce_actor": h.get("ce_actor"),
        "ce_district": h.get("ce_district"),
        "ce_community": h.get("ce_community"),
        "kafka_topic": record.topic,
        "kafka_partition": record.partition,
        "kafka_offset": record.offset,
        "data": data,
    }
    return h["ce_type"], occurred.astimezone(day_zone).date().isoformat(), row


def safe(value: str) -> str:
    """A path segment from a ce_type or topic name."""
    return re.sub(r"[^A-Za-z0-9._-]", "_", value)


def write_batch(
    out: Path,
    batch: dict[TopicPartition, list[ConsumerRecord[bytes, bytes]]],
    day_zone: ZoneInfo,
) -> list[Path]:
    """Write one file per (event type, day, topic, partition) of ``batch``; atomically, and
    named after its first offset so that re-reading the same records rewrites the same file."""
    groups: dict[tuple[str, str, str, int], list[dict[str, Any]]] = defaultdict(list)
    skipped = 0
    for tp, records in batch.items():
        for record in records:
            decoded = row_of(record, day_zone)
            if decoded is None:
                skipped += 1
                continue
            ce_type, day, row = decoded
            groups[(ce_type, day, tp.topic, tp.partition)].append(row)
    if skipped:
        log.warning("skipped %d records that are not CloudEvents", skipped)
    written = []
    for (ce_type, day, topic, partition), rows in sorted(groups.items()):
        directory = out / f"ce_type={safe(ce_type)}" / f"day={day}"
        directory.mkdir(parents=True, exist_ok=True)
        first = rows[0]["kafka_offset"]
        path = directory / f"part-{safe(topic)}-{partition:04d}-{first:020d}.parquet"
        temporary = path.with_suffix(".parquet.tmp")
        pq.write_table(pa.Table.from_pylist(rows, schema=SCHEMA), temporary)
        os.replace(temporary, path)
        written.append(path)
    return written


async def run(args: argparse.Namespace) -> int:
    """Consume until stopped (or idle for ``--exit-when-idle`` s); return events written."""
    consumer = AIOKafkaConsumer(
        *(t for t in (args.topics or "").split(",") if t),
        bootstrap_servers=args.bootstrap,
        group_id=args.group,
        client_id="cordon-parquet-sink",
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        max_poll_records=args.batch,
    )
    if args.pattern:
        consumer.subscribe(pattern=args.pattern)
    day_zone = ZoneInfo(args.day_timezone)
    out = Path(args.out)
    total = 0
    await consumer.start()
    try:
        last_record = time.monotonic()
        while True:
            batch = await consumer.getmany(timeout_ms=500, max_records=args.batch)
            if not batch:
                if not consumer.assignment():
                    last_record = time.monotonic()  # still joining the group
                elif args.exit_when_idle and time.monotonic() - last_record > args.exit_when_idle:
                    break
                continue
            last_record = time.monotonic()
            files = write_batch(out, batch, day_zone)
            # Only now that the files exist: a crash before this re-reads the batch.
            await consumer.commit({tp: records[-1].offset + 1 for tp, records in batch.items()})
            count = sum(len(r) for r in batch.values())
            total += count
            log.info("wrote %d records to %d files", count, len(files))
    finally:
        await consumer.stop()
    return total


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--bootstrap", required=True, help="Kafka bootstrap servers")
    which = parser.add_mutually_exclusive_group(required=True)
    which.add_argument("--topics", help="comma-separated topics, e.g. cordon.gate.events")
    which.add_argument("--pattern", help=r"topic regex, e.g. '^cordon\.[^.]+\.events$'")
    parser.add_argument("--out", required=True, help="output directory (the lake)")
    parser.add_argument("--group", default="cordon-parquet-sink", help="consumer group id")
    parser.add_argument("--batch", type=int, default=5000, help="records per batch at most")
    parser.add_argument(
        "--day-timezone", default="UTC", help="time zone of the day partitions (e.g. Asia/Shanghai)"
    )
    parser.add_argument(
        "--exit-when-idle", type=float, default=0, help="stop after this many idle seconds"
    )
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    total = asyncio.run(run(args))
    print(f"{total} events written to {args.out}")


if __name__ == "__main__":
    main()

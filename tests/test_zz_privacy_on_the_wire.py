"""Privacy on the wire: no Kafka record carries a clear resident ID number or phone number.

This file runs last (testpaths are libs, services, tests, and it is the last file of tests/):
it reads every record of every topic on the session's broker, which holds what all the other
tests produced, end-to-end tests included (the gate's visitor test sends an ID number and a
phone in its HTTP request; the registry's tests register residents with them). Keys, values
and header values are searched for

- an 18-digit resident ID number (17 digits and a digit or X) whose MOD 11-2 check digit and
  birth date are valid, and
- a mainland mobile number, 1[3-9] and 9 more digits, optionally +86 and with spaces or
  hyphens, not part of a longer run of digits,

except inside a UUID or a long hexadecimal token (event ids, digests, pseudonymous ids),
where such digit runs occur by chance.
"""

from __future__ import annotations

import re
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

import pytest
from aiokafka import AIOKafkaConsumer, ConsumerRecord

from cordon_contracts.gate import PersonEntered, VisitorRegistered, registry
from cordon_core.kafka import topic_partitions
from cordon_core.runtime import ServiceRuntime
from cordon_core.settings import ServiceSettings
from cordon_devenv.infra import Infrastructure
from cordon_testing.kafka import header, read_topic
from cordon_testing.upstream import Upstream

ID_NUMBER = re.compile(r"(?<![0-9])[0-9]{17}[0-9Xx](?![0-9])")
PHONE = re.compile(r"(?<![0-9])(?:\+?86[ -]?)?1[3-9][0-9](?:[ -]?[0-9]{4}){2}(?![0-9])")
UUID = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")
TOKEN = re.compile(r"[0-9A-Za-z]+")
HEX = frozenset("0123456789abcdefABCDEF")
WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
CHECK_DIGITS = "10X98765432"
MIN_RECORDS_IN_FULL_RUN = 50


def valid_id_number(candidate: str) -> bool:
    """GB 11643: MOD 11-2 check digit, and a real birth date (digits 7-14)."""
    total = sum(int(d) * w for d, w in zip(candidate[:17], WEIGHTS, strict=True))
    if CHECK_DIGITS[total % 11] != candidate[17].upper():
        return False
    try:
        born = date(int(candidate[6:10]), int(candidate[10:12]), int(candidate[12:14]))
    except ValueError:
        return False
    return date(1900, 1, 1) <= born <= date.today()


def _by_chance(text: str, start: int, end: int) -> bool:
    """Inside a UUID or a hexadecimal token of 16+ characters with a letter in it (ids,
    digests, pseudonyms): a run of digits there is chance, not a number someone typed."""
    if any(m.start() <= start and end <= m.end() for m in UUID.finditer(text)):
        return True
    for token in TOKEN.finditer(text):
        if token.start() <= start and end <= token.end():
            word = token.group()
            return (
                len(word) >= 16
                and all(c in HEX for c in word)
                and any(c not in "0123456789" for c in word)
            )
    return False


def personal_data(text: str) -> Iterator[tuple[str, str]]:
    """(kind, masked match) for every clear ID number or phone number in ``text``."""
    for match in ID_NUMBER.finditer(text):
        if valid_id_number(match.group()) and not _by_chance(text, *match.span()):
            yield "ID number", mask(match.group())
    for match in PHONE.finditer(text):
        if not _by_chance(text, *match.span()):
            yield "phone number", mask(match.group())


def mask(found: str) -> str:
    return found[:3] + "*" * (len(found) - 7) + found[-4:]


# --- the detector itself -----------------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        '{"document_number": "11010519491231002X"}',
        "id=11010519491231002x;",
        "440305199003071236",
        '{"phone": "13800138000"}',
        "+8613912345678",
        "call 139 1234 5678 or",
        "tel:186-1234-5678",
        "visitor-13800138000",
    ],
)
def test_the_detector_finds_clear_personal_data(text: str) -> None:
    assert list(personal_data(text))


@pytest.mark.parametrize(
    "text",
    [
        "11010519491231002Y",  # not a check digit
        "110105194912310021",  # wrong check digit
        "110105199913310027",  # no 13th month
        "1101051949123100211",  # 19 digits
        "138001380001",  # 12 digits
        "213800138000",
        "2022-04-01T08:00:00.138001+08:00",
        "f7865927-8a64-41f4-b440-13800138000a",  # a UUID
        "p-13800138000a1b2c3d4",  # a pseudonymous id
        "v-a1b2c3d4440305199003071236",  # a pseudonym with a valid-looking number inside
        "ce_time=1795411495043",
    ],
)
def test_the_detector_ignores_what_only_looks_like_it(text: str) -> None:
    assert list(personal_data(text)) == []


# --- the wire ----------------------------------------------------------------------------


@dataclass
class Finding:
    topic: str
    partition: int
    offset: int
    where: str
    kind: str
    masked: str

    def __str__(self) -> str:
        at = f"{self.topic}[{self.partition}]@{self.offset}"
        return f"{self.kind} {self.masked} in the {self.where} of {at}"


async def scan_broker(bootstrap: str, timeout: float = 120.0) -> tuple[int, int, list[Finding]]:
    """(topics, records, findings) for every record of every non-internal topic."""
    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap,
        group_id=None,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        max_partition_fetch_bytes=4 * 1024 * 1024,
    )
    await consumer.start()
    try:
        topics = sorted(t for t in await consumer.topics() if not t.startswith("__"))
        partitions = await topic_partitions(consumer, topics)
        if not partitions:
            return len(topics), 0, []
        consumer.assign(partitions)
        await consumer.seek_to_beginning(*partitions)
        ends = await consumer.end_offsets(partitions)
        remaining = {tp for tp, end in ends.items() if end > 0}
        records, findings = 0, []
        deadline = time.monotonic() + timeout
        while remaining:
            assert time.monotonic() < deadline, f"could not read {len(remaining)} partitions"
            batch = await consumer.getmany(timeout_ms=500, max_records=10_000)
            for tp, part in batch.items():
                for record in part:
                    records += 1
                    findings += scan_record(record)
                if part and part[-1].offset + 1 >= ends[tp]:
                    remaining.discard(tp)
            for tp in list(remaining):
                if await consumer.position(tp) >= ends[tp]:
                    remaining.discard(tp)  # the tail was transaction markers or compacted
        return len(topics), records, findings
    finally:
        await consumer.stop()


def scan_record(record: ConsumerRecord[Any, Any]) -> list[Finding]:
    parts = [("key", record.key), ("value", record.value)]
    parts += [(f"header {k}", v) for k, v in record.headers or ()]
    return [
        Finding(record.topic, record.partition, record.offset, where, kind, masked)
        for where, raw in parts
        if raw
        for kind, masked in personal_data(bytes(raw).decode("utf-8", errors="replace"))
    ]


def traffic_tests(session: pytest.Session) -> int:
    """How many of this session's other tests talk to the broker."""
    here = __file__
    return sum(
        1
        for item in session.items
        if str(getattr(item, "path", "")) != here
        and {"settings", "module_settings", "infrastructure"}
        & set(getattr(item, "fixturenames", ()))
    )


@pytest.mark.infra
async def test_no_topic_carries_a_clear_id_number_or_phone_number(
    request: pytest.FixtureRequest, settings: ServiceSettings, infrastructure: Infrastructure
) -> None:
    # Our own sample first, so that the scan has something to read even when run alone.
    async with ServiceRuntime(
        service="gate", settings=settings, registry=registry
    ).running() as gate:
        visitor = VisitorRegistered(
            visitor_id=f"v-{uuid.uuid4().hex[:20]}",
            scan_id="s1",
            checkpoint_id="maple-east",
            community_id="maple",
            reason="visiting family",
            registered_at=datetime(2022, 4, 1, tzinfo=UTC),
        )
        entered = PersonEntered(
            scan_id="s1",
            checkpoint_id="maple-east",
            community_id="maple",
            compound_id="maple-1",
            direction="in",
            scanned_at=datetime(2022, 4, 1, tzinfo=UTC),
            subject_kind="visitor",
            person_id=visitor.visitor_id,
            temperature_c=36.5,
            health_code="green",
            itinerary_risk=False,
            policy_version=0,
            status_as_of=None,
        )
        await Upstream(gate).publish("scan:maple-east:s1", entered, visitor, community="maple")
        sample = await read_topic(settings.kafka_bootstrap, gate.events_topic, expect=2)
    assert {header(r, "ce_type") for r in sample} == {
        "cordon.PersonEntered",
        "cordon.VisitorRegistered",
    }

    topics, records, findings = await scan_broker(infrastructure.kafka_bootstrap)

    assert not findings, "personal data on the wire:\n" + "\n".join(map(str, findings[:50]))
    assert records >= len(sample)
    if traffic_tests(request.session) >= 10:  # the full suite, not this file alone
        assert records > MIN_RECORDS_IN_FULL_RUN, (
            f"read only {records} records from {topics} topics: is this the session's broker?"
        )
    print(f"privacy on the wire: {records} records of {topics} topics scanned, none found")

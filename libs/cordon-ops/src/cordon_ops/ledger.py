"""Reconciling the gate's events stage by stage: what the gate accepted, what reached its
topic, what each projection applied and what its read model shows. Pure counting, no I/O
(``sources.py`` gathers the facts).

The read models are counters (passages per community and day, per checkpoint and minute),
so they cannot name an event: a wrong counter is reported with its bucket, its column,
what it shows and what the events the projection applied there add up to. Events missing
earlier (never published, never applied, dead-lettered) are named one by one.
"""

from __future__ import annotations

import uuid
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from cordon_core.envelope import local_day

Bucket = tuple[str, ...]
"""A read-model row's key, as text: (community, day) or (community, minute, checkpoint)."""


@dataclass(frozen=True)
class GateEvent:
    event_id: uuid.UUID
    event_type: str
    community_id: str
    checkpoint_id: str
    at: datetime
    """When the passage happened (``scanned_at``; ``registered_at`` for a visitor)."""


@dataclass(frozen=True)
class ReadModel:
    """How one projection counts the gate's events into rows."""

    projection: str
    columns: Mapping[str, str]
    """Event type -> the counter column it adds one to."""
    timezone: ZoneInfo = field(default_factory=lambda: ZoneInfo("UTC"))
    per_minute: bool = False

    @property
    def event_types(self) -> tuple[str, ...]:
        return tuple(self.columns)

    def bucket(self, event: GateEvent) -> Bucket:
        if self.per_minute:
            minute = event.at.astimezone(UTC).replace(second=0, microsecond=0)
            return (event.community_id, minute.isoformat(), event.checkpoint_id)
        return (event.community_id, local_day(event.at, self.timezone).isoformat())


def gate_read_models(timezone: ZoneInfo) -> list[ReadModel]:
    """The projector's read models of gate passages (``gate-traffic`` counts by the
    projector's local day, ``live-gates`` by UTC minute and checkpoint)."""
    return [
        ReadModel("gate-traffic", {"PersonEntered": "entries", "PersonExited": "exits"}, timezone),
        ReadModel(
            "live-gates",
            {
                "PersonEntered": "entries",
                "PersonExited": "exits",
                "EntryDenied": "denials",
                "ExitDenied": "denials",
                "FeverDetected": "fevers",
                "VisitorRegistered": "visitors",
            },
            per_minute=True,
        ),
    ]


@dataclass
class Observed:
    """The facts read from the store, the topic and the projector, for one period."""

    accepted: Sequence[GateEvent]
    """Gate events recorded in the period, of the types the read models count."""
    on_topic: Mapping[uuid.UUID, int]
    """How many records on the gate's topic carry each accepted event's id."""
    inbox: Mapping[str, Mapping[uuid.UUID, str]]
    """Per projection: event id -> inbox outcome (``applied``, ``dead_lettered``)."""
    bucket_events: Mapping[str, Sequence[GateEvent]]
    """Per projection: every stored event that falls in a bucket the period touches."""
    shown: Mapping[str, Mapping[Bucket, Mapping[str, int]]]
    """Per projection: bucket -> column -> the count its read model shows."""


@dataclass(frozen=True)
class Stage:
    name: str
    count: int
    of: int


@dataclass(frozen=True)
class Finding:
    kind: str
    """not_published, not_applied, dead_lettered, missing_from_read_model, counted_twice."""
    projection: str | None = None
    event_id: str | None = None
    event_type: str | None = None
    bucket: Bucket | None = None
    column: str | None = None
    shown: int | None = None
    expected: int | None = None

    def describe(self) -> str:
        if self.event_id is not None:
            where = f" by {self.projection}" if self.projection else ""
            return f"{self.kind.replace('_', ' ')}{where}: {self.event_type} {self.event_id}"
        assert self.shown is not None and self.expected is not None
        gap = abs(self.shown - self.expected)
        return (
            f"{self.kind.replace('_', ' ')} in {self.projection} {self.bucket} {self.column}: "
            f"shows {self.shown}, the events it applied there add up to {self.expected} "
            f"({gap} {'missing' if self.shown < self.expected else 'too many'})"
        )


@dataclass
class Report:
    since: datetime
    until: datetime
    stages: list[Stage]
    findings: list[Finding]
    republished: int
    """Records published more than once (at least once delivery; consumers deduplicate)."""

    @property
    def clean(self) -> bool:
        return not self.findings

    def as_json(self) -> dict[str, object]:
        return {
            "since": self.since.isoformat(),
            "until": self.until.isoformat(),
            "clean": self.clean,
            "stages": [s.__dict__ for s in self.stages],
            "republished": self.republished,
            "findings": [
                {k: v for k, v in f.__dict__.items() if v is not None} for f in self.findings
            ],
        }


def reconcile(
    since: datetime,
    until: datetime,
    topic: str,
    read_models: Sequence[ReadModel],
    observed: Observed,
) -> Report:
    accepted = observed.accepted
    stages = [Stage("accepted by the gate (its event store)", len(accepted), len(accepted))]
    findings: list[Finding] = []

    published = [e for e in accepted if observed.on_topic.get(e.event_id, 0) > 0]
    stages.append(Stage(f"published to {topic}", len(published), len(accepted)))
    missing_from_topic = {e.event_id for e in accepted} - {e.event_id for e in published}
    findings += [
        Finding("not_published", event_id=str(e.event_id), event_type=e.event_type)
        for e in accepted
        if e.event_id in missing_from_topic
    ]
    republished = sum(max(0, n - 1) for n in observed.on_topic.values())

    for model in read_models:
        inbox = observed.inbox.get(model.projection, {})
        wanted = [e for e in accepted if e.event_type in model.columns]
        applied = [e for e in wanted if inbox.get(e.event_id) == "applied"]
        stages.append(Stage(f"applied by {model.projection}", len(applied), len(wanted)))
        for event in wanted:
            outcome = inbox.get(event.event_id)
            if outcome == "applied" or event.event_id in missing_from_topic:
                continue  # an unpublished event is reported once, as not published
            kind = "not_applied" if outcome is None else outcome
            findings.append(Finding(kind, model.projection, str(event.event_id), event.event_type))
        shown, expected, wrong = compare_counters(
            model,
            {model.bucket(e) for e in wanted},
            observed.bucket_events.get(model.projection, ()),
            inbox,
            observed.shown.get(model.projection, {}),
        )
        stages.append(Stage(f"shown in {model.projection} (whole buckets)", shown, expected))
        findings += wrong
    return Report(since, until, stages, findings, republished)


def compare_counters(
    model: ReadModel,
    buckets: Iterable[Bucket],
    bucket_events: Iterable[GateEvent],
    inbox: Mapping[uuid.UUID, str],
    shown: Mapping[Bucket, Mapping[str, int]],
) -> tuple[int, int, list[Finding]]:
    """(total shown, total expected, the counters that differ) over ``buckets``: each
    counter must equal the number of its events the projection's inbox says it applied
    (inbox rows and counters are written in one transaction)."""
    wanted = set(buckets)
    expected: Counter[tuple[Bucket, str]] = Counter()
    for event in bucket_events:
        bucket = model.bucket(event)
        if bucket in wanted and inbox.get(event.event_id) == "applied":
            expected[(bucket, model.columns[event.event_type])] += 1
    columns = sorted(set(model.columns.values()))
    findings = []
    total_shown = total_expected = 0
    for bucket in sorted(wanted):
        for column in columns:
            want = expected[(bucket, column)]
            got = shown.get(bucket, {}).get(column, 0)
            total_shown += got
            total_expected += want
            if got != want:
                kind = "missing_from_read_model" if got < want else "counted_twice"
                findings.append(
                    Finding(
                        kind,
                        model.projection,
                        bucket=bucket,
                        column=column,
                        shown=got,
                        expected=want,
                    )
                )
    return total_shown, total_expected, findings

"""Lab results as rows: validated field by field, matched to a person, and decided as a new
result, a duplicate (no-op) or a correction. Every refused row says row, column and why."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta

from cordon_contracts.lab import TestResult, TestResultCorrected, TestResultReceived
from cordon_core.inputs import in_calendar
from cordon_core.privacy import personal_numbers

COLUMNS = ("sample_id", "person_id", "collected_at", "result")
REQUIRED = ("sample_id", "result")
RESULTS: dict[str, TestResult] = {
    "negative": "negative", "neg": "negative", "阴性": "negative",
    "positive": "positive", "pos": "positive", "阳性": "positive",
    "invalid": "invalid", "无效": "invalid",
}  # fmt: skip
_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.:-]{0,63}$")


def not_pseudonymous(person_id: str) -> str | None:
    """Why ``person_id`` cannot be a pseudonymous id (it is an ID-card or mobile number,
    which would then be published), or None."""
    if personal_numbers(person_id):
        return "looks like an ID-card or mobile number: give the pseudonymous person id"
    return None


@dataclass(frozen=True)
class RowError:
    row: int
    column: str
    reason: str


@dataclass(frozen=True)
class ResultRow:
    row: int
    sample_id: str
    result: TestResult
    person_id: str | None = None
    collected_at: datetime | None = None


@dataclass(frozen=True)
class SampleOnRecord:
    """A sample as the service knows it: collected (person), and its current result."""

    sample_id: str
    person_id: str
    collected_at: datetime | None
    result: TestResult | None
    version: int


def missing_columns(header: Iterable[str]) -> list[RowError]:
    present = {h.strip() for h in header}
    return [RowError(1, c, "missing column") for c in REQUIRED if c not in present]


def in_calendar_range(moment: datetime) -> bool:
    try:
        in_calendar(moment)
    except ValueError:
        return False
    return True


def parse_row(row: int, fields: Mapping[str, str | None]) -> ResultRow | list[RowError]:
    """One lab row (``row`` counts the header as row 1, as a spreadsheet does)."""
    errors: list[RowError] = []

    def text(column: str) -> str:
        return (fields.get(column) or "").strip()

    sample_id = text("sample_id")
    if not _ID.match(sample_id):
        why = "required" if not sample_id else "not a valid sample id"
        errors.append(RowError(row, "sample_id", why))
    result = RESULTS.get(text("result").lower())
    if result is None:
        errors.append(RowError(row, "result", "must be negative, positive or invalid"))
    person_id = text("person_id") or None
    if person_id is not None and not _ID.match(person_id):
        errors.append(RowError(row, "person_id", "not a valid person id"))
    elif person_id is not None and (personal := not_pseudonymous(person_id)):
        errors.append(RowError(row, "person_id", personal))
    collected_at = None
    if raw := text("collected_at"):
        try:
            collected_at = datetime.fromisoformat(raw)
        except ValueError:
            errors.append(RowError(row, "collected_at", "not an ISO 8601 date-time"))
        else:
            if collected_at.tzinfo is None:
                errors.append(RowError(row, "collected_at", "needs a UTC offset"))
            elif not in_calendar_range(collected_at):
                errors.append(RowError(row, "collected_at", "must be between 1900 and 2199"))
    if errors or result is None:
        return errors
    return ResultRow(row, sample_id, result, person_id, collected_at)


@dataclass(frozen=True)
class CollectionWindow:
    """When a sample can have been collected, seen from intake: no later than now plus
    ``future_skew`` (labs' clocks drift), no earlier than ``max_age`` ago. A date outside
    is a typo or a wrong clock, and would otherwise stand as the person's latest test."""

    future_skew: timedelta
    max_age: timedelta

    def refusal(self, collected_at: datetime, now: datetime) -> str | None:
        if collected_at > now + self.future_skew:
            skew = int(self.future_skew.total_seconds())
            return f"in the future (more than {skew} s after the time of intake)"
        if collected_at < now - self.max_age:
            return f"more than {self.max_age.days} days ago"
        return None


@dataclass(frozen=True)
class Matched:
    person_id: str
    collected_at: datetime


def match(
    row: ResultRow, sample: SampleOnRecord | None, window: CollectionWindow, now: datetime
) -> Matched | RowError:
    """The person and collection time of a result: from the collected sample, or the row;
    refused when the collection time is outside ``window``."""
    matched = _match(row, sample)
    if isinstance(matched, Matched) and (why := window.refusal(matched.collected_at, now)):
        return RowError(row.row, "collected_at", why)
    return matched


def _match(row: ResultRow, sample: SampleOnRecord | None) -> Matched | RowError:
    if sample is not None:
        if row.person_id is not None and row.person_id != sample.person_id:
            return RowError(row.row, "person_id", "does not match the person the sample is from")
        collected = sample.collected_at or row.collected_at
        if collected is None:
            return RowError(row.row, "collected_at", "required: the sample has no collection time")
        return Matched(sample.person_id, collected)
    if row.person_id is None:
        return RowError(row.row, "sample_id", "unmatched: unknown sample and no person_id")
    if row.collected_at is None:
        return RowError(row.row, "collected_at", "required for a sample not collected here")
    return Matched(row.person_id, row.collected_at)


def decide_result(
    row: ResultRow, matched: Matched, sample: SampleOnRecord | None, lab: str, batch_id: str
) -> TestResultReceived | TestResultCorrected | None:
    """A first result, a correction of a different earlier one, or None (a duplicate)."""
    common = {
        "sample_id": row.sample_id, "person_id": matched.person_id,
        "collected_at": matched.collected_at, "result": row.result, "lab": lab,
        "batch_id": batch_id,
    }  # fmt: skip
    if sample is None or sample.result is None:
        return TestResultReceived.model_validate(common)
    if sample.result == row.result:
        return None
    return TestResultCorrected.model_validate(
        {**common, "previous_result": sample.result, "reason": f"corrected by {lab}"}
    )

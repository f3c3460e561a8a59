"""The shapes of input every service accepts: text PostgreSQL can store, finite numbers,
moments and days a calendar can compute with, and page sizes. Each refuses a bad value with
a 422 naming the field, so no request reaches the database or the clock with one.

Used in request bodies (pydantic models) and query parameters (FastAPI) alike::

    name: Text = Field(min_length=1, max_length=100)
    scanned_at: Moment
    day: Day | None = None
    limit: Limit = 100
"""

from __future__ import annotations

import math
from datetime import UTC, date, datetime
from typing import Annotated

from fastapi import Query
from pydantic import AfterValidator, AllowInfNan, AwareDatetime, BeforeValidator, Strict

EARLIEST_DAY = date(1900, 1, 1)
LATEST_DAY = date(2199, 12, 31)
"""The calendar a service works in: wide enough for any birth date and any plan, narrow
enough that a day or a moment plus or minus a few years never leaves Python's calendar
(years 1 to 9999), whatever its UTC offset."""
EARLIEST = datetime(EARLIEST_DAY.year, 1, 1, tzinfo=UTC)
LATEST = datetime(LATEST_DAY.year + 1, 1, 1, tzinfo=UTC)
PAGE_MAX = 1000
"""The most rows one page of any list returns."""


def storable_text(value: str) -> str:
    """Refuse what PostgreSQL cannot store in text or jsonb: NUL, and lone surrogates
    (``"\\ud800"``), which have no UTF-8 form."""
    if "\x00" in value:
        raise ValueError("must not contain the NUL character (\\u0000)")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise ValueError("must be valid Unicode (a lone UTF-16 surrogate is not)") from None
    return value


def finite(value: float) -> float:
    if not math.isfinite(value):
        raise ValueError("must be a finite number (not NaN, Infinity or beyond ±1.8e308)")
    return value


def in_calendar(value: datetime) -> datetime:
    """A moment between 1900 and 2199 in UTC; a naive one is read as if it were UTC."""
    try:
        utc = value.astimezone(UTC) if value.tzinfo else value.replace(tzinfo=UTC)
    except (OverflowError, ValueError):
        raise ValueError(f"must be between {EARLIEST_DAY} and {LATEST_DAY}") from None
    if not EARLIEST <= utc < LATEST:
        raise ValueError(f"must be between {EARLIEST_DAY} and {LATEST_DAY}")
    return value


def day_in_calendar(value: date) -> date:
    if not EARLIEST_DAY <= value <= LATEST_DAY:
        raise ValueError(f"must be between {EARLIEST_DAY} and {LATEST_DAY}")
    return value


def not_a_number(value: object) -> object:
    """Refuse a JSON number where a date or moment is expected: pydantic would read it as
    seconds since 1970, which no schema of ours says (it says an ISO 8601 string)."""
    if isinstance(value, int | float):
        raise ValueError("must be an ISO 8601 string, not a number")
    return value


Text = Annotated[str, AfterValidator(storable_text)]
"""Any text that is stored or used in a query; add length limits with ``Field``."""
Number = Annotated[float, Strict(), AllowInfNan(False), AfterValidator(finite)]
"""A finite number (JSON's NaN, Infinity and 1e999 are refused, and so are ``true`` and
``"36.5"``: the schema says a number)."""
Flag = Annotated[bool, Strict()]
"""A JSON ``true`` or ``false`` in a body (not ``"yes"``, ``1`` or ``"true"``)."""
Moment = Annotated[AwareDatetime, BeforeValidator(not_a_number), AfterValidator(in_calendar)]
"""A moment with its UTC offset, between 1900 and 2199."""
LocalOrAwareMoment = Annotated[datetime, BeforeValidator(not_a_number), AfterValidator(in_calendar)]
"""A moment, with or without an offset (the caller decides what a naive one means)."""
Day = Annotated[date, BeforeValidator(not_a_number), AfterValidator(day_in_calendar)]
"""A calendar day between 1900-01-01 and 2199-12-31."""
Limit = Annotated[
    int, Query(ge=1, le=PAGE_MAX, description=f"How many rows at most (1 to {PAGE_MAX}).")
]
"""A page size in a query string."""

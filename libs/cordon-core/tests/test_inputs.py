"""Properties of the shared input types and of the guard every service installs: what they
accept can be stored by PostgreSQL and computed with by Python; what they refuse gets a 422
naming the field (or a 413), never a 500, and never repeats more than a short prefix."""

from __future__ import annotations

import json
import math
from datetime import UTC, date, datetime, timedelta, timezone
from typing import Any

import pytest
from fastapi import APIRouter, FastAPI
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import BaseModel, Field, TypeAdapter, ValidationError
from starlette.testclient import TestClient

from cordon_core.input_guard import ECHO_CHARS, MAX_ERRORS, install_input_guard
from cordon_core.inputs import (
    EARLIEST_DAY,
    LATEST_DAY,
    PAGE_MAX,
    Day,
    Flag,
    Limit,
    Moment,
    Number,
    Text,
)

TEXT = TypeAdapter(Text)
NUMBER = TypeAdapter(Number)
MOMENT = TypeAdapter(Moment)
DAY = TypeAdapter(Day)
offsets = st.integers(min_value=-23 * 60 - 59, max_value=23 * 60 + 59).map(
    lambda minutes: timezone(timedelta(minutes=minutes))
)


@settings(deadline=None)  # a loaded CI machine is no reason to fail
@given(st.text())
def test_text_is_accepted_exactly_when_postgresql_can_store_it(value: str) -> None:
    storable = "\x00" not in value and not any(0xD800 <= ord(c) <= 0xDFFF for c in value)
    try:
        accepted = TEXT.validate_python(value)
    except ValidationError:
        assert not storable
    else:
        assert storable and accepted == value
        accepted.encode("utf-8")


@settings(deadline=None)  # a loaded CI machine is no reason to fail
@given(st.text(), st.sampled_from(["\x00", "\ud800", "\udfff"]), st.text())
def test_text_with_a_nul_or_a_lone_surrogate_anywhere_is_refused(
    before: str, bad: str, after: str
) -> None:
    with pytest.raises(ValidationError):
        TEXT.validate_python(before + bad + after)


@settings(deadline=None)  # a loaded CI machine is no reason to fail
@given(st.floats(allow_nan=True, allow_infinity=True))
def test_a_number_is_accepted_exactly_when_finite(value: float) -> None:
    try:
        NUMBER.validate_python(value)
    except ValidationError:
        assert not math.isfinite(value)
    else:
        assert math.isfinite(value)


@pytest.mark.parametrize("literal", ["NaN", "Infinity", "-Infinity", "1e999", "-1e999"])
def test_json_non_finite_numbers_are_refused(literal: str) -> None:
    with pytest.raises(ValidationError):
        NUMBER.validate_json(literal)


@settings(deadline=None)  # a loaded CI machine is no reason to fail
@given(st.datetimes(timezones=offsets))
def test_an_accepted_moment_survives_utc_and_a_year_either_way(value: datetime) -> None:
    try:
        accepted = MOMENT.validate_python(value)
    except ValidationError:
        return
    utc = accepted.astimezone(UTC)
    assert EARLIEST_DAY.year <= utc.year <= LATEST_DAY.year
    utc + timedelta(days=366), utc - timedelta(days=366)  # no OverflowError


@settings(deadline=None)  # a loaded CI machine is no reason to fail
@given(st.datetimes(min_value=datetime(1900, 1, 2), max_value=datetime(2199, 12, 30)), offsets)
def test_every_moment_of_the_service_calendar_is_accepted(value: datetime, tz: timezone) -> None:
    assert MOMENT.validate_python(value.replace(tzinfo=tz)) == value.replace(tzinfo=tz)


@pytest.mark.parametrize(
    "edge",
    [
        "0001-01-01T00:00:00+08:00",  # before year 1 in UTC
        "9999-12-31T23:59:59-01:00",  # after year 9999 in UTC
        "9999-01-01T00:00:00Z",
        "1899-12-31T23:59:59Z",
    ],
)
def test_moments_at_the_calendars_edges_are_refused(edge: str) -> None:
    with pytest.raises(ValidationError):
        MOMENT.validate_json(json.dumps(edge))


@settings(deadline=None)  # a loaded CI machine is no reason to fail
@given(st.dates())
def test_a_day_is_accepted_exactly_within_the_service_calendar(value: date) -> None:
    try:
        DAY.validate_python(value)
    except ValidationError:
        assert not EARLIEST_DAY <= value <= LATEST_DAY
    else:
        assert EARLIEST_DAY <= value <= LATEST_DAY


class Visit(BaseModel):
    name: Text = Field(max_length=20)
    temperature_c: Number = 36.5
    at: Moment | None = None
    notes: dict[str, Any] = {}


def guarded_app(max_body: int = 4096) -> TestClient:
    app = FastAPI()

    @app.post("/visits")
    async def visit(body: Visit) -> dict[str, str]:
        return {"name": body.name}

    router = APIRouter()  # a route of an included router, with a path parameter

    @router.post("/communities/{community_id}/imports")
    async def imports(community_id: str, body: Visit) -> dict[str, str]:
        return {"name": body.name}

    app.include_router(router)

    @app.get("/visits/{visit_id}")
    async def read(visit_id: str, day: Day | None = None, limit: Limit = 10) -> dict[str, Any]:
        return {"visit_id": visit_id, "limit": limit}

    install_input_guard(app, max_body, {"/communities/{community_id}/imports": 64 * max_body})
    return TestClient(app)


CLIENT = guarded_app()


def post(path: str, raw: str) -> Any:
    return CLIENT.post(path, content=raw, headers={"content-type": "application/json"})


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.recursive(
        st.none() | st.booleans() | st.floats() | st.text(max_size=30),
        lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner),
        max_leaves=12,
    )
)
def test_no_json_value_anywhere_in_a_body_gets_a_server_error(notes: Any) -> None:
    raw = json.dumps({"name": "Li", "notes": notes})  # NaN and Infinity as JSON writes them
    response = post("/visits", raw)
    assert response.status_code in (200, 422), response.text
    if response.status_code == 422:
        for error in response.json()["detail"]:
            assert error["loc"][:2] == ["body", "notes"], error


@pytest.mark.parametrize(
    ("raw", "field"),
    [
        ('{"name": "a\\u0000b"}', "name"),
        ('{"name": "\\ud800"}', "name"),
        ('{"name": "Li", "temperature_c": NaN}', "temperature_c"),
        ('{"name": "Li", "temperature_c": Infinity}', "temperature_c"),
        ('{"name": "Li", "temperature_c": 1e999}', "temperature_c"),
        ('{"name": "Li", "at": "0001-01-01T00:00:00+08:00"}', "at"),
        ('{"name": "Li", "notes": {"k": "\\u0000"}}', "notes"),
    ],
)
def test_each_class_of_bad_value_is_a_422_naming_its_field(raw: str, field: str) -> None:
    response = post("/visits", raw)
    assert response.status_code == 422, response.text
    assert [e["loc"][1] for e in response.json()["detail"]] == [field]


def test_a_nul_in_the_path_the_query_or_a_header_is_a_422() -> None:
    assert CLIENT.get("/visits/a%00b").status_code == 422
    named = CLIENT.get("/visits/a", params={"day": "2022-04-01\x00"})
    assert named.status_code == 422 and named.json()["detail"][0]["loc"] == ["query", "day"]
    assert CLIENT.get("/visits/a?limit=1%00").json()["detail"][0]["loc"] == ["query", "limit"]


@pytest.mark.parametrize(
    "query", ["limit=0", "limit=-1", f"limit={PAGE_MAX + 1}", "day=0001-01-01"]
)
def test_paging_and_days_out_of_range_are_a_422_naming_the_parameter(query: str) -> None:
    response = CLIENT.get(f"/visits/a?{query}")
    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"] == ["query", query.split("=")[0]]


def test_a_body_over_the_limit_is_a_413_unless_its_route_allows_more() -> None:
    big = json.dumps({"name": "Li", "notes": {"padding": "x" * 10_000}})
    assert post("/visits", big).status_code == 413
    assert post("/communities/heping/imports", big).status_code == 200
    chunked = CLIENT.post(
        "/visits", content=iter([big.encode()]), headers={"content-type": "application/json"}
    )
    assert chunked.status_code == 413, "no content-length: counted as it streams"


@settings(deadline=None)  # a loaded CI machine is no reason to fail
@given(st.text(min_size=ECHO_CHARS + 1, max_size=5000))
def test_a_422_repeats_at_most_a_short_prefix_of_a_long_input(long: str) -> None:
    response = guarded_app(max_body=1 << 20).post("/visits", json={"name": long})
    assert response.status_code == 422
    echoed = response.json()["detail"][0].get("input", "")
    assert len(echoed) <= ECHO_CHARS + 1


def test_a_422_lists_at_most_a_few_errors_of_a_huge_body() -> None:
    client = guarded_app(max_body=8 << 20)
    notes = {f"k{i}": "\x00" for i in range(5000)}
    response = client.post("/visits", json={"name": "Li", "notes": notes})
    assert response.status_code == 422
    detail = response.json()["detail"]
    assert len(detail) == MAX_ERRORS + 1 and detail[-1]["type"] == "too_many_errors"
    assert len(response.content) < 10_000


@settings(deadline=None)
@given(st.one_of(st.integers(), st.floats(allow_nan=False, allow_infinity=False)))
def test_a_json_number_is_never_read_as_a_moment_or_a_day(seconds: float) -> None:
    # pydantic alone would read 1700000000 as seconds since 1970: the schemas say a string.
    for adapter in (MOMENT, DAY):
        with pytest.raises(ValidationError, match="ISO 8601 string"):
            adapter.validate_json(json.dumps(seconds))


@pytest.mark.parametrize("value", ["true", "false", '"36.5"', '"1"'])
def test_a_number_is_a_json_number_not_a_boolean_or_a_string(value: str) -> None:
    with pytest.raises(ValidationError):
        NUMBER.validate_json(value)
    with pytest.raises(ValidationError):
        NUMBER.validate_python(json.loads(value))  # FastAPI validates parsed bodies
    assert NUMBER.validate_json("36") == 36.0


@pytest.mark.parametrize("value", ['"true"', '"yes"', "1", "0", '"false"'])
def test_a_flag_is_json_true_or_false_only(value: str) -> None:
    flag = TypeAdapter(Flag)
    with pytest.raises(ValidationError):
        flag.validate_python(json.loads(value))
    assert flag.validate_python(True) is True
    assert flag.validate_json("false") is False

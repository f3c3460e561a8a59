"""Hostile and absurd input at the registry: each class is refused with a 4xx naming the
field, and nothing of it reaches the event store or the registry's topic."""

from __future__ import annotations

import csv
import io
from typing import Any

import httpx
import pytest
from registry_harness import Registry, resident_id

from cordon_core.settings import ServiceSettings
from cordon_testing.refusals import ServiceRecord

HEADER = [
    "网格",
    "小区",
    "楼栋",
    "单元",
    "房号",
    "居住类型",
    "姓名",
    "证件号码",
    "电话",
    "台账类别",
]


def fields(response: httpx.Response) -> list[str]:
    return [".".join(str(p) for p in e["loc"][1:]) for e in response.json()["detail"]]


async def send(reg: Registry, method: str, url: str, **kw: Any) -> httpx.Response:
    headers = {**reg.as_("admin"), **kw.pop("headers", {})}
    return await reg.client.request(method, url, headers=headers, **kw)


def raw_json(text: str) -> dict[str, Any]:
    return {"content": text.encode(), "headers": {"Content-Type": "application/json"}}


@pytest.fixture
def record(settings: ServiceSettings) -> ServiceRecord:
    return ServiceRecord(settings, "registry")


async def test_unstorable_text_non_finite_numbers_edge_days_and_bad_limits_get_a_422(
    district: Registry, record: ServiceRecord
) -> None:
    person = await district.register("heping-g1-h101", "王芳", resident_id(sequence="201"))
    before = await record.count()
    resident = '"household_id": "heping-g1-h102", "residence_type": "owner", "document_number": '
    bad = {
        "name": await send(
            district, "POST", "/v1/residents",
            **raw_json(f'{{{resident}"{resident_id(sequence="202")}", "name": "Li\\u0000"}}'),
        ),
        "surrogate name": await send(
            district, "POST", "/v1/residents",
            **raw_json(f'{{{resident}"{resident_id(sequence="203")}", "name": "\\ud800"}}'),
        ),
        "dose_number": await send(
            district, "POST", f"/v1/residents/{person}/vaccinations",
            **raw_json('{"dose_number": NaN, "vaccinated_on": "2021-06-01"}'),
        ),
        "vaccinated_on": await send(
            district, "POST", f"/v1/residents/{person}/vaccinations",
            json={"dose_number": 1, "vaccinated_on": "0001-01-01"},
        ),
        "query": await send(
            district, "GET", "/v1/communities/heping/residents/search",
            params={"field": "name", "value": "王\x00"},
        ),
        "limit 0": await send(district, "GET", "/v1/audit", params={"limit": 0}),
        "limit -1": await send(district, "GET", "/v1/audit", params={"limit": -1}),
    }  # fmt: skip

    assert {what: r.status_code for what, r in bad.items()} == dict.fromkeys(bad, 422)
    assert fields(bad["name"]) == fields(bad["surrogate name"]) == ["name"]
    assert fields(bad["dose_number"]) == ["dose_number"]
    assert fields(bad["vaccinated_on"]) == ["vaccinated_on"]
    assert fields(bad["limit 0"]) == fields(bad["limit -1"]) == ["limit"]
    assert await record.count() == before, "nothing recorded"


async def test_a_dose_before_the_persons_birth_is_refused_without_saying_the_birth_date(
    district: Registry, record: ServiceRecord
) -> None:
    person = await district.register(
        "heping-g1-h101", "郑华", resident_id(born="20100301", sequence="204")
    )
    before = await record.count()

    refused = await send(
        district, "POST", f"/v1/residents/{person}/vaccinations",
        json={"dose_number": 1, "vaccinated_on": "2010-02-28"},
    )  # fmt: skip
    after = await record.count()
    on_the_day = await send(
        district, "POST", f"/v1/residents/{person}/vaccinations",
        json={"dose_number": 1, "vaccinated_on": "2010-03-01"},
    )  # fmt: skip

    assert refused.status_code == 422 and fields(refused) == ["vaccinated_on"]
    assert "before the person's birth" in refused.text and "2010-03-01" not in refused.text
    assert after == before
    assert on_the_day.status_code == 200, on_the_day.text


async def test_a_risk_area_listed_until_9999_or_for_a_year_is_refused(
    district: Registry, record: ServiceRecord
) -> None:
    before = await record.count()
    area = {"area_name": "Jiang'an", "level": "high", "valid_from": "2022-04-01"}

    forever = await send(
        district, "PUT", "/v1/risk-areas/420102", json={**area, "valid_until": "9999-12-31"}
    )
    a_year = await send(
        district, "PUT", "/v1/risk-areas/420102", json={**area, "valid_until": "2023-03-31"}
    )
    after = await record.count()
    a_month = await send(
        district, "PUT", "/v1/risk-areas/420102", json={**area, "valid_until": "2022-04-30"}
    )

    assert forever.status_code == 422 and fields(forever) == ["valid_until"]
    assert a_year.status_code == 422 and fields(a_year) == ["valid_until"]
    assert "at most 180 days" in a_year.text
    assert after == before
    assert a_month.status_code == 200, a_month.text


def as_csv(rows: list[list[str]]) -> bytes:
    out = io.StringIO()
    csv.writer(out).writerows(rows)
    return out.getvalue().encode("utf-8")


async def test_an_import_with_a_huge_field_or_a_nul_is_refused_and_a_huge_body_is_a_413(
    district: Registry, record: ServiceRecord
) -> None:
    row = [
        "1",
        "Peach Garden",
        "3",
        "2",
        "501",
        "业主",
        "王芳",
        resident_id(sequence="205"),
        "",
        "",
    ]
    huge_field = [*row[:6], "x" * (csv.field_size_limit() + 1), *row[7:]]
    nul_cell = [*row[:6], "王\x00芳", *row[7:]]
    before = await record.count()
    sent: dict[str, httpx.Response] = {}
    for what, rows in (("huge field", [HEADER, huge_field]), ("nul", [HEADER, nul_cell])):
        sent[what] = await send(
            district, "POST", "/v1/communities/heping/imports",
            content=as_csv(rows), headers={"Content-Type": "text/csv"},
        )  # fmt: skip
    sent["not utf-8"] = await send(
        district, "POST", "/v1/communities/heping/imports",
        content="姓名".encode("gb18030") + b"\xff\n", headers={"Content-Type": "text/csv"},
    )  # fmt: skip
    sent["17 MiB"] = await send(
        district, "POST", "/v1/communities/heping/imports",
        content=b"x" * (17 * 1024 * 1024), headers={"Content-Type": "text/csv"},
    )  # fmt: skip
    sent["a 300 kB name"] = await send(
        district, "POST", "/v1/places",
        json={"place_id": "p1", "kind": "grid", "name": "x" * 300_000, "parent_id": "heping"},
    )  # fmt: skip

    codes = {what: r.status_code for what, r in sent.items()}
    assert codes == {"huge field": 422, "nul": 422, "not utf-8": 422, "17 MiB": 413,
                     "a 300 kB name": 413}  # fmt: skip
    assert all(fields(sent[w]) == ["file"] for w in ("huge field", "nul", "not utf-8"))
    assert "row 2" in sent["huge field"].text and "row 2" in sent["nul"].text
    assert await record.count() == before

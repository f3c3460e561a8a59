"""Vaccinations from a spreadsheet: each row recorded, already recorded, or refused by row,
column and reason; the good rows recorded whatever the others hold; a second import of the
same file recording nothing; another community's residents never touched; and the doses
published like the single endpoint's."""

from __future__ import annotations

import csv
import io
import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import openpyxl
from registry_harness import Registry, resident_id

from cordon_testing.kafka import header, read_topic

URL = "/v1/communities/heping/vaccination-imports"
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
FIRST = "2020-03-16"
HEADER = ["人员编号", "身份证号", "剂次", "接种日期", "疫苗名称"]


def as_csv(rows: list[list[Any]]) -> bytes:
    out = io.StringIO()
    csv.writer(out).writerows(rows)
    return out.getvalue().encode("utf-8-sig")


def as_xlsx(rows: list[list[Any]]) -> bytes:
    book = openpyxl.Workbook()
    for row in rows:
        book.active.append(row)
    content = io.BytesIO()
    book.save(content)
    return content.getvalue()


def refused(row: int, column: str, reason: str) -> dict[str, Any]:
    return {"row": row, "column": column, "reason": reason}


def csv_body(rows: list[list[Any]]) -> dict[str, Any]:
    return {"content": as_csv(rows), "headers": {"Content-Type": "text/csv"}}


@dataclass
class People:
    wang: str
    li: str
    li_document: str
    zhang: str
    """zhang lives in xinhua, not in heping."""
    zhang_document: str


async def people(reg: Registry) -> People:
    li_document = resident_id(sequence="302")
    zhang_document = resident_id(sequence="303")
    return People(
        wang=await reg.register("heping-g1-h101", "王芳", resident_id(sequence="301")),
        li=await reg.register("heping-g1-h102", "李伟", li_document),
        li_document=li_document,
        zhang=await reg.register("xinhua-g1-h101", "张敏", zhang_document),
        zhang_document=zhang_document,
    )


async def event_count(reg: Registry) -> int:
    count: int = await reg.service.runtime.pool.fetchval(
        f"SELECT count(*) FROM {reg.schema}.events"
    )
    return count


async def doses_of(reg: Registry, person_id: str) -> list[tuple[int, str, str | None]]:
    record = await reg.call("GET", f"/v1/residents/{person_id}/record")
    return [(v["dose_number"], v["vaccinated_on"], v["vaccine"]) for v in record["vaccinations"]]


async def test_doses_from_a_csv_are_recorded_and_importing_the_file_again_records_nothing(
    district: Registry,
) -> None:
    who = await people(district)
    rows = [
        HEADER,
        [who.wang, "", "1", "2021-04-02", "Sinovac"],
        [who.wang, "", "2", "2021/5/7", "Sinovac"],
        # li by the ID number alone: the same person as registered, no second record
        ["", who.li_document, "1", "2021年6月1日", ""],
    ]

    report = await district.call("POST", URL, who="heping-office", **csv_body(rows))
    events_after_first = await event_count(district)
    again = await district.call("POST", URL, who="heping-office", **csv_body(rows))

    assert report == {
        "rows": 3,
        "recorded": 3,
        "already_recorded": 0,
        "refused_rows": 0,
        "errors": [],
    }
    assert await doses_of(district, who.wang) == [
        (1, "2021-04-02", "Sinovac"),
        (2, "2021-05-07", "Sinovac"),
    ]
    assert await doses_of(district, who.li) == [(1, "2021-06-01", None)]
    counts = await district.call("GET", "/v1/communities/heping/counts")
    assert (counts["residents"], counts["by_doses"]) == (2, {"1": 1, "2": 1})
    assert (again["recorded"], again["already_recorded"], again["errors"]) == (0, 3, [])
    assert await event_count(district) == events_after_first, "a re-import writes nothing"


async def test_doses_from_an_xlsx_are_recorded_like_a_csv_one(district: Registry) -> None:
    who = await people(district)
    rows: list[list[Any]] = [
        ["person_id", "document_number", "dose_number", "vaccinated_on", "vaccine"],
        [who.wang, None, 1, datetime(2021, 4, 2), "Sinopharm BBIBP"],  # typed as a date
        [None, who.li_document, 1.0, "2021-06-01", None],  # a number Excel keeps as 1.0
    ]

    report = await district.call(
        "POST", URL, who="heping-office", content=as_xlsx(rows), headers={"Content-Type": XLSX}
    )

    assert (report["recorded"], report["errors"]) == (2, [])
    assert await doses_of(district, who.wang) == [(1, "2021-04-02", "Sinopharm BBIBP")]
    assert await doses_of(district, who.li) == [(1, "2021-06-01", None)]


async def test_a_resident_of_another_community_is_refused_like_an_unknown_person(
    district: Registry,
) -> None:
    who = await people(district)
    rows = [
        HEADER,
        [who.zhang, "", "1", "2021-04-02", ""],
        ["", who.zhang_document, "1", "2021-04-02", ""],
        ["p-00000000000000000000", "", "1", "2021-04-02", ""],
        ["", resident_id(sequence="399"), "1", "2021-04-02", ""],
        [who.wang, "", "1", "2021-04-02", ""],
    ]

    report = await district.call("POST", URL, who="heping-office", **csv_body(rows))

    assert report["errors"] == [
        refused(2, "person_id", f"no resident {who.zhang} in heping"),
        refused(3, "document_number", "no resident with this document in heping"),
        refused(4, "person_id", "no resident p-00000000000000000000 in heping"),
        refused(5, "document_number", "no resident with this document in heping"),
    ]
    assert report["recorded"] == 1, "the good row is recorded beside the refused ones"
    assert await doses_of(district, who.zhang) == [], "nothing recorded for xinhua's resident"
    await district.call(
        "POST",
        "/v1/communities/xinhua/vaccination-imports",
        who="heping-office",
        expect=403,
        **csv_body(rows),
    )
    assert await doses_of(district, who.zhang) == [], "heping's office may not import into xinhua"


async def test_each_hostile_row_is_refused_naming_its_column_and_the_good_rows_are_recorded(
    district: Registry,
) -> None:
    who = await people(district)
    rows = [
        HEADER,
        [who.wang, "", "1", "2099-01-01", ""],
        [who.wang, "", "1", "2019-12-31", ""],
        [who.wang, "", "0", "2021-04-02", ""],
        [who.wang, "", "99", "2021-04-02", ""],
        [who.wang, "", "1", "2021-04-02", f"Sinovac {who.li_document}"],
        [who.wang, "", "1", "not a day", ""],
        [who.wang, who.li_document, "1", "2021-04-02", ""],
        ["", "110101198001011025", "1", "2021-04-02", ""],
        ["", "", "1", "2021-04-02", ""],
        [who.li, "", "3", "2021-04-02", ""],
        [who.wang, "", "1", "2021-04-02", "Sinovac"],
        [who.wang, "", "1", "2021-04-03", "Sinovac"],
    ]
    before = await event_count(district)

    report = await district.call("POST", URL, who="heping-office", **csv_body(rows))

    assert report["errors"] == [
        refused(2, "vaccinated_on", "2099-01-01 is in the future"),
        refused(
            3, "vaccinated_on", f"2019-12-31 is before the first COVID-19 vaccine doses ({FIRST})"
        ),
        refused(4, "dose_number", "a dose number is a whole number from 1 to 10"),
        refused(5, "dose_number", "a dose number is a whole number from 1 to 10"),
        refused(6, "vaccine", "holds an ID or phone number, not a vaccine name"),
        refused(7, "vaccinated_on", "not a date (YYYY-MM-DD)"),
        refused(8, "document_number", "does not name the same person as person_id"),
        refused(9, "document_number", "check digit 5 is wrong (ISO 7064 MOD 11-2 gives 1)"),
        refused(10, "person_id", "is empty (give a person_id or document_number)"),
        refused(11, "dose_number", "the next dose is number 1"),
        refused(13, "dose_number", "dose 1 is recorded on 2021-04-02"),
    ]
    assert (report["recorded"], report["refused_rows"]) == (1, 11)
    assert await doses_of(district, who.wang) == [(1, "2021-04-02", "Sinovac")]
    assert await event_count(district) == before + 1
    stored = await district.service.runtime.pool.fetch(
        f"SELECT payload::text FROM {district.schema}.events"
    )
    assert not any(who.li_document in r["payload"] for r in stored), "the number is not kept"


async def test_files_that_are_not_a_usable_spreadsheet_get_a_4xx_naming_the_file(
    district: Registry,
) -> None:
    who = await people(district)
    before = await event_count(district)
    too_many = [HEADER] + [[who.wang, "", "1", "2021-04-02", ""]] * 50_001
    sent = {
        "not xlsx": (b"PK\x03\x04 this is no workbook", XLSX),
        "empty xlsx": (b"", XLSX),
        "empty csv": (b"", "text/csv"),
        "pdf": (b"%PDF-1.7", "application/pdf"),
        "nul": (as_csv([HEADER, [who.wang, "", "1", "2021-04-02", "Sino\x00vac"]]), "text/csv"),
        "not utf-8": ("人员编号".encode("gb18030"), "text/csv"),
        "too many rows": (as_csv(too_many), "text/csv"),
    }

    answers = {}
    for what, (content, content_type) in sent.items():
        answers[what] = await district.client.post(
            URL,
            headers={**district.as_("heping-office"), "Content-Type": content_type},
            content=content,
        )

    assert {w: r.status_code for w, r in answers.items()} == dict.fromkeys(sent, 422)
    locs = {w: r.json()["detail"][0]["loc"][-1] for w, r in answers.items()}
    assert locs == {**dict.fromkeys(sent, "file"), "pdf": "content-type"}
    assert "more than 50000 rows" in answers["too many rows"].text
    assert "row 2" in answers["nul"].text
    assert await event_count(district) == before, "nothing recorded"


async def test_a_file_without_a_dose_column_is_refused_before_any_row(district: Registry) -> None:
    who = await people(district)
    report = await district.call(
        "POST",
        URL,
        who="heping-office",
        **csv_body([["人员编号", "接种日期"], [who.wang, "2021-04-02"]]),
    )
    assert report["errors"] == [refused(1, "dose_number", "required column is missing")]
    assert report["recorded"] == 0


async def test_imported_doses_are_published_like_the_single_endpoints(district: Registry) -> None:
    who = await people(district)
    await district.call(
        "POST",
        f"/v1/residents/{who.li}/vaccinations",
        json={"dose_number": 1, "vaccinated_on": "2021-07-01", "vaccine": "Sinovac"},
    )
    rows = [HEADER, [who.wang, "", "1", "2021-04-02", "Sinovac"]]
    await district.call("POST", URL, who="heping-office", **csv_body(rows))

    stored = await district.service.runtime.pool.fetch(
        f"SELECT event_type FROM {district.schema}.events"
    )
    public = [r for r in stored if r["event_type"] != "PersonalDetailsRecorded"]
    records = await read_topic(
        district.service.settings.kafka_bootstrap,
        district.service.runtime.events_topic,
        expect=len(public),
        timeout=120,  # the relay waits for every older transaction on a shared server
    )
    assert len(records) == len(public), f"{len(records)} of {len(public)} events published"
    doses = {
        json.loads(r.value)["person_id"]: (json.loads(r.value), str(header(r, "ce_community")))
        for r in records
        if str(header(r, "ce_type")) == "cordon.VaccinationRecorded"
    }

    for record in records:
        assert who.li_document not in bytes(record.value).decode(), "no ID number published"
    single, imported = doses[who.li], doses[who.wang]
    assert imported[1] == single[1] == "heping"
    assert set(imported[0]) == set(single[0])
    assert (imported[0]["source"], imported[0]["vaccine"], imported[0]["dose_number"]) == (
        "registry",
        "Sinovac",
        1,
    )

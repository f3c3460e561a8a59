"""Spreadsheet import: every bad row reported by number, column and reason; the good rows
imported; a second import of the same file changes nothing; XLSX and the CLI alike."""

from __future__ import annotations

import asyncio
import csv
import io
import os
import subprocess
import sys
from pathlib import Path

import openpyxl
from registry_harness import Registry, resident_id

from cordon_registry.settings import RegistrySettings
from cordon_testing.plugin import settings_env

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


def spreadsheet_rows() -> list[list[str]]:
    return [
        HEADER,
        [
            "1",
            "Peach Garden",
            "3",
            "2",
            "501",
            "业主",
            "王芳",
            resident_id(sequence="101"),
            "13800000001",
            "",
        ],
        [
            "1",
            "Peach Garden",
            "3",
            "2",
            "501",
            "业主",
            "李伟",
            resident_id(sequence="102"),
            "",
            "student",
        ],
        [
            "1",
            "Peach Garden",
            "3",
            "2",
            "502",
            "租户",
            "张敏",
            "110101198001011025",
            "13800000003",
            "",
        ],
        [
            "2",
            "Willow Court",
            "1",
            "",
            "101",
            "owner",
            "刘洋",
            resident_id(born="20990101"),
            "",
            "",
        ],
        ["2", "Willow Court", "1", "", "102", "guest", "", resident_id(sequence="105"), "123", ""],
        [
            "2",
            "Willow Court",
            "1",
            "",
            "102",
            "returnee",
            "陈杰",
            resident_id(sequence="101"),
            "",
            "",
        ],
        [
            "2",
            "Willow Court",
            "1",
            "",
            "103",
            "returnee",
            "杨静",
            resident_id(sequence="107"),
            "",
            "returnee",
        ],
    ]


EXPECTED_ERRORS = [
    {
        "row": 4,
        "column": "document_number",
        "reason": "check digit 5 is wrong (ISO 7064 MOD 11-2 gives 1)",
    },
    {"row": 5, "column": "document_number", "reason": "birth date 2099-01-01 is in the future"},
    {
        "row": 6,
        "column": "residence_type",
        "reason": "'guest' is not one of owner, tenant, temporary, returnee",
    },
    {"row": 6, "column": "name", "reason": "is empty"},
    {
        "row": 6,
        "column": "phone",
        "reason": "not a phone number (11-digit mobile starting with 1, or 0 and area code)",
    },
    {"row": 7, "column": "document_number", "reason": "the same document as row 2"},
]


def as_csv(rows: list[list[str]]) -> bytes:
    out = io.StringIO()
    csv.writer(out).writerows(rows)
    return out.getvalue().encode("utf-8-sig")


async def event_count(reg: Registry) -> int:
    count: int = await reg.service.runtime.pool.fetchval(
        f"SELECT count(*) FROM {reg.schema}.events"
    )
    return count


async def test_a_file_with_bad_rows_imports_the_good_ones_and_reports_each_bad_one(
    district: Registry,
) -> None:
    sent = {"content": as_csv(spreadsheet_rows()), "headers": {"Content-Type": "text/csv"}}
    report = await district.call(
        "POST", "/v1/communities/heping/imports", who="heping-office", **sent
    )

    assert report["errors"] == EXPECTED_ERRORS
    assert (report["rows"], report["registered"], report["already_registered"]) == (7, 3, 0)
    assert report["places_added"] == 2 + 2 + 2 + 1 + 2  # grids, compounds, buildings, unit, rooms
    counts = await district.call("GET", "/v1/communities/heping/counts")
    assert (counts["residents"], counts["households"], counts["by_category"]) == (
        7 - 4,
        2,
        {"student": 1, "returnee": 1},
    )
    found = await district.call(
        "GET", "/v1/communities/heping/residents/search", params={"field": "name", "value": "李伟"}
    )
    assert (
        found[0]["household_id"]
        == (
            await district.call(
                "GET",
                "/v1/communities/heping/residents/search",
                params={"field": "name", "value": "王芳"},
            )
        )[0]["household_id"]
    )

    events_before = await event_count(district)
    again = await district.call(
        "POST", "/v1/communities/heping/imports", who="heping-office", **sent
    )
    assert (again["registered"], again["already_registered"], again["places_added"]) == (0, 3, 0)
    assert again["errors"] == EXPECTED_ERRORS
    assert await event_count(district) == events_before, "re-importing the same file is a no-op"


async def test_an_xlsx_file_imports_like_a_csv_one(district: Registry) -> None:
    book = openpyxl.Workbook()
    sheet = book.active
    for row in spreadsheet_rows():
        sheet.append(
            [int(c) if c.isdigit() and len(c) < 5 else c for c in row]
        )  # numbers as numbers
    content = io.BytesIO()
    book.save(content)
    xlsx = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"

    report = await district.call(
        "POST",
        "/v1/communities/xinhua/imports",
        content=content.getvalue(),
        headers={"Content-Type": xlsx},
    )

    assert report["errors"] == EXPECTED_ERRORS
    assert report["registered"] == 3


async def test_a_missing_column_rejects_the_file_before_any_row(district: Registry) -> None:
    rows = [[c for c in row if c != row[1]] for row in spreadsheet_rows()[:2]]
    report = await district.call(
        "POST",
        "/v1/communities/heping/imports",
        content=as_csv(rows),
        headers={"Content-Type": "text/csv"},
    )
    assert report["errors"] == [
        {"row": 1, "column": "compound", "reason": "required column is missing"}
    ]
    assert report["registered"] == 0


async def test_the_cli_imports_a_file_and_lists_bad_rows_by_number(
    district: Registry, registry_settings: RegistrySettings, tmp_path: Path
) -> None:
    path = tmp_path / "heping.csv"
    path.write_bytes(as_csv(spreadsheet_rows()))
    env = {
        **os.environ,
        **settings_env(registry_settings),
        "CORDON_REGISTRY_INDEX_KEY": "test-index-key",
        "CORDON_REGISTRY_MASTER_KEY": "test-master-key",
    }

    result = await asyncio.to_thread(
        subprocess.run,
        [sys.executable, "-m", "cordon_registry.cli", "import", str(path), "--community", "heping"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )

    assert result.returncode == 1, result.stderr
    lines = result.stdout.splitlines()
    assert (
        lines[0]
        == "7 rows: 3 residents registered, 0 already registered, 9 places added, 4 rows rejected"
    )
    assert lines[1:] == [f"row {e['row']}, {e['column']}: {e['reason']}" for e in EXPECTED_ERRORS]
    search = {"field": "name", "value": "杨静"}
    found = await district.call("GET", "/v1/communities/heping/residents/search", params=search)
    assert found[0]["name"] == "杨静", "the API reads what the CLI sealed"

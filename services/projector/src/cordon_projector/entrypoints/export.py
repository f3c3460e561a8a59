"""The daily report as CSV or XLSX, with bilingual column headings."""

from __future__ import annotations

import csv
import io
from typing import Any

from openpyxl import Workbook  # type: ignore[import-untyped]
from openpyxl.styles import Font  # type: ignore[import-untyped]

HEADINGS = {
    "level": "级别 Level",
    "id": "编号 Id",
    "name": "名称 Name",
    "entries": "进入 Entries",
    "exits": "外出 Exits",
    "denials": "劝返 Denials",
    "fevers": "发热 Fevers",
    "yellow_codes": "黄码 Yellow codes",
    "red_codes": "红码 Red codes",
    "visitors": "外来登记 Visitors",
    "centralized": "集中隔离 Centralized",
    "home": "居家隔离 Home isolation",
    "monitoring": "居家健康监测 Health monitoring",
    "isolation_started": "新增隔离 Started",
    "isolation_released": "解除隔离 Released",
    "households_registered": "登记户数 Households",
    "households_visited": "已排查户 Visited",
    "screening_coverage": "排查覆盖率 Coverage",
    "tests": "核酸检测 Tests",
    "positives": "阳性 Positives",
}


def report_rows(report: dict[str, Any]) -> list[list[Any]]:
    figures = report["figures"]
    rows: list[list[Any]] = [[HEADINGS[k] for k in ("level", "id", "name", *figures)]]
    for row in report["communities"]:
        rows.append(["community", row["community_id"], row["name"], *(row[f] for f in figures)])
    for row in report["sub_districts"]:
        rows.append(
            ["sub_district", row["sub_district_id"], row["name"], *(row[f] for f in figures)]
        )
    area = report["area"]
    rows.append(
        [
            f"total ({area['kind']})",
            area["id"],
            area["name"],
            *(report["total"][f] for f in figures),
        ]
    )
    return rows


def report_csv(report: dict[str, Any]) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow([f"防控日报告表 Daily report {report['day']} ({report['timezone']})"])
    writer.writerows(report_rows(report))
    return ("\ufeff" + out.getvalue()).encode()  # BOM: Excel opens Chinese CSV correctly


def report_xlsx(report: dict[str, Any]) -> bytes:
    book = Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.title = report["day"]
    sheet.append([f"防控日报告表 Daily report {report['day']} ({report['timezone']})"])
    sheet["A1"].font = Font(bold=True)
    for row in report_rows(report):
        sheet.append(row)
    for cell in sheet[2]:
        cell.font = Font(bold=True)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()

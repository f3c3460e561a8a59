"""Rows of a vaccination spreadsheet, checked as plain Python: the headers either language,
the days as offices type them, and a file bounded in rows."""

from __future__ import annotations

from datetime import date

import pytest

from cordon_registry.adapters.spreadsheets import SheetLayout, read_csv
from cordon_registry.domain.errors import InvalidInput
from cordon_registry.domain.importing import RowError
from cordon_registry.domain.vaccination_import import (
    HEADER_ALIASES,
    ImportedDose,
    missing_columns,
    parse_dose_row,
)

TODAY = date(2022, 4, 10)
LAYOUT = SheetLayout(HEADER_ALIASES, max_rows=2)


def test_chinese_and_english_headers_name_the_same_columns() -> None:
    columns, _ = read_csv(
        "人员ID,身份证号,剂次,接种日期,疫苗\np-1,,1,2021-04-02,x\n".encode(), LAYOUT
    )
    assert columns == ["person_id", "document_number", "dose_number", "vaccinated_on", "vaccine"]
    english, _ = read_csv(f"{','.join(columns)}\n".encode(), LAYOUT)
    assert english == columns


@pytest.mark.parametrize("typed", ["2021-04-02", "2021/4/2", "2021.04.02", "2021年4月2日"])
def test_a_day_is_read_as_offices_type_it(typed: str) -> None:
    dose = parse_dose_row(
        2, {"person_id": "p-1", "dose_number": "1", "vaccinated_on": typed}, today=TODAY
    )
    assert isinstance(dose, ImportedDose) and dose.vaccinated_on == date(2021, 4, 2)


def test_a_file_needs_a_column_naming_the_person() -> None:
    assert missing_columns(["dose_number", "vaccinated_on", "vaccine"]) == [
        RowError(1, "person_id", "needs a person_id or document_number column")
    ]


def test_a_file_past_the_row_bound_is_refused_before_its_rows_are_kept() -> None:
    content = b"person_id,dose_number,vaccinated_on\n" + b"p-1,1,2021-04-02\n" * 3
    with pytest.raises(InvalidInput, match="more than 2 rows"):
        read_csv(content, LAYOUT)


def test_a_long_person_id_is_refused_without_being_repeated() -> None:
    cells = {"person_id": "p" * 5000, "dose_number": "1", "vaccinated_on": "2021-04-02"}
    assert parse_dose_row(2, cells, today=TODAY) == [
        RowError(2, "person_id", "at most 100 characters")
    ]

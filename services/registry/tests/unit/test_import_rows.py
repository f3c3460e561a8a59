"""Spreadsheet rows: every fault reported with its row and column; good rows parsed."""

from __future__ import annotations

from datetime import date

from cordon_registry.domain.identity import check_character
from cordon_registry.domain.importing import RowError, header_columns, missing_columns, parse_rows

TODAY = date(2022, 4, 10)


def an_id(sequence: str) -> str:
    first = f"11010119800101{sequence}"[:17]
    return first + check_character(first)


def row(**cells: str) -> dict[str, str]:
    base = {
        "grid": "1",
        "compound": "Peach Garden",
        "building": "3",
        "unit": "2",
        "room": "501",
        "residence_type": "owner",
        "name": "王芳",
        "document_number": an_id("123"),
        "phone": "13800138000",
    }
    return {**base, **cells}


def test_chinese_headers_are_understood() -> None:
    assert header_columns(["网格", "姓名", "身份证号", " Phone "]) == [
        "grid",
        "name",
        "document_number",
        "phone",
    ]


def test_a_missing_required_column_is_reported_on_the_header_row() -> None:
    assert missing_columns(["grid", "name"])[0] == RowError(
        1, "compound", "required column is missing"
    )


def test_every_fault_of_every_row_is_reported_and_good_rows_are_kept() -> None:
    rows = [
        (2, row()),
        (3, row(document_number="110101198001011234", phone="12345")),
        (4, row(residence_type="visitor", categories="student;astronaut")),
        (5, row(name="", room="")),
        (6, row(room="502")),  # the same document as row 2
    ]
    good, errors = parse_rows(rows, community_id="heping", today=TODAY)

    assert [g.row for g in good] == [2]
    assert [str(e) for e in errors] == [
        "row 3, document_number: check digit 4 is wrong (ISO 7064 MOD 11-2 gives 2)",
        "row 3, phone: not a phone number (11-digit mobile starting with 1, or 0 and area code)",
        "row 4, residence_type: 'visitor' is not one of owner, tenant, temporary, returnee",
        "row 4, categories: unknown astronaut; known: returnee, migrant_worker, student, "
        "truck_driver, elderly_living_alone, frail",
        "row 5, room: is empty",
        "row 5, name: is empty",
        "row 6, document_number: the same document as row 2",
    ]


def test_place_ids_follow_from_the_names_so_a_reimport_finds_the_same_places() -> None:
    [first], _ = parse_rows([(2, row())], community_id="heping", today=TODAY)
    [again], _ = parse_rows([(9, row())], community_id="heping", today=TODAY)
    assert [p.kind for p in first.places] == ["grid", "compound", "building", "unit", "household"]
    assert first.household_id == again.household_id

"""Rows of a vaccination spreadsheet: one dose per row, the person named by person id or
identity document; each row checked on its own and every fault reported with its row
number and column, so the good rows are recorded regardless."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date

from cordon_core.privacy import personal_numbers
from cordon_registry.domain.errors import RegistryError
from cordon_registry.domain.identity import Document, parse_document
from cordon_registry.domain.importing import RowError

COLUMNS = (
    "person_id",
    "document_type",
    "document_number",
    "dose_number",
    "vaccinated_on",
    "vaccine",
)
REQUIRED = ("dose_number", "vaccinated_on")
IDENTIFIERS = ("person_id", "document_number")
"""A row names its person by one of these (both: they must name the same person)."""
HEADER_ALIASES = {
    "人员编号": "person_id",
    "人员id": "person_id",
    "证件类型": "document_type",
    "证件号码": "document_number",
    "身份证号": "document_number",
    "剂次": "dose_number",
    "针次": "dose_number",
    "接种日期": "vaccinated_on",
    "疫苗": "vaccine",
    "疫苗名称": "vaccine",
}
DOSE_NUMBERS = range(1, 11)
"""As the single endpoint takes them (``DoseIn``): the schedules in use have at most four."""
FIRST_DOSE_DAY = date(2020, 3, 16)
"""The first COVID-19 vaccine doses given in China (Ad5-nCoV, phase-1 trial, Wuhan): a
dose dated earlier is a typo, not a vaccination the screening counts."""
_DAY = re.compile(r"(\d{4})[-/.年](\d{1,2})[-/.月](\d{1,2})日?")
_VACCINE_LONGEST = 100
_ID_LONGEST = 100


@dataclass(frozen=True, slots=True)
class ImportedDose:
    row: int
    person_id: str | None
    document: Document | None
    dose_number: int
    vaccinated_on: date
    vaccine: str | None


def missing_columns(columns: Iterable[str]) -> list[RowError]:
    present = set(columns)
    missing = [RowError(1, c, "required column is missing") for c in REQUIRED if c not in present]
    if not present & set(IDENTIFIERS):
        missing.insert(0, RowError(1, "person_id", "needs a person_id or document_number column"))
    return missing


def parse_dose_row(
    row: int, raw: Mapping[str, str], *, today: date
) -> ImportedDose | list[RowError]:
    cells = {k: " ".join(v.split()) for k, v in raw.items() if k}
    errors: list[RowError] = []
    person_id = cells.get("person_id") or None
    if person_id is not None and len(person_id) > _ID_LONGEST:
        # A person id is short; the answer never repeats a long cell back.
        errors.append(RowError(row, "person_id", f"at most {_ID_LONGEST} characters"))
    document = None
    if cells.get("document_number"):
        try:
            document = parse_document(
                cells.get("document_type") or "resident_id", cells["document_number"], today=today
            )
        except RegistryError as error:
            errors.append(RowError(row, error.field, error.reason))
    elif person_id is None:
        errors.append(RowError(row, "person_id", "is empty (give a person_id or document_number)"))
    dose_number = _dose_number(row, cells.get("dose_number", ""), errors)
    vaccinated_on = _vaccinated_on(row, cells.get("vaccinated_on", ""), today, errors)
    vaccine = _vaccine(row, cells.get("vaccine", ""), errors)
    if errors or dose_number is None or vaccinated_on is None:
        return sorted(errors, key=error_order)
    return ImportedDose(row, person_id, document, dose_number, vaccinated_on, vaccine)


def parse_dose_rows(
    rows: Iterable[tuple[int, Mapping[str, str]]], *, today: date
) -> tuple[list[ImportedDose], list[RowError]]:
    good: list[ImportedDose] = []
    errors: list[RowError] = []
    for number, cells in rows:
        parsed = parse_dose_row(number, cells, today=today)
        if isinstance(parsed, list):
            errors.extend(parsed)
        else:
            good.append(parsed)
    return good, errors


def error_order(error: RowError) -> tuple[int, int, str]:
    position = COLUMNS.index(error.column) if error.column in COLUMNS else len(COLUMNS)
    return error.row, position, error.column


def _dose_number(row: int, raw: str, errors: list[RowError]) -> int | None:
    if not raw:
        errors.append(RowError(row, "dose_number", "is empty"))
        return None
    if not raw.isascii() or not raw.isdigit() or int(raw) not in DOSE_NUMBERS:
        errors.append(RowError(row, "dose_number", "a dose number is a whole number from 1 to 10"))
        return None
    return int(raw)


def _vaccinated_on(row: int, raw: str, today: date, errors: list[RowError]) -> date | None:
    if not raw:
        errors.append(RowError(row, "vaccinated_on", "is empty"))
        return None
    matched = _DAY.fullmatch(raw)
    try:
        day = date(*(int(part) for part in matched.groups())) if matched else None
    except ValueError:
        day = None
    if day is None:
        errors.append(RowError(row, "vaccinated_on", "not a date (YYYY-MM-DD)"))
    elif day > today:
        errors.append(RowError(row, "vaccinated_on", f"{day} is in the future"))
    elif day < FIRST_DOSE_DAY:
        reason = f"{day} is before the first COVID-19 vaccine doses ({FIRST_DOSE_DAY})"
        errors.append(RowError(row, "vaccinated_on", reason))
    else:
        return day
    return None


def _vaccine(row: int, raw: str, errors: list[RowError]) -> str | None:
    if not raw:
        return None
    if len(raw) > _VACCINE_LONGEST:
        errors.append(RowError(row, "vaccine", f"at most {_VACCINE_LONGEST} characters"))
    elif personal_numbers(raw):
        # The number is somebody's: it has no place in a product's name (the column was
        # probably shifted). Refused rather than redacted, and never repeated.
        errors.append(RowError(row, "vaccine", "holds an ID or phone number, not a vaccine name"))
    else:
        return raw
    return None

"""Rows of a community's household spreadsheet: each checked on its own, every fault
reported with its row number and column, so the good rows can be imported regardless."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import date
from typing import TypeVar

from cordon_registry.domain.contact import (
    PersonalDetails,
    normalise_address,
    normalise_name,
    normalise_phone,
)
from cordon_registry.domain.errors import InvalidInput, RegistryError
from cordon_registry.domain.identity import parse_document
from cordon_registry.domain.residents import RESIDENCE_TYPES, checked_categories, checked_reason

COLUMNS = (
    "grid",
    "compound",
    "building",
    "unit",
    "room",
    "residence_type",
    "name",
    "document_type",
    "document_number",
    "phone",
    "address",
    "categories",
    "key_person_reason",
)
REQUIRED = ("grid", "compound", "building", "room", "residence_type", "name", "document_number")
HEADER_ALIASES = {
    "网格": "grid",
    "小区": "compound",
    "院落": "compound",
    "楼栋": "building",
    "单元": "unit",
    "房号": "room",
    "居住类型": "residence_type",
    "姓名": "name",
    "证件类型": "document_type",
    "证件号码": "document_number",
    "身份证号": "document_number",
    "电话": "phone",
    "户籍地址": "address",
    "台账类别": "categories",
    "重点人员原因": "key_person_reason",
}
RESIDENCE_ALIASES = {"业主": "owner", "租户": "tenant", "暂住": "temporary", "返乡": "returnee"}
PLACE_LEVELS = ("grid", "compound", "building", "unit", "household")
_LIST = re.compile("[;,|\uff0c\uff1b]")  # also the full-width comma and semicolon
T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class RowError:
    row: int
    column: str
    reason: str

    def __str__(self) -> str:
        return f"row {self.row}, {self.column}: {self.reason}"


@dataclass(frozen=True, slots=True)
class ImportedPlace:
    place_id: str
    kind: str
    name: str
    parent_id: str


@dataclass(frozen=True, slots=True)
class ImportedResident:
    row: int
    places: tuple[ImportedPlace, ...]
    """From the grid down to the household, each under the one before."""
    residence_type: str
    details: PersonalDetails
    categories: tuple[str, ...]
    key_person_reason: str | None

    @property
    def household_id(self) -> str:
        return self.places[-1].place_id


def header_columns(header: Iterable[str], aliases: Mapping[str, str] = HEADER_ALIASES) -> list[str]:
    """Spreadsheet headers as column names (English or the usual Chinese ones)."""
    return [aliases.get(h.strip().lower(), h.strip().lower()) for h in header]


def missing_columns(columns: Iterable[str]) -> list[RowError]:
    present = set(columns)
    return [RowError(1, c, "required column is missing") for c in REQUIRED if c not in present]


def place_id(community_id: str, kind: str, path: tuple[str, ...]) -> str:
    """A place id derived from the names leading to it, so a re-import finds the same place."""
    digest = hashlib.sha256("/".join((community_id, kind, *path)).encode()).hexdigest()[:12]
    return f"{community_id}-{kind[0]}{digest}"


def imported_places(community_id: str, cells: Mapping[str, str]) -> tuple[ImportedPlace, ...]:
    names = {
        "grid": cells["grid"],
        "compound": cells["compound"],
        "building": cells["building"],
        "unit": cells.get("unit", ""),
        "household": cells["room"],
    }
    places: list[ImportedPlace] = []
    parent, path = community_id, tuple[str, ...]()
    for kind in PLACE_LEVELS:
        if not names[kind]:
            continue  # a building without units
        path = (*path, f"{kind}:{names[kind]}")
        the_id = place_id(community_id, kind, path)
        places.append(ImportedPlace(the_id, kind, names[kind], parent))
        parent = the_id
    return tuple(places)


def parse_row(
    row: int, raw: Mapping[str, str], *, community_id: str, today: date
) -> ImportedResident | list[RowError]:
    cells = {k: re.sub(r"\s+", " ", v).strip() for k, v in raw.items() if k}
    errors = [RowError(row, c, "is empty") for c in REQUIRED if not cells.get(c)]

    def checked(column: str, parse: Callable[[str], T]) -> T | None:
        try:
            return parse(cells.get(column, ""))
        except RegistryError as error:
            errors.append(RowError(row, error.field, error.reason))
            return None

    residence_type = checked("residence_type", _residence_type)
    name = normalise_name(cells["name"]) if cells.get("name") else None
    document = None
    if cells.get("document_number"):
        document = checked(
            "document_number",
            lambda number: parse_document(
                cells.get("document_type") or "resident_id", number, today=today
            ),
        )
    phone = checked("phone", normalise_phone)
    address = checked("address", normalise_address)
    categories = checked("categories", _categories)
    key_reason = checked(
        "key_person_reason", lambda r: checked_reason(r, "key_person_reason") if r else None
    )
    if errors or name is None or document is None or residence_type is None:
        return sorted(errors, key=error_order)
    return ImportedResident(
        row=row,
        places=imported_places(community_id, cells),
        residence_type=residence_type,
        details=PersonalDetails(name, document, phone, address),
        categories=tuple(categories or ()),
        key_person_reason=key_reason,
    )


def error_order(error: RowError) -> tuple[int, int, str]:
    """Row by row, and within a row in the order of the columns."""
    position = COLUMNS.index(error.column) if error.column in COLUMNS else len(COLUMNS)
    return error.row, position, error.column


def _residence_type(raw: str) -> str | None:
    if not raw:
        return None
    value = RESIDENCE_ALIASES.get(raw, raw)
    if value not in RESIDENCE_TYPES:
        raise InvalidInput(
            "residence_type", f"{value!r} is not one of {', '.join(RESIDENCE_TYPES)}"
        )
    return value


def _categories(raw: str) -> list[str]:
    return list(checked_categories([c.strip() for c in _LIST.split(raw) if c.strip()]))


def parse_rows(
    rows: Iterable[tuple[int, Mapping[str, str]]], *, community_id: str, today: date
) -> tuple[list[ImportedResident], list[RowError]]:
    """The good rows and every fault; a document seen twice in the file is a fault too."""
    good: list[ImportedResident] = []
    errors: list[RowError] = []
    first_seen: dict[str, int] = {}
    for number, cells in rows:
        parsed = parse_row(number, cells, community_id=community_id, today=today)
        if isinstance(parsed, list):
            errors.extend(parsed)
            continue
        key = parsed.details.document.key
        if key in first_seen:
            errors.append(
                RowError(number, "document_number", f"the same document as row {first_seen[key]}")
            )
            continue
        first_seen[key] = number
        good.append(parsed)
    return good, sorted(errors, key=error_order)

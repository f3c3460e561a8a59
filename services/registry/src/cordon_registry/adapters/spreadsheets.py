"""Reading a community's spreadsheet (CSV or XLSX) as numbered rows of named cells.

Row numbers are the ones a person sees in the spreadsheet: the header is row 1.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import zipfile
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import openpyxl  # type: ignore[import-untyped]

from cordon_core.inputs import storable_text
from cordon_registry.domain.errors import InvalidInput
from cordon_registry.domain.importing import HEADER_ALIASES, header_columns

Rows = list[tuple[int, dict[str, str]]]


@dataclass(frozen=True, slots=True)
class SheetLayout:
    """How a kind of spreadsheet is read: its header names, and how many rows it may have
    (``None``: as many as the body limit lets through)."""

    aliases: Mapping[str, str] = field(default_factory=lambda: HEADER_ALIASES)
    max_rows: int | None = None


RESIDENTS = SheetLayout()


def read_spreadsheet(path: Path) -> tuple[list[str], Rows]:
    suffix = path.suffix.lower()
    if suffix == ".csv":
        return read_csv(path.read_bytes())
    if suffix in (".xlsx", ".xlsm"):
        return read_xlsx(path.read_bytes())
    raise InvalidInput("file", f"{path.name}: expected a .csv or .xlsx file")


def read_csv(content: bytes, layout: SheetLayout = RESIDENTS) -> tuple[list[str], Rows]:
    try:
        text = content.decode("utf-8-sig")  # Excel writes a byte-order mark
    except UnicodeDecodeError as error:
        raise InvalidInput("file", f"not UTF-8 text (byte {error.start})") from None
    lines = csv.reader(io.StringIO(text))
    try:
        return _named(enumerate(lines, start=1), layout)
    except csv.Error as error:  # e.g. a field beyond csv.field_size_limit()
        raise InvalidInput("file", f"row {lines.line_num}: {error}") from None


def read_xlsx(content: bytes, layout: SheetLayout = RESIDENTS) -> tuple[list[str], Rows]:
    if not content:
        raise InvalidInput("file", "the file is empty")
    try:
        book = openpyxl.load_workbook(io.BytesIO(content), read_only=True, data_only=True)
    except (zipfile.BadZipFile, KeyError, ValueError, OSError):
        # openpyxl says "File is not a zip file" or names a missing part: not our answer.
        raise InvalidInput("file", "not an XLSX workbook") from None
    try:
        sheet = book.worksheets[0]
        cells = ([_text(v) for v in row] for row in sheet.iter_rows(values_only=True))
        return _named(enumerate(cells, start=1), layout)
    finally:
        book.close()


def _text(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))  # a room number typed as 501 arrives as 501.0
    if isinstance(value, dt.datetime):
        return value.date().isoformat()
    return str(value)


def _named(lines: Iterator[tuple[int, list[str]]], layout: SheetLayout) -> tuple[list[str], Rows]:
    first = next(lines, None)
    if first is None:
        raise InvalidInput("file", "the file is empty")
    columns = header_columns(first[1], layout.aliases)
    rows: Rows = []
    for number, cells in lines:
        if not any(c.strip() for c in cells):
            continue
        if layout.max_rows is not None and len(rows) == layout.max_rows:
            # Stop reading here: a zipped XLSX under the byte limit can still unfold into
            # millions of rows.
            raise InvalidInput(
                "file", f"more than {layout.max_rows} rows below the header: split the file"
            )
        rows.append((number, dict(zip(columns, _storable(number, cells), strict=False))))
    return columns, rows


def _storable(row: int, cells: list[str]) -> list[str]:
    for cell in cells:
        try:
            storable_text(cell)
        except ValueError as refused:
            raise InvalidInput("file", f"row {row}: a cell {refused}") from None
    return cells

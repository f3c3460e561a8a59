"""Reading a lab's CSV batch: a header row naming the columns (sample_id, result, and
optionally person_id, collected_at), then one result per row."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator

from cordon_isolation.domain.results import ResultRow, RowError, missing_columns, parse_row


def read_results_csv(text: str) -> Iterator[ResultRow | list[RowError]]:
    """Each data row parsed or refused; a file without the required columns yields one
    list naming them (row 1, the header)."""
    reader = csv.DictReader(io.StringIO(text.lstrip("\ufeff")), skipinitialspace=True)
    try:
        header = [h.strip() for h in reader.fieldnames or []]
    except csv.Error as error:
        yield [RowError(1, "*", f"unreadable CSV: {error}")]
        return
    if missing := missing_columns(header):
        yield missing
        return
    reader.fieldnames = header
    while True:
        try:
            fields = next(reader)
        except StopIteration:
            return
        except csv.Error as error:  # e.g. a field beyond csv.field_size_limit(): the rest
            # (the DictReader's own line_num is set only after a row is read)
            row = reader.reader.line_num
            yield [RowError(row, "*", f"unreadable CSV, stopped here: {error}")]
            return
        row = reader.line_num  # the header is row 1, as in a spreadsheet
        if None in fields:
            yield [RowError(row, "*", f"more fields than the {len(header)} columns")]
            continue
        if not any((v or "").strip() for v in fields.values()):
            continue  # blank line
        if unstorable := [c for c, v in fields.items() if v and "\x00" in v]:
            yield [RowError(row, c, "contains the NUL character") for c in unstorable]
            continue
        yield parse_row(row, fields)

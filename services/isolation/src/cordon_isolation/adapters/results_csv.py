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
    header = [h.strip() for h in reader.fieldnames or []]
    if missing := missing_columns(header):
        yield missing
        return
    reader.fieldnames = header
    for fields in reader:
        row = reader.line_num  # the header is row 1, as in a spreadsheet
        if None in fields:
            yield [RowError(row, "*", f"more fields than the {len(header)} columns")]
            continue
        if not any((v or "").strip() for v in fields.values()):
            continue  # blank line
        yield parse_row(row, fields)

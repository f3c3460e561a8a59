"""Identity documents: the 18-digit resident ID number (GB 11643) and other typed documents.

A resident ID is six digits of region code, the birth date as YYYYMMDD, a three-digit
sequence and an ISO 7064 MOD 11-2 check character (``X`` standing for 10).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date
from typing import Literal, get_args

from cordon_registry.domain.errors import InvalidInput

DocumentType = Literal[
    "resident_id", "passport", "hk_macao_permit", "taiwan_permit", "foreign_permanent_id", "other"
]
DOCUMENT_TYPES: tuple[str, ...] = get_args(DocumentType)

PROVINCE_CODES = frozenset(
    {11, 12, 13, 14, 15, 21, 22, 23, 31, 32, 33, 34, 35, 36, 37, 41, 42, 43, 44, 45, 46}
    | {50, 51, 52, 53, 54, 61, 62, 63, 64, 65, 71, 81, 82}
)
"""Province-level region codes (GB/T 2260), Taiwan (71), Hong Kong (81) and Macao (82)."""

_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_CHECK_CHARACTERS = "10X98765432"
_RESIDENT_ID_SHAPE = re.compile(r"^\d{17}[\dX]$")
_PASSPORT_SHAPE = re.compile(r"^[A-Z0-9]{5,20}$")
FIELD = "document_number"


@dataclass(frozen=True, slots=True)
class Document:
    """A validated, normalised identity document."""

    type: DocumentType
    number: str

    @property
    def key(self) -> str:
        """What makes two documents the same one, for the keyed hash."""
        return f"{self.type}:{self.number}"


def check_character(first_17: str) -> str:
    """The ISO 7064 MOD 11-2 check character of the first 17 digits."""
    total = sum(int(digit) * weight for digit, weight in zip(first_17, _WEIGHTS, strict=True))
    return _CHECK_CHARACTERS[total % 11]


def birth_date_of(number: str, *, today: date) -> date:
    """The birth date written in a resident ID, refused if unreal or in the future."""
    text = number[6:14]
    try:
        born = date(int(text[:4]), int(text[4:6]), int(text[6:8]))
    except ValueError:
        raise InvalidInput(FIELD, f"birth date {text} is not a real date (YYYYMMDD)") from None
    if born > today:
        raise InvalidInput(FIELD, f"birth date {born.isoformat()} is in the future")
    if born.year < 1880:
        raise InvalidInput(FIELD, f"birth date {born.isoformat()} is before 1880")
    return born


def validate_resident_id(raw: str, *, today: date) -> str:
    """The normalised 18-character resident ID, or ``InvalidInput`` naming what is wrong."""
    number = raw.strip().upper()
    if not _RESIDENT_ID_SHAPE.match(number):
        raise InvalidInput(
            FIELD, "a resident ID number has 18 characters: 17 digits and a check digit (0-9 or X)"
        )
    province = int(number[:2])
    if province not in PROVINCE_CODES:
        raise InvalidInput(
            FIELD, f"region code {number[:6]} is not a valid region (no province {number[:2]})"
        )
    birth_date_of(number, today=today)
    expected = check_character(number[:17])
    if number[17] != expected:
        raise InvalidInput(
            FIELD, f"check digit {number[17]} is wrong (ISO 7064 MOD 11-2 gives {expected})"
        )
    return number


def parse_document(document_type: str, raw: str, *, today: date) -> Document:
    """Validate a document of any type: resident IDs fully, others by their shape."""
    if document_type not in DOCUMENT_TYPES:
        raise InvalidInput(
            "document_type", f"{document_type!r} is not one of {', '.join(DOCUMENT_TYPES)}"
        )
    if document_type == "resident_id":
        return Document("resident_id", validate_resident_id(raw, today=today))
    number = re.sub(r"[\s-]", "", raw).upper()
    if document_type == "other":
        if not 1 <= len(number) <= 40:
            raise InvalidInput(FIELD, "a document number has 1 to 40 characters")
    elif not _PASSPORT_SHAPE.match(number):
        raise InvalidInput(FIELD, f"a {document_type} number has 5 to 20 letters or digits")
    return Document(document_type, number)  # type: ignore[arg-type]

"""Redaction of mainland ID numbers and mobile numbers from free text before it travels.

Free text written by staff should stay in a service's private tables; where some of it
must be published, ``redact`` it first. Every pattern is bounded by digit lookarounds,
``(?<!\\d)`` and ``(?!\\d)``: a regex ``\\b`` finds no boundary between a Chinese character
and a digit (both are word characters), so ``电话13800138000`` would slip through it.
``\\d`` is Unicode-aware here, so full-width digits (U+FF10 to U+FF19) are caught as well.
"""

from __future__ import annotations

import re
from typing import Annotated

from pydantic import AfterValidator

ID_NUMBER_MARK = "[已隐去身份证号]"
PHONE_NUMBER_MARK = "[已隐去电话]"

_SEP = r"[\s\-]?"
_X = r"[Xx\uFF38\uFF58]"  # X, and the full-width X that some input methods type

ID_NUMBER = re.compile(
    # 18 digits (the last may be X), alone or grouped 6-8-4; then the old 15-digit form,
    # alone or grouped 6-6-3. Any such run counts, valid checksum or not: a mistyped
    # number is still somebody's.
    rf"(?<!\d)(?:\d{{6}}{_SEP}\d{{8}}{_SEP}\d{{3}}(?:\d|{_X})|\d{{6}}{_SEP}\d{{6}}{_SEP}\d{{3}})"
    rf"(?![\d\uFF38\uFF58Xx])"
)
PHONE_NUMBER = re.compile(
    # A mobile number 1[3-9]xxxxxxxxx, with an optional +86 / 0086 / 86 prefix and spaces
    # or hyphens anywhere between its digits (138-0013-8000, +86 138 0013 8000).
    rf"(?<!\d)(?:(?:[+\uFF0B]|00|\uFF10\uFF10)?[8\uFF18][6\uFF16]{_SEP})?"
    rf"[1\uFF11]{_SEP}[3-9\uFF13-\uFF19](?:{_SEP}\d){{9}}(?!\d)"
)


def redact(text: str) -> str:
    """``text`` with every ID number and mobile number replaced by a mark."""
    return PHONE_NUMBER.sub(PHONE_NUMBER_MARK, ID_NUMBER.sub(ID_NUMBER_MARK, text))


def redact_optional(text: str | None) -> str | None:
    return None if text is None else redact(text)


def personal_numbers(text: str) -> list[str]:
    """The ID numbers and mobile numbers found in ``text`` (what ``redact`` would remove)."""
    ids = ID_NUMBER.findall(text)
    return [*ids, *PHONE_NUMBER.findall(ID_NUMBER.sub(ID_NUMBER_MARK, text))]


RedactedText = Annotated[str, AfterValidator(redact)]
"""Free text in an event contract: redacted whenever the event is built or read, so no
ID number or mobile number is stored in the event or published with it."""

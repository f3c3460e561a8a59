"""A resident's personal details: what stays inside the registry, encrypted at rest."""

from __future__ import annotations

import re
from dataclasses import dataclass

from cordon_registry.domain.errors import InvalidInput
from cordon_registry.domain.identity import Document

_MOBILE = re.compile(r"^1[3-9]\d{9}$")
_LANDLINE = re.compile(r"^0\d{9,11}$")


@dataclass(frozen=True, slots=True)
class PersonalDetails:
    name: str
    document: Document
    phone: str | None = None
    address: str | None = None
    """The registered (户籍) address; where the person lives is their household."""


def normalise_name(raw: str) -> str:
    name = " ".join(raw.split())
    if not 1 <= len(name) <= 100:
        raise InvalidInput("name", "a name has 1 to 100 characters")
    return name


def normalise_phone(raw: str | None) -> str | None:
    if raw is None or not raw.strip():
        return None
    phone = re.sub(r"[\s()-]", "", raw)
    phone = phone.removeprefix("+86")
    if not (_MOBILE.match(phone) or _LANDLINE.match(phone)):
        raise InvalidInput(
            "phone", "not a phone number (11-digit mobile starting with 1, or 0 and area code)"
        )
    return phone


def normalise_address(raw: str | None) -> str | None:
    if raw is None or not raw.strip():
        return None
    address = " ".join(raw.split())
    if len(address) > 300:
        raise InvalidInput("address", "an address has at most 300 characters")
    return address

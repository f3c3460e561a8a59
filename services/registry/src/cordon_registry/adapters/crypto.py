"""Crypto-shredding and keyed hashes for personal data.

Each person gets a random 256-bit data key; their personal fields are sealed with it
(AES-GCM, the person id and field name as associated data, so a sealed value cannot be
moved to another person or field). The data key is stored wrapped by the master key;
deleting that one row makes every sealed copy, in events, tables and backups, unreadable.

Documents, names and phones are also kept as keyed hashes (HMAC-SHA256 with the district's
index key): the unique index on documents and exact-match search work on those, never on
clear text.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import unicodedata

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

_NONCE_BYTES = 12


class KeyUnavailable(Exception):
    """The person's data key is gone (erased) or does not open this value."""


def derive_key(secret: str, *, purpose: str, district: str) -> bytes:
    """A 256-bit key for one purpose, from an operator-supplied secret."""
    hkdf = HKDF(algorithm=hashes.SHA256(), length=32, salt=district.encode(), info=purpose.encode())
    return hkdf.derive(secret.encode())


class PersonalDataVault:
    """Seals and opens personal fields; computes the keyed hashes used for lookups."""

    def __init__(self, *, master_secret: str, index_secret: str, district: str) -> None:
        self._master = AESGCM(
            derive_key(master_secret, purpose="wrap-data-keys", district=district)
        )
        self._index_key = derive_key(index_secret, purpose="blind-index", district=district)

    def new_data_key(self, person_id: str) -> tuple[bytes, bytes]:
        """A fresh data key and its wrapped form for the key table."""
        key = AESGCM.generate_key(bit_length=256)
        nonce = os.urandom(_NONCE_BYTES)
        return key, nonce + self._master.encrypt(nonce, key, person_id.encode())

    def unwrap(self, person_id: str, wrapped: bytes) -> bytes:
        try:
            return self._master.decrypt(
                wrapped[:_NONCE_BYTES], wrapped[_NONCE_BYTES:], person_id.encode()
            )
        except InvalidTag:
            raise KeyUnavailable(f"data key of {person_id} does not unwrap") from None

    @staticmethod
    def seal(key: bytes, person_id: str, field: str, value: str) -> str:
        nonce = os.urandom(_NONCE_BYTES)
        sealed = AESGCM(key).encrypt(nonce, value.encode(), f"{person_id}/{field}".encode())
        return base64.b64encode(nonce + sealed).decode()

    @staticmethod
    def open(key: bytes, person_id: str, field: str, sealed: str) -> str:
        raw = base64.b64decode(sealed)
        try:
            plain = AESGCM(key).decrypt(
                raw[:_NONCE_BYTES], raw[_NONCE_BYTES:], f"{person_id}/{field}".encode()
            )
        except InvalidTag:
            raise KeyUnavailable(f"{field} of {person_id} does not open") from None
        return plain.decode()

    def blind_index(self, kind: str, value: str) -> bytes:
        """Keyed hash of a normalised value: equal inputs match, nothing can be read back."""
        normal = unicodedata.normalize("NFKC", value).strip().casefold()
        return hmac.new(self._index_key, f"{kind}:{normal}".encode(), hashlib.sha256).digest()

"""Stable pseudonymous ids for visitors' documents: the gate never publishes a document
number, only this keyed hash of it (the same visitor id at every gate of the district)."""

from __future__ import annotations

import hashlib
import hmac


class Pseudonymizer:
    """Stable pseudonymous ids for visitors' documents (keyed HMAC, district-wide)."""

    def __init__(self, key: str) -> None:
        self._key = key.encode()

    def visitor_id(self, document_type: str, document_number: str) -> str:
        digest = hmac.new(
            self._key, f"{document_type}:{document_number.upper()}".encode(), hashlib.sha256
        )
        return f"v-{digest.hexdigest()[:20]}"

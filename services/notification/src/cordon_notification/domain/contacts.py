"""Recipients and how each is reached. Staff and offices register their channels with this
service; residents are reached by their pseudonymous person id only (inbox, SMS gateway)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from cordon_notification.domain.delivery import QuietHours

RecipientKind = Literal["staff", "resident", "office"]
LANGUAGES = ("zh-CN", "en")


@dataclass(frozen=True)
class Contact:
    """How a member of staff or an office wants to be told. Never published."""

    recipient_id: str
    language: str
    email: str | None = None
    webhook_url: str | None = None
    inbox: bool = True
    quiet_hours: QuietHours | None = None

    def channels(self) -> list[str]:
        found = []
        if self.email:
            found.append("email")
        if self.webhook_url:
            found.append("webhook")
        if self.inbox:
            found.append("inbox")
        return found


@dataclass(frozen=True)
class Recipient:
    recipient_id: str
    kind: RecipientKind
    contact: Contact


def office_id(community_id: str) -> str:
    """The community office's recipient id."""
    return f"office-{community_id}"


def sub_district_id(sub_district: str) -> str:
    """The sub-district's recipient id."""
    return f"subdistrict-{sub_district}"

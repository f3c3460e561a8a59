"""Deliveries: one message to one recipient on one channel, and the rules of when it goes.

Quiet hours hold back what is not urgent; a recipient's rate limit folds a flood into a
digest; a failed attempt is retried after an exponential backoff.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, time, timedelta, tzinfo
from urllib.parse import urlsplit

NAMESPACE = uuid.UUID("5f7d6c1e-7a51-4b0e-9c7e-2f7c3b1d9a40")


def delivery_id(source: uuid.UUID | str, recipient_id: str, channel: str) -> uuid.UUID:
    """The delivery's id, derived from (source, recipient, channel): one per triple, so a
    redelivered event or a restarted service finds the delivery it already queued."""
    return uuid.uuid5(NAMESPACE, f"{source}|{recipient_id}|{channel}")


def event_id(delivery: uuid.UUID, what: str) -> uuid.UUID:
    """The id of a delivery's ``what`` event (queued, sent, ...): appending it twice is a no-op."""
    return uuid.uuid5(delivery, what)


@dataclass(frozen=True)
class QuietHours:
    """A local-time window (it may span midnight) in which nothing but urgent alerts go."""

    start: time
    end: time

    def contains(self, moment: time) -> bool:
        if self.start <= self.end:
            return self.start <= moment < self.end
        return moment >= self.start or moment < self.end

    def ends_after(self, now: datetime, zone: tzinfo) -> datetime:
        """When the window that contains ``now`` closes."""
        local = now.astimezone(zone)
        end = local.replace(hour=self.end.hour, minute=self.end.minute, second=0, microsecond=0)
        if end <= local:
            end += timedelta(days=1)
        return end


def due_at(now: datetime, *, urgent: bool, quiet: QuietHours | None, zone: tzinfo) -> datetime:
    """When a message may go: urgent ones now; others after the quiet hours, if in them."""
    if urgent or quiet is None or not quiet.contains(now.astimezone(zone).time()):
        return now
    return quiet.ends_after(now, zone)


def backoff(attempt: int, base_s: float, max_s: float) -> timedelta:
    """Wait after the ``attempt``-th failure: base, 2 x base, 4 x base, ... at most max."""
    return timedelta(seconds=min(base_s * 2 ** (attempt - 1), max_s))


@dataclass(frozen=True)
class RateLimit:
    count: int
    window: timedelta

    def held(
        self,
        recent: Mapping[tuple[str, str], int],
        queued: Iterable[tuple[str, str, bool]],
    ) -> list[bool]:
        """For each new (recipient, channel, urgent) in order: is it held for a digest?

        ``recent`` counts what each recipient and channel got on its own in the window;
        urgent messages always go on their own and do not use up the allowance."""
        used = dict(recent)
        verdicts = []
        for recipient, channel, urgent in queued:
            if urgent:
                verdicts.append(False)
                continue
            key = (recipient, channel)
            verdicts.append(used.get(key, 0) >= self.count)
            used[key] = used.get(key, 0) + 1
        return verdicts


@dataclass(frozen=True)
class Delivery:
    """A message rendered for one recipient and channel, ready to queue."""

    delivery_id: uuid.UUID
    source_id: str
    source_event_type: str | None
    recipient_id: str
    recipient_kind: str
    channel: str
    address: str | None
    template: str
    language: str
    urgent: bool
    subject: str
    body: str
    community_id: str | None
    due_at: datetime
    created_at: datetime
    held: bool = False


PUSH_CHANNELS = ("email", "webhook", "sms")
"""Channels that interrupt someone, and so are rate-limited; the inbox is a list, it is not."""

HTTP_CHANNELS = ("webhook", "sms")


def lane(channel: str, address: str | None) -> str:
    """Which sends share a concurrency limit: HTTP channels per origin (one bot platform or
    gateway), e-mail through its one SMTP server, the inbox on its own. A slow origin fills
    only its own lane."""
    if channel in HTTP_CHANNELS and address:
        parts = urlsplit(address)
        return f"{channel} {parts.scheme}://{parts.netloc}".lower()
    return channel

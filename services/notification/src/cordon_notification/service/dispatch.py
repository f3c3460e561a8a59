"""The consumer of other services' events: keeps the directory current and tells the
right people about what happened, in the transaction that records the event as applied."""

from __future__ import annotations

from collections.abc import Sequence

import asyncpg

from cordon_core.envelope import Envelope
from cordon_notification.adapters.directory import Directory, Residence
from cordon_notification.domain.contacts import (
    Contact,
    Recipient,
    RecipientKind,
    office_id,
    sub_district_id,
)
from cordon_notification.domain.notices import NOTIFYING_EVENTS, Notice, notices_for
from cordon_notification.projections.directory import DIRECTORY_EVENTS, DirectoryProjection
from cordon_notification.service.queueing import MessageQueue, Tell

EVENT_TYPES = tuple(dict.fromkeys(m.event_type for m in (*DIRECTORY_EVENTS, *NOTIFYING_EVENTS)))


class EventDispatcher:
    event_types = EVENT_TYPES

    def __init__(
        self, directory: Directory, queue: MessageQueue, *, schema: str, language: str
    ) -> None:
        self.directory = directory
        self.projection = DirectoryProjection(schema)
        self.queue = queue
        self.schema = schema
        self.language = language

    async def apply_batch(self, conn: asyncpg.Connection, envelopes: Sequence[Envelope]) -> None:
        notices: list[tuple[Envelope, Notice]] = []
        for envelope in envelopes:
            await self.projection.apply(conn, envelope.payload)
            notices.extend((envelope, n) for n in notices_for(envelope.payload))
        if notices:
            await self.tell(conn, notices)

    async def tell(self, conn: asyncpg.Connection, notices: list[tuple[Envelope, Notice]]) -> None:
        named = {n.person_id for _, n in notices if n.person_id}
        people = await self.directory.residences(conn, named)
        # A person the registry does not know (isolated as "unregistered") is looked after
        # by the community that ordered their isolation.
        strangers = named - set(people)
        isolated = await self.directory.isolated_in(conn, strangers) if strangers else {}

        def community_of(notice: Notice) -> str | None:
            if notice.community_id:
                return notice.community_id
            found = people.get(notice.person_id or "")
            return found.community_id if found else isolated.get(notice.person_id or "")

        communities = {c for _, n in notices if (c := community_of(n))}
        sub_districts = await self.directory.sub_districts(conn, communities)
        addressed = [
            (envelope, notice, community, recipient_id, kind)
            for envelope, notice in notices
            for community in [community_of(notice)]
            for recipient_id, kind in _recipients(notice, people, community, sub_districts)
        ]
        contacts = await self.directory.contacts(conn, [a[3] for a in addressed])
        tells = [
            Tell(
                source_id=str(envelope.event_id),
                source_event_type=envelope.event_type,
                recipient=Recipient(
                    recipient_id,
                    kind,
                    contacts.get(recipient_id) or Contact(recipient_id, self.language),
                ),
                template=notice.template,
                urgent=notice.urgent,
                community_id=community,
                facts=_facts(notice, people.get(notice.person_id or "")),
                cause=envelope,
            )
            for envelope, notice, community, recipient_id, kind in addressed
        ]
        await self.queue.queue(conn, tells)
        alerts = [(e, n, c) for e, n, c, _, kind in addressed if kind != "resident"]
        await conn.executemany(
            f"""INSERT INTO {self.schema}.alerts (event_id, template, community_id, occurred_at)
                VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING""",
            list({(e.event_id, n.template, c, e.occurred_at) for e, n, c in alerts}),
        )


def _recipients(
    notice: Notice,
    people: dict[str, Residence],
    community: str | None,
    sub_districts: dict[str, str],
) -> list[tuple[str, RecipientKind]]:
    """(recipient id, kind) for each audience of the notice."""
    residence = people.get(notice.person_id or "")
    found: list[tuple[str, RecipientKind]] = []
    for audience in notice.audiences:
        if audience == "resident" and notice.person_id:
            found.append((notice.person_id, "resident"))
        elif audience == "local_staff":
            staff = residence.local_staff if residence else ()
            # Nobody looks after them (a visitor, an unassigned building): the office is told.
            found.extend((s, "staff") for s in staff)
            if not staff and community:
                found.append((office_id(community), "office"))
        elif audience == "office" and community:
            found.append((office_id(community), "office"))
        elif audience == "sub_district" and community in sub_districts:
            found.append((sub_district_id(sub_districts[community]), "office"))
    return list(dict.fromkeys(found))


def _facts(notice: Notice, residence: Residence | None) -> dict[str, object]:
    return {
        "person_id": notice.person_id,
        "building_id": residence.building_id if residence else None,
        "household_id": residence.household_id if residence else None,
        **notice.facts,
    }

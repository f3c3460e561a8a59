"""The notification service as it runs: its own OS process, real Kafka and PostgreSQL, the
registry's, gate's and isolation's events published by stand-ins exactly as those services
publish them, a real SMTP server and a real HTTP webhook receiver."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest
from notification_servers import SmtpServer, WebhookServer

from cordon_contracts import gate, isolation, lab, registry
from cordon_core.envelope import DomainEvent, EventMetadata, EventRegistry, PendingEvent
from cordon_core.kafka import make_producer
from cordon_core.runtime import ServiceRuntime
from cordon_core.settings import ServiceSettings
from cordon_testing import ServiceProcess, wait_until
from cordon_testing.kafka import header, read_topic
from cordon_testing.plugin import settings_env

ADMIN = "test-notification-admin"
T0 = datetime(2022, 4, 1, 8, 0, tzinfo=UTC)
SHANGHAI = ZoneInfo("Asia/Shanghai")


def service_env(settings: ServiceSettings, smtp_port: int, **more: str) -> dict[str, str]:
    return {
        **settings_env(settings),
        "CORDON_NOTIFICATION_ADMIN_TOKEN": ADMIN,
        "CORDON_SMTP_PORT": str(smtp_port),
        "CORDON_DELIVERY_POLL_INTERVAL_MS": "20",
        "CORDON_DELIVERY_BACKOFF_S": "0.2",
        "CORDON_DELIVERY_MAX_ATTEMPTS": "3",
        "CORDON_DELIVERY_LEASE_S": "3",
        "CORDON_WEBHOOK_TIMEOUT_S": "30",
        "CORDON_RATE_LIMIT_COUNT": "2",
        "CORDON_RATE_LIMIT_WINDOW_S": "2",
        "CORDON_SCHEDULE_INTERVAL_S": "0.3",
        "CORDON_DAILY_REPORT_TIME": "00:00",
        "CORDON_CHECK_IN_REMINDER_TIME": "23:59",
        **more,
    }


@pytest.fixture(scope="module")
def notifier(
    module_settings: ServiceSettings, smtp: SmtpServer, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ServiceProcess]:
    env = service_env(module_settings, smtp.port)
    process = ServiceProcess("cordon_notification", env, tmp_path_factory.mktemp("n"))
    yield process.start()
    process.stop()


class Upstream:
    """A stand-in for another service: its events appended to its store, published by its
    own relay on its topic, as it would publish them."""

    def __init__(self, runtime: ServiceRuntime) -> None:
        self.runtime = runtime

    async def publish(self, stream: str, payload: DomainEvent) -> uuid.UUID:
        [envelope] = await self.runtime.store.append(
            stream,
            [PendingEvent(payload)],
            expected_version=None,
            metadata=EventMetadata.new(actor="test", district="d"),
        )
        return envelope.event_id


@pytest.fixture(scope="module")
async def upstreams(module_settings: ServiceSettings) -> AsyncIterator[dict[str, Upstream]]:
    async with contextlib_upstreams(module_settings) as found:
        yield found


def contracts(*registries: EventRegistry) -> EventRegistry:
    combined = EventRegistry()
    for r in registries:
        combined.include(r)
    return combined


class contextlib_upstreams:
    def __init__(self, settings: ServiceSettings) -> None:
        self.runtimes = {
            "registry": ServiceRuntime(
                service="registry", settings=settings, registry=contracts(registry.registry)
            ),
            "gate": ServiceRuntime(
                service="gate", settings=settings, registry=contracts(gate.registry)
            ),
            "isolation": ServiceRuntime(
                service="isolation",
                settings=settings,
                registry=contracts(isolation.registry, lab.registry),
            ),
        }

    async def __aenter__(self) -> dict[str, Upstream]:
        for runtime in self.runtimes.values():
            await runtime.start()
        return {name: Upstream(r) for name, r in self.runtimes.items()}

    async def __aexit__(self, *_: object) -> None:
        for runtime in self.runtimes.values():
            await runtime.stop()


class Api:
    def __init__(self, service: ServiceProcess) -> None:
        self.service = service

    async def call(self, method: str, path: str, token: str = ADMIN, **kw: Any) -> httpx.Response:
        async with httpx.AsyncClient(base_url=self.service.url, timeout=10) as client:
            return await client.request(
                method, path, headers={"Authorization": f"Bearer {token}"}, **kw
            )

    async def contact(self, recipient: str, **body: Any) -> None:
        response = await self.call("PUT", f"/v1/contacts/{recipient}", json=body)
        assert response.status_code == 200, response.text

    async def deliveries(self, **where: str) -> list[dict[str, Any]]:
        response = await self.call("GET", "/v1/deliveries", params=where)
        assert response.status_code == 200, response.text
        found: list[dict[str, Any]] = response.json()
        return found

    async def settled(self, count: int, **where: str) -> list[dict[str, Any]]:
        """Wait for ``count`` deliveries matching ``where``, all sent or failed."""
        return await wait_until(
            lambda: self.deliveries(**where),
            until=lambda ds: (
                len(ds) == count and all(d["status"] in ("sent", "failed") for d in ds)
            ),
            timeout=60,
            what=f"{count} settled deliveries for {where}",
        )


class Place:
    """A building in a grid of a fresh community, with its grid worker and building head."""

    def __init__(self) -> None:
        tag = uuid.uuid4().hex[:8]
        self.community, self.grid, self.building = f"c{tag}", f"g{tag}", f"b{tag}"
        self.sub_district = f"s{tag}"
        self.grid_worker, self.building_head = f"gw-{tag}", f"bh-{tag}"

    async def staff(self, up: Upstream) -> None:
        for place, role, staff in (
            (self.grid, "grid_worker", self.grid_worker),
            (self.building, "building_head", self.building_head),
        ):
            await up.publish(
                f"place-{place}",
                registry.StaffAssigned(
                    place_id=place, community_id=self.community, role=role,  # type: ignore[arg-type]
                    staff_id=staff, assigned_at=T0,
                ),
            )  # fmt: skip

    async def resident(self, up: Upstream, api: Api) -> str:
        person = f"p-{uuid.uuid4().hex[:20]}"
        await up.publish(
            f"person-{person}",
            registry.ResidentRegistered(
                person_id=person, household_id=f"{self.building}-101",
                building_id=self.building, compound_id="cp1", grid_id=self.grid,
                community_id=self.community, sub_district_id=self.sub_district,
                residence_type="owner", registered_at=T0,
            ),
        )  # fmt: skip

        async def known() -> dict[str, Any] | None:
            r = await api.call("GET", f"/v1/people/{person}/recipients")
            return r.json() if r.status_code == 200 else None

        await wait_until(
            known,
            until=lambda r: r is not None and len(r["local_staff"]) == 2,
            timeout=60,
            what=f"the service to know who looks after {person}",
        )
        return person

    def fever(self, person: str, temperature: float = 38.4) -> gate.FeverDetected:
        return gate.FeverDetected(
            scan_id=uuid.uuid4().hex, checkpoint_id=f"{self.community}-east",
            community_id=self.community, compound_id="cp1", person_id=person,
            subject_kind="resident", temperature_c=temperature, threshold_c=37.3,
            scanned_at=T0,
        )  # fmt: skip


@pytest.fixture
async def place(upstreams: dict[str, Upstream]) -> Place:
    place = Place()
    await place.staff(upstreams["registry"])
    return place


async def notification_events(settings: ServiceSettings, **expect: int) -> list[Any]:
    return await read_topic(
        settings.kafka_bootstrap, f"{settings.topic_prefix}.notification.events", timeout=30
    )


def of_type(records: list[Any], event_type: str, delivery_ids: set[str]) -> list[dict[str, Any]]:
    found = []
    for r in records:
        if header(r, "ce_type") == f"cordon.{event_type}":
            body = json.loads(r.value)
            if body["delivery_id"] in delivery_ids:
                found.append(body)
    return found


async def test_a_gate_fever_reaches_the_grid_worker_once_on_each_channel_even_when_redelivered(
    notifier: ServiceProcess,
    upstreams: dict[str, Upstream],
    place: Place,
    webhook: WebhookServer,
    smtp: SmtpServer,
    module_settings: ServiceSettings,
) -> None:
    api = Api(notifier)
    mail = f"{place.grid_worker}@grid.example"
    await api.contact(place.grid_worker, language="en", email=mail, webhook_url=webhook.url("/ok"))
    await api.contact(place.building_head, language="zh-CN")
    person = await place.resident(upstreams["registry"], api)

    fever = await upstreams["gate"].publish(f"checkpoint-{place.community}", place.fever(person))
    delivered = await api.settled(4, source_id=str(fever))
    # The same Kafka record again (a redelivery), then a marker behind it on its partition.
    gate_topic = f"{module_settings.topic_prefix}.gate.events"
    [record] = [
        r for r in await read_topic(module_settings.kafka_bootstrap, gate_topic, timeout=20)
        if header(r, "ce_id") == str(fever)
    ]  # fmt: skip
    producer = make_producer(module_settings)
    await producer.start()
    await producer.send_and_wait(
        gate_topic, record.value, key=record.key, headers=list(record.headers)
    )
    await producer.stop()
    marker = await upstreams["gate"].publish(
        f"checkpoint-{place.community}", place.fever(person, 39.0)
    )
    await api.settled(4, source_id=str(marker))

    assert sorted((d["recipient_id"], d["channel"], d["status"]) for d in delivered) == [
        (place.building_head, "inbox", "sent"),
        (place.grid_worker, "email", "sent"),
        (place.grid_worker, "inbox", "sent"),
        (place.grid_worker, "webhook", "sent"),
    ]
    assert len(await api.deliveries(source_id=str(fever))) == 4
    hooks = [r for r in webhook.on("/ok") if r.source == str(fever)]
    assert len(hooks) == 1 and "38.4" in hooks[0].body["text"]["content"]
    mails = [m for m in smtp.mailbox.to(mail) if "38.4" in m["Subject"]]
    assert (
        len(mails) == 1
        and mails[0]["Subject"] == f"[URGENT] Fever at {place.community}-east: 38.4 °C"
    )
    email_delivery = next(d for d in delivered if d["channel"] == "email")
    assert mails[0]["Message-ID"].startswith(f"<{email_delivery['delivery_id']}@")
    zh = next(d for d in delivered if d["recipient_id"] == place.building_head)
    assert zh["language"] == "zh-CN" and zh["subject"].startswith("【紧急】")

    records = await notification_events(module_settings)
    ids = {d["delivery_id"] for d in delivered}
    assert len(of_type(records, "NotificationQueued", ids)) == 4
    assert len(of_type(records, "NotificationSent", ids)) == 4
    on_the_wire = b"".join(r.value for r in records)
    assert mail.encode() not in on_the_wire and b"38.4" not in on_the_wire


async def isolated(up: dict[str, Upstream], place: Place, person: str) -> str:
    order = f"o-{uuid.uuid4().hex[:8]}"
    await up["isolation"].publish(
        f"person-{person}",
        isolation.IsolationStarted(
            order_id=order, person_id=person, level="home", community_id=place.community,
            reason="close contact", starts_at=T0, planned_end_at=T0 + timedelta(days=7),
        ),
    )  # fmt: skip
    return order


def missed(order: str, person: str) -> isolation.CheckInMissed:
    return isolation.CheckInMissed(order_id=order, person_id=person, due_at=T0, detected_at=T0)


async def test_a_webhook_that_fails_twice_then_succeeds_delivers_once(
    notifier: ServiceProcess, upstreams: dict[str, Upstream], place: Place, webhook: WebhookServer
) -> None:
    api = Api(notifier)
    await api.contact(place.grid_worker, webhook_url=webhook.url("/flaky/2"), inbox=False)
    await api.contact(place.building_head, inbox=False)
    person = await place.resident(upstreams["registry"], api)
    order = await isolated(upstreams, place, person)

    event = await upstreams["isolation"].publish(f"person-{person}", missed(order, person))
    [d] = await api.settled(1, source_id=str(event))

    assert (d["status"], d["attempts"], d["template"]) == ("sent", 3, "check_in_missed")
    tries = [r for r in webhook.on("/flaky/2") if r.key == d["delivery_id"]]
    assert len(tries) == 3 and webhook.accepted[d["delivery_id"]] == 1


async def test_a_webhook_that_keeps_failing_ends_in_notification_failed(
    notifier: ServiceProcess,
    upstreams: dict[str, Upstream],
    place: Place,
    webhook: WebhookServer,
    module_settings: ServiceSettings,
) -> None:
    api = Api(notifier)
    await api.contact(place.grid_worker, webhook_url=webhook.url("/down"), inbox=False)
    await api.contact(place.building_head, inbox=False)
    person = await place.resident(upstreams["registry"], api)

    fever = await upstreams["gate"].publish(f"checkpoint-{place.community}", place.fever(person))
    [d] = await api.settled(1, source_id=str(fever))

    assert (d["status"], d["attempts"], d["last_error"]) == ("failed", 3, "webhook HTTP 500")
    [failed] = await wait_until(
        lambda: notification_events(module_settings),
        until=lambda rs: bool(of_type(rs, "NotificationFailed", {d["delivery_id"]})),
        what="NotificationFailed on Kafka",
    ) and of_type(
        await notification_events(module_settings), "NotificationFailed", {d["delivery_id"]}
    )
    assert (failed["reason"], failed["attempts"]) == ("webhook HTTP 500", 3)


async def test_quiet_hours_hold_a_missed_check_in_but_not_a_breach(
    notifier: ServiceProcess, upstreams: dict[str, Upstream], place: Place, webhook: WebhookServer
) -> None:
    api = Api(notifier)
    now = datetime.now(SHANGHAI)
    start, end = (now - timedelta(hours=1)).time(), (now + timedelta(hours=1)).time()
    await api.contact(
        place.grid_worker,
        webhook_url=webhook.url("/ok"),
        inbox=False,
        quiet_hours={"start": start.strftime("%H:%M"), "end": end.strftime("%H:%M")},
    )
    await api.contact(place.building_head, inbox=False)
    person = await place.resident(upstreams["registry"], api)
    order = await isolated(upstreams, place, person)

    check_in = await upstreams["isolation"].publish(f"person-{person}", missed(order, person))
    breach = await upstreams["isolation"].publish(
        f"person-{person}",
        isolation.IsolationBreached(
            order_id=order, person_id=person, breach_id="b1", kind="left_home",
            observed_at=T0, reported_by=place.building_head,
        ),
    )  # fmt: skip
    [sent] = await api.settled(1, source_id=str(breach), recipient_id=place.grid_worker)
    [held] = await api.deliveries(source_id=str(check_in))

    assert sent["status"] == "sent" and sent["urgent"]
    assert held["status"] == "pending" and held["attempts"] == 0
    due = datetime.fromisoformat(held["due_at"]).astimezone(SHANGHAI)
    assert due.strftime("%H:%M") == end.strftime("%H:%M") and due > now
    assert not [r for r in webhook.requests if r.source == str(check_in)]


async def test_a_breach_by_someone_the_registry_does_not_know_reaches_the_ordering_office(
    notifier: ServiceProcess, upstreams: dict[str, Upstream], place: Place
) -> None:
    api = Api(notifier)
    office = f"office-{place.community}"
    await api.contact(office, inbox=True)
    stranger = f"u-{uuid.uuid4().hex[:8]}"  # isolated as unregistered: no ResidentRegistered
    order = await isolated(upstreams, place, stranger)

    breach = await upstreams["isolation"].publish(
        f"person-{stranger}",
        isolation.IsolationBreached(
            order_id=order, person_id=stranger, breach_id="b1", kind="left_home",
            observed_at=T0, reported_by="gw1",
        ),
    )  # fmt: skip
    [told] = await api.settled(1, source_id=str(breach), recipient_id=office)

    assert (told["channel"], told["status"], told["urgent"]) == ("inbox", "sent", True)
    assert told["template"] == "isolation_breached"


async def test_a_flood_beyond_the_rate_limit_is_folded_into_one_digest(
    notifier: ServiceProcess,
    upstreams: dict[str, Upstream],
    place: Place,
    webhook: WebhookServer,
    module_settings: ServiceSettings,
) -> None:
    api = Api(notifier)
    path = f"/digest-{place.grid_worker}"
    await api.contact(place.grid_worker, language="en", webhook_url=webhook.url(path), inbox=False)
    await api.contact(place.building_head, inbox=False)
    person = await place.resident(upstreams["registry"], api)
    order = await isolated(upstreams, place, person)

    for n in range(6):
        await upstreams["isolation"].publish(
            f"person-{person}",
            isolation.SupportRequested(
                order_id=order, person_id=person, request_id=f"r{n}", kind="food",
                requested_at=T0,
            ),
        )  # fmt: skip
    [digest] = await wait_until(
        lambda: api.deliveries(recipient_id=place.grid_worker, channel="webhook"),
        until=lambda ds: any(d["template"] == "digest" and d["status"] == "sent" for d in ds),
        timeout=60,
        what="the digest to be sent",
    ) and [
        d
        for d in await api.deliveries(recipient_id=place.grid_worker, channel="webhook")
        if d["template"] == "digest"
    ]
    mine = await api.deliveries(recipient_id=place.grid_worker, channel="webhook")

    statuses = sorted(d["status"] for d in mine if d["template"] == "support_requested")
    assert statuses == ["folded"] * 4 + ["sent"] * 2
    assert digest["subject"] == "4 notifications"
    assert len(webhook.on(path)) == 3
    [sent] = await wait_until(
        lambda: notification_events(module_settings),
        until=lambda rs: bool(of_type(rs, "NotificationSent", {digest["delivery_id"]})),
        what="the digest's NotificationSent",
    ) and of_type(
        await notification_events(module_settings), "NotificationSent", {digest["delivery_id"]}
    )
    folded = {d["delivery_id"] for d in mine if d["status"] == "folded"}
    assert set(sent["covers"]) == folded


async def test_a_resident_reads_the_isolation_notice_in_the_inbox_with_their_token(
    notifier: ServiceProcess,
    upstreams: dict[str, Upstream],
    place: Place,
    module_settings: ServiceSettings,
) -> None:
    api = Api(notifier)
    person = await place.resident(upstreams["registry"], api)
    await isolated(upstreams, place, person)
    token = (await api.call("POST", f"/v1/inbox-tokens/{person}")).json()["token"]

    messages = await wait_until(
        lambda: api.call("GET", f"/v1/inbox/{person}", token=token),
        until=lambda r: r.status_code == 200 and len(r.json()) == 1,
        what="the isolation notice in the resident's inbox",
    )
    [notice] = messages.json()
    read = await api.call("POST", f"/v1/inbox/{person}/{notice['delivery_id']}/read", token=token)
    stranger = await api.call("GET", f"/v1/inbox/{person}", token="not-theirs")
    unread = await api.call("GET", f"/v1/inbox/{person}?unread_only=true", token=token)

    assert notice["subject"] == "隔离告知书" and "居家隔离" in notice["body"]
    assert read.status_code == 200 and stranger.status_code == 401 and unread.json() == []
    assert await wait_until(
        lambda: notification_events(module_settings),
        until=lambda rs: bool(of_type(rs, "NotificationRead", {notice["delivery_id"]})),
        what="NotificationRead on Kafka",
    )


async def test_the_office_gets_a_daily_report_of_its_alerts(
    notifier: ServiceProcess, upstreams: dict[str, Upstream], place: Place
) -> None:
    api = Api(notifier)
    await api.contact(place.grid_worker, inbox=True)
    person = await place.resident(upstreams["registry"], api)
    fever = await upstreams["gate"].publish(f"checkpoint-{place.community}", place.fever(person))
    await api.settled(2, source_id=str(fever))

    await api.contact(f"office-{place.community}", language="en")
    [report] = await wait_until(
        lambda: api.deliveries(recipient_id=f"office-{place.community}", template="daily_report"),
        until=lambda ds: len(ds) == 1 and ds[0]["status"] == "sent",
        what="the office's daily report",
    )

    today = datetime.now(SHANGHAI).date()
    assert report["subject"] == f"Daily report {today}: {place.community}"
    assert report["body"] == "fever_detected: 1"


async def test_a_crash_while_sending_neither_loses_nor_duplicates_a_delivery(
    settings: ServiceSettings,
    smtp: SmtpServer,
    webhook: WebhookServer,
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    env = service_env(settings, smtp.port, CORDON_DELIVERY_LEASE_S="2")
    logs = tmp_path_factory.mktemp("crash")
    first = ServiceProcess("cordon_notification", env, logs).start()
    async with contextlib_upstreams(settings) as up:
        api = Api(first)
        place = Place()
        await place.staff(up["registry"])
        await api.contact(place.grid_worker, webhook_url=webhook.url("/slow"), inbox=False)
        await api.contact(place.building_head, inbox=False)
        person = await place.resident(up["registry"], api)
        fevers = [
            await up["gate"].publish(f"checkpoint-{place.community}", place.fever(person))
            for _ in range(3)
        ]
        await wait_until(
            lambda: _requests(webhook, "/slow"), until=lambda n: n == 3, what="3 held requests"
        )

        first.kill()  # SIGKILL while the webhook holds all three requests
        webhook.held.set()
        fevers.append(
            await up["gate"].publish(f"checkpoint-{place.community}", place.fever(person))
        )
        second = ServiceProcess("cordon_notification", env, logs).start()
        try:
            api = Api(second)
            delivered = [(await api.settled(1, source_id=str(f)))[0] for f in fevers]
            records = await notification_events(settings)
        finally:
            second.stop()

    ids = {d["delivery_id"] for d in delivered}
    keys = [r.key for r in webhook.on("/slow")]
    assert [d["status"] for d in delivered] == ["sent"] * 4
    assert set(keys) == ids and all(webhook.accepted[k] == 1 for k in ids)
    assert sorted(keys.count(d["delivery_id"]) for d in delivered) == [1, 2, 2, 2]
    assert len(of_type(records, "NotificationSent", ids)) == 4


async def _requests(webhook: WebhookServer, path: str) -> int:
    return len(webhook.on(path))


async def test_a_slow_webhook_does_not_hold_the_deliveries_claimed_with_it(
    notifier: ServiceProcess, upstreams: dict[str, Upstream], place: Place, webhook: WebhookServer
) -> None:
    webhook.held = asyncio.Event()
    api = Api(notifier)
    await api.contact(place.grid_worker, webhook_url=webhook.url("/slow"), inbox=False)
    await api.contact(place.building_head, webhook_url=webhook.url("/ok"), inbox=False)
    person = await place.resident(upstreams["registry"], api)

    fever = await upstreams["gate"].publish(f"checkpoint-{place.community}", place.fever(person))
    [quick] = await api.settled(1, source_id=str(fever), recipient_id=place.building_head)
    [slow] = await api.deliveries(source_id=str(fever), recipient_id=place.grid_worker)
    held = [r for r in webhook.on("/slow") if r.source == str(fever)]
    webhook.held.set()
    [late] = await api.settled(1, source_id=str(fever), recipient_id=place.grid_worker)
    webhook.held = asyncio.Event()

    assert quick["status"] == "sent" and (slow["status"], slow["attempts"]) == ("sending", 1)
    assert len(held) == 1 and late["status"] == "sent" and late["attempts"] == 1

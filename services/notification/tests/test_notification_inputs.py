"""Hostile input at the notification service as it runs: unstorable contacts, NUL in a
query, page sizes below one and oversized bodies get a 4xx naming the field, and nothing is
stored (no contact, no event, nothing on the topic)."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Iterator

import httpx
import pytest
from notification_servers import SmtpServer

from cordon_core.settings import ServiceSettings
from cordon_testing import ServiceProcess
from cordon_testing.plugin import settings_env
from cordon_testing.refusals import ServiceRecord

ADMIN = "inputs-notification-admin"


@pytest.fixture(scope="module")
def notifier(
    module_settings: ServiceSettings, smtp: SmtpServer, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ServiceProcess]:
    env = {
        **settings_env(module_settings),
        "CORDON_NOTIFICATION_ADMIN_TOKEN": ADMIN,
        "CORDON_SMTP_PORT": str(smtp.port),
    }
    process = ServiceProcess("cordon_notification", env, tmp_path_factory.mktemp("n"))
    yield process.start(ready_timeout=180)
    process.stop()


@pytest.fixture
async def client(notifier: ServiceProcess) -> AsyncIterator[httpx.AsyncClient]:
    headers = {"Authorization": f"Bearer {ADMIN}"}
    async with httpx.AsyncClient(base_url=notifier.url, headers=headers, timeout=60) as c:
        yield c


def named(response: httpx.Response) -> list[str]:
    return [str(e["loc"][-1]) for e in response.json()["detail"]]


async def test_unstorable_contacts_nul_queries_bad_limits_and_huge_bodies_are_refused(
    client: httpx.AsyncClient, module_settings: ServiceSettings
) -> None:
    recipient = f"gw-{uuid.uuid4().hex[:8]}"
    before = await ServiceRecord(module_settings, "notification").count()
    json_type = {"content-type": "application/json"}
    answers = {
        "nul email": await client.put(
            f"/v1/contacts/{recipient}", content=b'{"email": "a\\u0000@b.cn"}', headers=json_type
        ),
        "surrogate email": await client.put(
            f"/v1/contacts/{recipient}", content=b'{"email": "\\ud800@b.cn"}', headers=json_type
        ),
        "nul in a query": await client.get("/v1/deliveries", params={"source_id": "s\x00"}),
        "limit 0": await client.get(f"/v1/inbox/{recipient}", params={"limit": 0}),
        "limit -1": await client.get(f"/v1/inbox/{recipient}", params={"limit": -1}),
    }
    huge = await client.put(f"/v1/contacts/{recipient}", json={"email": "a@b.cn" + "x" * 300_000})
    stored = await client.get(f"/v1/contacts/{recipient}")

    assert {what: r.status_code for what, r in answers.items()} == dict.fromkeys(answers, 422)
    assert named(answers["nul email"]) == named(answers["surrogate email"]) == ["email"]
    assert named(answers["limit 0"]) == named(answers["limit -1"]) == ["limit"]
    assert huge.status_code == 413
    assert stored.status_code == 404, "no contact was saved"
    assert await ServiceRecord(module_settings, "notification").count() == before

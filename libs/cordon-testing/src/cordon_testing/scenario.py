"""One example request for every write operation of the five services, in an order that
builds what each needs (a place before its households, a pass before its revocation).

The cross-service tests walk this scenario: the idempotency test sends each example twice
with one key; the privacy test sends it with hostile free text. An operation found in an
OpenAPI document but missing here makes both tests fail, so a new endpoint cannot escape.
Values written ``$name`` are taken from the scenario's context: answers kept by earlier
steps (``keep``) and a few moments around now.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx

from cordon_testing.system import LAB, System

Operation = tuple[str, str, str]
"""(service, METHOD, OpenAPI path)."""
Context = dict[str, Any]
Prepare = Callable[[System, Context], Awaitable[None]]


@dataclass(frozen=True)
class Step:
    service: str
    method: str
    template: str
    path: str = ""
    json: Any = None
    csv: str | None = None
    upload: str | None = None
    auth: str = "admin"
    keep: dict[str, str] = field(default_factory=dict)
    """Context name -> field of the answer to keep."""
    prepare: Prepare | None = None
    """Waits for what the step needs from other services (e.g. a delivery to read)."""
    example: bool = True
    """False: a step that only builds state for later ones (sent once, without a key)."""

    @property
    def operation(self) -> Operation:
        return (self.service, self.method, self.template)


def resident_id(serial: int, born: str = "19900307") -> str:
    """A valid 18-character resident ID number (GB 11643 check character)."""
    first = f"110101{born}{serial % 1000:03d}"
    weights = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
    total = sum(int(d) * w for d, w in zip(first, weights, strict=True))
    return first + "10X98765432"[total % 11]


def moments() -> Context:
    now = datetime.now(UTC)
    return {
        "now": now.isoformat(),
        "hour_ago": (now - timedelta(hours=1)).isoformat(),
        "three_days_ago": (now - timedelta(days=3)).isoformat(),
        "tomorrow": (now + timedelta(days=1)).isoformat(),
        "next_week": (now + timedelta(days=7)).isoformat(),
        "today": now.date().isoformat(),
        "in_a_month": (now.date() + timedelta(days=30)).isoformat(),
    }


def resolve(value: Any, ctx: Context) -> Any:
    """``value`` with every ``$name`` string taken from the context."""
    if isinstance(value, str) and value.startswith("$") and value[1:] in ctx:
        return ctx[value[1:]]
    if isinstance(value, dict):
        return {k: resolve(v, ctx) for k, v in value.items()}
    if isinstance(value, list):
        return [resolve(v, ctx) for v in value]
    return value


def substitute(text: str, ctx: Context) -> str:
    """``text`` with every ``$name`` in it replaced (longest names first)."""
    for name, value in sorted(ctx.items(), key=lambda kv: -len(kv[0])):
        text = text.replace(f"${name}", str(value))
    return text


def resolve_path(step: Step, ctx: Context) -> str:
    return substitute(step.path or step.template, ctx)


def headers(system: System, step: Step, ctx: Context) -> dict[str, str]:
    if step.auth == "device":
        return {"Authorization": f"Bearer {ctx['device_token']}"}
    if step.auth == "lab":
        return {"Authorization": f"Bearer {LAB[1]}"}
    return system.admin(step.service)


async def send(
    client: httpx.AsyncClient,
    system: System,
    step: Step,
    ctx: Context,
    body: Any = None,
    extra_headers: dict[str, str] | None = None,
) -> httpx.Response:
    """Send the step's request (``body`` instead of its example body, if given)."""
    url = system.url(step.service) + resolve_path(step, ctx)
    hdrs = {**headers(system, step, ctx), **(extra_headers or {})}
    if step.csv is not None:
        hdrs["Content-Type"] = "text/csv"
        content = substitute(body if body is not None else step.csv, ctx)
        return await client.request(step.method, url, content=content.encode(), headers=hdrs)
    if step.upload is not None:
        content = substitute(body if body is not None else step.upload, ctx)
        files = {"file": ("results.csv", content.encode(), "text/csv")}
        return await client.request(step.method, url, files=files, headers=hdrs)
    payload = resolve(body if body is not None else step.json, ctx)
    if payload is None:
        return await client.request(step.method, url, headers=hdrs)
    return await client.request(step.method, url, json=payload, headers=hdrs)


def keep(step: Step, answer: httpx.Response, ctx: Context) -> None:
    if step.keep:
        data = answer.json()
        for name, fieldname in step.keep.items():
            ctx[name] = data[fieldname]


async def poll(what: str, probe: Callable[[], Awaitable[Any]], timeout: float = 90.0) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = await probe()
        if found:
            return found
        await asyncio.sleep(0.5)
    raise AssertionError(f"gave up waiting for {what}")


async def an_inbox_delivery(system: System, ctx: Context) -> None:
    """The office's inbox gets the breach alert: its id is what ``read`` marks read."""
    async with httpx.AsyncClient(base_url=system.url("notification")) as client:

        async def probe() -> Any:
            answer = await client.get(
                "/v1/deliveries",
                params={"recipient_id": "office-c1", "channel": "inbox", "status": "sent"},
                headers=system.admin("notification"),
            )
            return answer.json() if answer.status_code == 200 else None

        deliveries = await poll("a delivery to office-c1's inbox", probe)
        ctx["delivery_id"] = deliveries[0]["delivery_id"]


async def a_review(system: System, ctx: Context) -> None:
    """A positive corrected to negative puts the policy's order on the review list."""
    async with httpx.AsyncClient(base_url=system.url("isolation")) as client:

        async def probe() -> Any:
            answer = await client.get(
                "/v1/reviews", params={"community_id": "c1"}, headers=system.admin("isolation")
            )
            return answer.json() if answer.status_code == 200 else None

        reviews = await poll("a review of the corrected positive", probe)
        ctx["review_id"] = reviews[0]["review_id"]


async def housemates_listed(system: System, ctx: Context) -> None:
    """The isolation service has heard of $person's housemates: they are its candidates."""
    async with httpx.AsyncClient(base_url=system.url("isolation")) as client:

        async def probe() -> Any:
            answer = await client.get(
                f"/v1/people/{ctx['person']}/contact-candidates",
                headers=system.admin("isolation"),
            )
            if answer.status_code != 200:
                return None
            listed = {c["candidate_id"] for c in answer.json()["candidates"]}
            return {ctx["person4"], ctx["person5"]} <= listed

        await poll("$person's housemates among the contact candidates", probe)


def place(place_id: str, kind: str, name: str, parent: str | None, example: bool = False) -> Step:
    body = {"place_id": place_id, "kind": kind, "name": name, "parent_id": parent}
    return Step("registry", "POST", "/v1/places", json=body, example=example)


def resident(household: str, serial: int, name: str, keep_as: str, example: bool) -> Step:
    body = {
        "household_id": household,
        "residence_type": "owner",
        "name": name,
        "document_number": resident_id(serial),
        "phone": f"1390000{serial:04d}",
        "address": "幸福路1号",
        "key_person_reason": None,
    }
    return Step(
        "registry",
        "POST",
        "/v1/residents",
        json=body,
        keep={keep_as: "person_id"},
        example=example,
    )


def visitor_scan(scan_id: str) -> dict[str, Any]:
    return {
        "scan_id": scan_id,
        "checkpoint_id": "c1-east",
        "scanned_at": "$now",
        "direction": "in",
        "temperature_c": 36.5,
        "health_code": "green",
        "visitor": {
            "document_type": "passport",
            "document_number": f"E{scan_id}000",
            "name": "访客",
            "phone": "13900001111",
            "reason": "送快递",
        },
    }


VISITOR_DOCUMENT = {"document_type": "passport", "document_number": "E7700001"}
SCENARIO: list[Step] = [
    # --- registry: the hierarchy, residents, screening, staff --------------------------
    place("sd1", "sub_district", "东城街道", None, example=True),
    place("c1", "community", "和平社区", "sd1"),
    *(place(f"c1-g{n}", "grid", f"第{n}网格", "c1") for n in (1, 2, 3)),
    place("c1-k1", "compound", "幸福小区", "c1-g1"),
    place("c1-b1", "building", "1号楼", "c1-k1"),
    place("c1-u1", "unit", "1单元", "c1-b1"),
    *(place(f"c1-h{n}", "household", f"10{n}", "c1-u1") for n in (1, 2, 3)),
    Step("registry", "POST", "/v1/places/{place_id}/rename", "/v1/places/c1-b1/rename",
         json={"name": "一号楼"}),
    Step("registry", "POST", "/v1/places/{place_id}/merge", "/v1/places/c1-h3/merge",
         json={"into_place_id": "c1-h2"}),
    Step("registry", "POST", "/v1/places/{place_id}/close", "/v1/places/c1-g3/close",
         json={"reason": "网格调整"}),
    Step("registry", "POST", "/v1/places/{place_id}/staff", "/v1/places/c1-g1/staff",
         json={"role": "grid_worker", "staff_id": "gw1"}),
    Step("registry", "POST", "/v1/places/{place_id}/staff", "/v1/places/c1-g2/staff",
         json={"role": "grid_worker", "staff_id": "gw2"}, example=False),
    Step("registry", "DELETE", "/v1/places/{place_id}/staff/{role}/{staff_id}",
         "/v1/places/c1-g2/staff/grid_worker/gw2"),
    resident("c1-h1", 11, "王五", "person", example=True),
    resident("c1-h1", 12, "赵六", "person2", example=False),
    resident("c1-h1", 13, "钱七", "person3", example=False),
    resident("c1-h2", 14, "孙九", "person4", example=False),  # $person's housemates once
    resident("c1-h2", 15, "周十", "person5", example=False),  # $person has moved to c1-h2
    Step("registry", "POST", "/v1/residents/{person_id}/move", "/v1/residents/$person/move",
         json={"household_id": "c1-h2"}),
    Step("registry", "PUT", "/v1/residents/{person_id}/categories",
         "/v1/residents/$person/categories", json={"categories": ["returnee"]}),
    Step("registry", "PUT", "/v1/residents/{person_id}/key-person",
         "/v1/residents/$person/key-person", json={"reason": "外地返回"}),
    Step("registry", "POST", "/v1/residents/{person_id}/key-person/clear",
         "/v1/residents/$person/key-person/clear", json={"reason": "已满14天"}),
    Step("registry", "POST", "/v1/residents/{person_id}/vaccinations",
         "/v1/residents/$person/vaccinations",
         json={"dose_number": 1, "vaccinated_on": "2021-05-01", "vaccine": "科兴"}),
    Step("registry", "POST", "/v1/communities/{community_id}/vaccination-imports",
         "/v1/communities/c1/vaccination-imports",
         csv="person_id,dose_number,vaccinated_on,vaccine\n$person,2,2021-06-01,科兴\n"),
    Step("registry", "POST", "/v1/residents/{person_id}/leave", "/v1/residents/$person3/leave",
         json={"reason": "搬离本社区"}),
    Step("registry", "POST", "/v1/residents/{person_id}/erase", "/v1/residents/$person2/erase",
         json={"reason": "本人申请删除"}),
    Step("registry", "PUT", "/v1/risk-areas/{area_code}", "/v1/risk-areas/310115",
         json={"area_name": "浦东新区", "level": "high", "valid_from": "$today",
               "valid_until": "$in_a_month"}),
    Step("registry", "POST", "/v1/communities/{community_id}/screening-rounds",
         "/v1/communities/c1/screening-rounds",
         json={"round_id": "r1", "name": "第一轮排查", "window_days": 3}),
    Step("registry", "POST", "/v1/screening-rounds/{round_id}/visits",
         "/v1/screening-rounds/r1/visits",
         json={"visit_id": "v1", "household_id": "c1-h2", "visited_at": "$now",
               "persons": [{"person_id": "$person", "present": True, "symptoms": []}]}),
    Step("registry", "POST", "/v1/screening-rounds/{round_id}/close",
         "/v1/screening-rounds/r1/close"),
    Step("registry", "POST", "/v1/staff-tokens",
         json={"staff_id": "c1-office", "role": "community_staff", "community_id": "c1"}),
    Step("registry", "DELETE", "/v1/staff-tokens/{staff_id}", "/v1/staff-tokens/c1-office"),
    Step("registry", "POST", "/v1/communities/{community_id}/imports",
         "/v1/communities/c1/imports",
         csv="grid,compound,building,unit,room,residence_type,name,document_number,phone\n"
         f"第1网格,幸福小区,一号楼,1单元,201,tenant,孙八,{resident_id(21)},13900002222\n"),
    # --- notification: contacts and tokens ----------------------------------------------
    Step("notification", "PUT", "/v1/contacts/{recipient_id}", "/v1/contacts/office-c1",
         json={"language": "zh-CN", "inbox": True}),
    Step("notification", "PUT", "/v1/contacts/{recipient_id}", "/v1/contacts/gw9",
         json={"language": "zh-CN", "inbox": True}, example=False),
    Step("notification", "DELETE", "/v1/contacts/{recipient_id}", "/v1/contacts/gw9"),
    Step("notification", "POST", "/v1/inbox-tokens/{recipient_id}", "/v1/inbox-tokens/gw1"),
    # --- projector: dashboard tokens ----------------------------------------------------
    Step("projector", "POST", "/v1/dashboard-tokens",
         json={"staff_id": "c1-viewer", "kind": "community", "id": "c1"}),
    Step("projector", "DELETE", "/v1/dashboard-tokens/{staff_id}",
         "/v1/dashboard-tokens/c1-viewer"),
    # --- gate: checkpoints, devices, policy, passes, restrictions, scans ------------------
    Step("gate", "POST", "/v1/checkpoints",
         json={"checkpoint_id": "c1-east", "community_id": "c1", "compound_id": "c1-k1",
               "name": "东门"}),
    Step("gate", "POST", "/v1/checkpoints/{checkpoint_id}/devices",
         "/v1/checkpoints/c1-east/devices", json={"device_id": "c1-pad"},
         keep={"device_token": "token"}),
    Step("gate", "POST", "/v1/checkpoints/{checkpoint_id}/close",
         "/v1/checkpoints/c1-east/close", json={"reason_code": "maintenance", "note": "修门禁"}),
    Step("gate", "POST", "/v1/checkpoints/{checkpoint_id}/open", "/v1/checkpoints/c1-east/open",
         json={"reason_code": "gates_restored", "note": "已修好"}),
    Step("gate", "PUT", "/v1/communities/{community_id}/gate-policy",
         "/v1/communities/c1/gate-policy", json={"fever_threshold_c": 37.3}),
    Step("gate", "POST", "/v1/passes",
         json={"kind": "temporary", "holder_visitor_document": VISITOR_DOCUMENT,
               "community_id": "c1", "valid_from": "$hour_ago", "valid_until": "$next_week"},
         keep={"pass_id": "pass_id"}),
    Step("gate", "POST", "/v1/passes/batch",
         json={"passes": [
             {"kind": "service", "community_id": "c1", "valid_from": "$hour_ago",
              "valid_until": "$next_week",
              "holder_visitor_document": {"document_type": "passport", "document_number": n}}
             for n in ("E7700002", "E7700003")]}),
    Step("gate", "POST", "/v1/passes/{pass_id}/reissue", "/v1/passes/$pass_id/reissue",
         json={"reason_code": "pass_lost", "note": "出行证丢失"}),
    Step("gate", "POST", "/v1/passes/{pass_id}/revoke", "/v1/passes/$pass_id/revoke",
         json={"reason_code": "pass_abuse", "note": "辱骂卡口人员"}),
    Step("gate", "POST", "/v1/communities/{community_id}/bans", "/v1/communities/c1/bans",
         json={"visitor_document": VISITOR_DOCUMENT, "reason_code": "checkpoint_misconduct",
               "note": "当场销毁出行证"}),
    Step("gate", "POST", "/v1/communities/{community_id}/bans/lift",
         "/v1/communities/c1/bans/lift",
         json={"visitor_document": VISITOR_DOCUMENT, "reason_code": "ban_served",
               "note": "解除"}),
    Step("gate", "PUT", "/v1/communities/{community_id}/exit-quotas",
         "/v1/communities/c1/exit-quotas",
         json={"visitor_document": VISITOR_DOCUMENT, "reason_code": "office_decision",
               "note": "每天一次", "daily_exits": 1}),
    Step("gate", "POST", "/v1/scans", json=visitor_scan("s1"), auth="device"),
    Step("gate", "POST", "/v1/scans/batch", json={"scans": [visitor_scan("s2")]},
         auth="device"),
    # --- isolation: policy, orders and their follow-up, campaigns, labs, reviews ---------
    Step("isolation", "PUT", "/v1/policy",
         json={"release": {"home": {"negative_tests": 0, "min_hours_apart": 0,
                                    "within_hours": 72}},
               "corrected_positive": "review"}),
    Step("isolation", "POST", "/v1/orders",
         json={"person_id": "p-iso1", "level": "home", "community_id": "c1",
               "reason_code": "close_contact", "note": "密接", "starts_at": "$three_days_ago",
               "days": 1, "unregistered": True}),
    Step("isolation", "POST", "/v1/people/{person_id}/isolation/check-ins",
         "/v1/people/p-iso1/isolation/check-ins",
         json={"temperature_c": 36.6, "symptoms": [], "mood_call": "ok",
               "recorded_by": "gw1"}),
    Step("isolation", "POST", "/v1/people/{person_id}/isolation/support-requests",
         "/v1/people/p-iso1/isolation/support-requests",
         json={"request_id": "sr1", "kind": "food", "urgent": False}),
    Step("isolation", "POST",
         "/v1/people/{person_id}/isolation/support-requests/{request_id}/delivered",
         "/v1/people/p-iso1/isolation/support-requests/sr1/delivered",
         json={"delivered_by": "gw1"}),
    Step("isolation", "POST", "/v1/people/{person_id}/isolation/breaches",
         "/v1/people/p-iso1/isolation/breaches",
         json={"breach_id": "b1", "kind": "left_home", "reported_by": "gw1"}),
    Step("isolation", "POST", "/v1/people/{person_id}/isolation/documents/{document}/issued",
         "/v1/people/p-iso1/isolation/documents/notice/issued", json={"issued_by": "gw1"}),
    Step("isolation", "POST", "/v1/people/{person_id}/isolation/documents/{document}/signed",
         "/v1/people/p-iso1/isolation/documents/notice/signed"),
    Step("isolation", "PUT", "/v1/people/{person_id}/isolation/team",
         "/v1/people/p-iso1/isolation/team",
         json={"cadre_id": "cadre1", "police_officer_id": "police1", "doctor_id": "doctor1"}),
    Step("isolation", "POST", "/v1/people/{person_id}/isolation/release",
         "/v1/people/p-iso1/isolation/release"),
    Step("isolation", "POST", "/v1/orders",
         json={"person_id": "p-iso2", "level": "home", "community_id": "c1",
               "reason_code": "close_contact", "days": 14, "unregistered": True},
         example=False),
    Step("isolation", "POST", "/v1/people/{person_id}/isolation/cancel",
         "/v1/people/p-iso2/isolation/cancel",
         json={"reason_code": "entered_in_error", "note": "录错了"}),
    Step("isolation", "POST", "/v1/orders/batch",
         json={"orders": [
             {"person_id": f"p-isob{i}", "level": "home", "community_id": "c1",
              "reason_code": "close_contact", "starts_at": "$hour_ago", "days": 14,
              "unregistered": True}
             for i in (1, 2)
         ]}),
    Step("isolation", "POST", "/v1/campaigns",
         json={"campaign_id": "cp1", "community_id": "c1", "name": "全员核酸第一轮",
               "sampling_point_ids": ["sp1"], "opens_at": "$hour_ago",
               "closes_at": "$tomorrow"}),
    Step("isolation", "POST", "/v1/samples",
         json=[{"sample_id": "sa1", "person_id": "p-iso3", "collected_at": "$hour_ago",
                "campaign_id": "cp1", "sampling_point_id": "sp1"}]),
    Step("isolation", "POST", "/v1/lab/results", auth="lab",
         json={"results": [{"sample_id": "sa1", "result": "negative"}]}),
    Step("isolation", "POST", "/v1/lab/results/csv", auth="lab",
         upload="sample_id,person_id,collected_at,result\n"
         "sa2,$person,$hour_ago,positive\n"),
    Step("isolation", "POST", "/v1/lab/results", auth="lab", example=False,
         json={"results": [{"sample_id": "sa2", "result": "negative"}]}),
    Step("isolation", "POST",
         "/v1/people/{person_id}/contact-candidates/{candidate_id}/confirm",
         "/v1/people/$person/contact-candidates/$person4/confirm",
         json={"decided_by": "c1-office"}, prepare=housemates_listed),
    Step("isolation", "POST",
         "/v1/people/{person_id}/contact-candidates/{candidate_id}/dismiss",
         "/v1/people/$person/contact-candidates/$person5/dismiss",
         json={"decided_by": "c1-office"}),
    Step("isolation", "POST", "/v1/reviews/{review_id}/settle", "/v1/reviews/$review_id/settle",
         json={"outcome": "ended", "settled_by": "c1-office", "note": "复核为阴性"},
         prepare=a_review),
    # --- notification: the breach alert reached the office's inbox ------------------------
    Step("notification", "POST", "/v1/inbox/{recipient_id}/{delivery_id}/read",
         "/v1/inbox/office-c1/$delivery_id/read", prepare=an_inbox_delivery),
]  # fmt: skip

"""A small demo district loaded through the registry's HTTP API: 2 sub-districts, the six
communities the gate demo uses, grids with grid workers, ~300 households, ~800 people.

``await load_demo_district("http://127.0.0.1:8102", admin_token)`` returns the
pseudonymous person ids per community. Deterministic for a seed, and safe to run again.
Only an HTTP client of the registry: the launcher runs the services, it does not import them.
"""

from __future__ import annotations

import csv
import io
import itertools
import random
from collections.abc import Iterator

import httpx

SUB_DISTRICTS = {
    "east": ("East sub-district", ("heping", "xinhua", "dongfeng")),
    "west": ("West sub-district", ("jianshe", "chaoyang", "nanhu")),
}
SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗"
GIVEN = "伟芳娜敏静丽强磊军洋勇艳杰娟涛明超秀霞平刚桂英华建国志红"
REGIONS = ("110101", "310104", "420102", "440106", "510107", "610113")
CATEGORY_ODDS = {"elderly_living_alone": 0.03, "returnee": 0.04, "student": 0.05, "frail": 0.02}
ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
ID_CHECK_CHARACTERS = "10X98765432"


def check_character(first_17: str) -> str:
    """The ISO 7064 MOD 11-2 check character of a resident ID's first 17 digits (GB 11643),
    so that the registry, which verifies it, accepts the demo's documents."""
    total = sum(int(digit) * weight for digit, weight in zip(first_17, ID_WEIGHTS, strict=True))
    return ID_CHECK_CHARACTERS[total % 11]


HEADER = ["grid", "compound", "building", "unit", "room", "residence_type", "name"]
HEADER += [
    "document_type",
    "document_number",
    "phone",
    "address",
    "categories",
    "key_person_reason",
]


def demo_rows(community: str, rng: random.Random, sequence: Iterator[int]) -> list[list[str]]:
    """About 50 households and 130 people: 2 grids x 2 compounds x 2 buildings x 2 units."""
    rows = []
    for grid in (1, 2):
        for compound in ("Peach", "Willow"):
            for building in (1, 2):
                for unit in (1, 2):
                    for floor in range(1, rng.randint(3, 4) + 1):
                        room = f"{floor}0{rng.randint(1, 2)}"
                        for _ in range(rng.choice((1, 2, 2, 3, 3, 4))):
                            rows.append(
                                _person(grid, compound, building, unit, room, rng, next(sequence))
                            )
    return rows


def _person(
    grid: int, compound: str, building: int, unit: int, room: str, rng: random.Random, number: int
) -> list[str]:
    born = f"{rng.randint(1940, 2015)}{rng.randint(1, 12):02d}{rng.randint(1, 28):02d}"
    # The sequence digits count people, so no two demo residents share a document.
    first = f"{rng.choice(REGIONS)}{born}{number % 1000:03d}"
    categories = [c for c, odds in CATEGORY_ODDS.items() if rng.random() < odds]
    return [
        f"{grid}",
        f"{compound} Garden",
        f"{building}",
        f"{unit}",
        room,
        rng.choice(("owner", "owner", "owner", "tenant", "temporary")),
        rng.choice(SURNAMES) + "".join(rng.choices(GIVEN, k=rng.randint(1, 2))),
        "resident_id",
        first + check_character(first),
        f"13{rng.randint(0, 999_999_999):09d}",
        "",
        ";".join(categories),
        "returned from a high-risk area" if rng.random() < 0.01 else "",
    ]


def as_csv(rows: list[list[str]]) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(HEADER)
    writer.writerows(rows)
    return out.getvalue().encode()


async def load_demo_district(
    base_url: str, admin_token: str, *, seed: int = 2022
) -> dict[str, list[str]]:
    """Load the demo district through the API; returns person ids per community."""
    rng, sequence = random.Random(seed), itertools.count()
    headers = {"Authorization": f"Bearer {admin_token}"}
    people: dict[str, list[str]] = {}
    async with httpx.AsyncClient(base_url=base_url, headers=headers, timeout=60) as client:
        for sub_district, (name, communities) in SUB_DISTRICTS.items():
            await _ensure_place(client, sub_district, "sub_district", name, None)
            for community in communities:
                await _ensure_place(client, community, "community", community.title(), sub_district)
                sent = await client.post(
                    f"/v1/communities/{community}/imports",
                    content=as_csv(demo_rows(community, rng, sequence)),
                    headers={"Content-Type": "text/csv"},
                )
                sent.raise_for_status()
                await _assign_grid_workers(client, community)
                listed = await client.get(f"/v1/communities/{community}/residents")
                listed.raise_for_status()
                people[community] = [r["person_id"] for r in listed.json()]
    return people


async def _ensure_place(
    client: httpx.AsyncClient, place_id: str, kind: str, name: str, parent_id: str | None
) -> None:
    body = {"place_id": place_id, "kind": kind, "name": name, "parent_id": parent_id}
    response = await client.post("/v1/places", json=body)
    if response.status_code != 409:  # 409: loaded by an earlier run
        response.raise_for_status()


async def _assign_grid_workers(client: httpx.AsyncClient, community: str) -> None:
    place = await client.get(f"/v1/places/{community}")
    place.raise_for_status()
    grids = sorted(
        (c for c in place.json()["children"] if c["kind"] == "grid"), key=lambda c: c["name"]
    )
    for n, grid in enumerate(grids, start=1):
        body = {"role": "grid_worker", "staff_id": f"gw-{community}-{n:02d}"}
        (await client.post(f"/v1/places/{grid['place_id']}/staff", json=body)).raise_for_status()

"""The four-colour map (四色图) and the three-colour card (三色牌) of an area at a moment.

A person's colour is the strongest of: red (centralized isolation), brown (home
isolation), yellow (home health monitoring), blue (fewer doses than ``full_doses``),
none. A household shows its strongest resident, a building its strongest household.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from datetime import datetime
from typing import Any

from cordon_projector.domain.rules import COLOURS, card_colour
from cordon_projector.read_models.areas import Area, Db, buildings_under, names


def active_levels_sql(schema: str, at: str) -> str:
    """Each order in force at ``at`` (a SQL parameter) with its level at that moment."""
    return f"""SELECT o.order_id, o.person_id, o.community_id, o.starts_at, o.planned_end_at,
                      o.reason, o.place_kind, o.place_id,
                      coalesce((SELECT c.to_level FROM {schema}.isolation_level_change c
                                WHERE c.order_id = o.order_id AND c.changed_at <= {at}
                                ORDER BY c.changed_at DESC LIMIT 1), o.initial_level) AS level
               FROM {schema}.isolation_order o
               WHERE NOT o.cancelled AND o.starts_at <= {at}
                 AND (o.ended_at IS NULL OR o.ended_at > {at})"""


def _counts(counter: Counter[str]) -> dict[str, int]:
    return {colour: counter[colour] for colour in COLOURS}


async def person_colours(
    db: Db, schema: str, area: Area, at: datetime, full_doses: int
) -> list[dict[str, Any]]:
    rows = await db.fetch(
        f"""WITH active AS ({active_levels_sql(schema, "$2")}),
            iso AS (SELECT person_id, max(CASE level WHEN 'centralized' THEN 4
                        WHEN 'home' THEN 3 WHEN 'monitoring' THEN 2 ELSE 0 END) AS rank
                    FROM active GROUP BY person_id)
            SELECT r.person_id, r.grid_id, r.compound_id, r.building_id, r.household_id,
                   r.community_id, r.sub_district_id,
                   greatest(coalesce(iso.rank, 0),
                            CASE WHEN coalesce(d.doses, 0) < $3 THEN 1 ELSE 0 END) AS rank,
                   coalesce(d.doses, 0) >= $3 AS vaccinated
            FROM {schema}.resident r
            LEFT JOIN {schema}.resident_dose d USING (person_id)
            LEFT JOIN iso USING (person_id)
            WHERE r.present AND r.{area.column} = $1""",
        area.id,
        at,
        full_doses,
    )
    return [dict(r) for r in rows]


def _rollup(people: list[dict[str, Any]], key: str) -> dict[str, dict[str, Any]]:
    """Per value of ``key``: colour, households and people by colour, vaccination card."""
    households: dict[str, dict[str, int]] = defaultdict(dict)
    out: dict[str, dict[str, Any]] = {}
    for p in people:
        group = out.setdefault(p[key], {"people": Counter(), "residents": 0, "vaccinated": 0})
        group["people"][COLOURS[p["rank"]]] += 1
        group["residents"] += 1
        group["vaccinated"] += int(p["vaccinated"])
        seen = households[p[key]]
        seen[p["household_id"]] = max(seen.get(p["household_id"], 0), p["rank"])
    for value, group in out.items():
        ranks = households[value].values()
        group["colour"] = COLOURS[max(ranks, default=0)]
        group["households"] = _counts(Counter(COLOURS[r] for r in ranks))
        group["people"] = _counts(group["people"])
        group["card"] = card_colour(group["vaccinated"], group["residents"])
        group["rate"] = round(group["vaccinated"] / group["residents"], 4)
    return out


def _empty() -> dict[str, Any]:
    zero = {c: 0 for c in COLOURS}
    return {
        "colour": "none",
        "households": zero,
        "people": zero,
        "residents": 0,
        "vaccinated": 0,
        "rate": None,
        "card": None,
    }


async def four_colour_map(
    db: Db, schema: str, area: Area, at: datetime, full_doses: int
) -> dict[str, Any]:
    """The area's totals, its children's roll-ups and, below a sub-district, its buildings
    (and, for a building, its households), each with colours, counts and the card."""
    people = await person_colours(db, schema, area, at, full_doses)
    for p in people:
        p["all"] = area.id
    result: dict[str, Any] = {
        "area": area.as_json(),
        "at": at.isoformat(),
        "full_doses": full_doses,
        "totals": _rollup(people, "all").get(area.id, _empty()),
    }
    child = area.child_kind
    if child and child != "household":
        rollups = _rollup(
            people,
            {
                "sub_district": "sub_district_id",
                "community": "community_id",
                "grid": "grid_id",
                "compound": "compound_id",
                "building": "building_id",
            }[child],
        )
        labels = await names(db, schema, list(rollups))
        result["children"] = [
            {"id": k, "kind": child, "name": labels.get(k, k), **v}
            for k, v in sorted(rollups.items())
        ]
    if area.kind in ("community", "grid", "compound", "building"):
        by_building = _rollup(people, "building_id")
        known = {b["building_id"]: b for b in await buildings_under(db, schema, area)}
        where = {p["building_id"]: (p["grid_id"], p["compound_id"]) for p in people}
        labels = await names(db, schema, list(set(by_building) | set(known)))
        buildings = []
        for building_id in sorted(set(by_building) | set(known)):
            grid, compound = where.get(building_id) or (
                known[building_id]["grid_id"],
                known[building_id]["compound_id"],
            )
            buildings.append(
                {
                    "id": building_id,
                    "name": labels.get(building_id, building_id),
                    "grid_id": grid,
                    "compound_id": compound,
                    **by_building.get(building_id, _empty()),
                }
            )
        result["buildings"] = buildings
    if area.kind == "building":
        by_household = _rollup(people, "household_id")
        result["households"] = [{"id": k, "name": k, **v} for k, v in sorted(by_household.items())]
    return result

"""The four-colour map (四色图) and the three-colour card (三色牌) of an area at a moment.

A person's colour is the strongest of: red (centralized isolation), brown (home
isolation), yellow (home health monitoring), blue (fewer doses than ``full_doses``),
none. A household shows its strongest resident, a building its strongest household.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from cordon_projector.domain.rules import (
    COLOURS,
    LEVEL_RANK,
    RESIDENT_COLUMN,
    UNVACCINATED_RANK,
    card_colour,
)
from cordon_projector.read_models.areas import Area, Db, buildings_under, names


def active_levels_sql(schema: str, at: str, among: str | None = None) -> str:
    """Each order in force at ``at`` (a SQL parameter) with its level at that moment.

    ``among`` is a SQL condition on the order ``o`` that narrows the orders before their
    levels are looked up (an area's people, its communities): with a district's hundreds of
    thousands of orders, a page about one community must not look at all of them."""
    narrowed = f" AND ({among})" if among else ""
    # The row holds the level in force since ``level_since``: only a moment before that
    # looks through the history (PostgreSQL runs a CASE branch's subquery only when taken).
    return f"""SELECT o.order_id, o.person_id, o.community_id, o.starts_at, o.planned_end_at,
                      o.reason, o.place_kind, o.place_id,
                      CASE WHEN o.level_since IS NULL OR o.level_since <= {at} THEN o.level
                      ELSE coalesce((SELECT c.to_level FROM {schema}.isolation_level_change c
                                     WHERE c.order_id = o.order_id AND c.changed_at <= {at}
                                     ORDER BY c.changed_at DESC LIMIT 1), o.initial_level)
                      END AS level
               FROM {schema}.isolation_order o
               WHERE NOT o.cancelled AND o.starts_at <= {at}
                 AND (o.ended_at IS NULL OR o.ended_at > {at}){narrowed}"""


NARROWED_KINDS = ("community", "grid", "compound", "building")
"""Areas small enough that looking up their residents first pays: for a sub-district or the
district, the residents are most of the table, and PostgreSQL does better without the list
(measured with 10 communities: the district's ledger went from 2.7 s to over 60 s with it)."""


def residents_of(schema: str, area: Area, param: str) -> str | None:
    """SQL condition on an order ``o``: its person lives in the area (``param`` its id);
    None (no narrowing) above a community."""
    if area.kind not in NARROWED_KINDS:
        return None
    return (
        f"o.person_id IN (SELECT person_id FROM {schema}.resident"
        f" WHERE present AND {area.column} = {param})"
    )


def level_rank_sql(column: str) -> str:
    """SQL for the rank (``LEVEL_RANK``) of the isolation level in ``column``: the rules'
    one table, written out as a CASE so PostgreSQL can aggregate by colour."""
    ranks = " ".join(f"WHEN '{level}' THEN {rank}" for level, rank in LEVEL_RANK.items())
    return f"CASE {column} {ranks} ELSE 0 END"


RANKS = range(len(COLOURS))


async def rollups(
    db: Db, schema: str, area: Area, at: datetime, full_doses: int, keys: dict[str, str]
) -> dict[str, dict[str, dict[str, Any]]]:
    """Per level of ``keys`` (level -> resident column) and value of that column, among the
    area's present residents: colour, households and people by colour, and the card.

    Aggregated by PostgreSQL: a district's tens of thousands of people never travel to
    Python, only a row per area, child, building or household."""
    # People are reduced to households first (a community's 50,000 residents become 16,000
    # rows), and every level is rolled up from those: grouping people once per level cost
    # three times the rows, and spilled to disk.
    columns = sorted({c for c in keys.values() if c != "household_id"} | {"grid_id", "compound_id"})
    kept = ", ".join(f"max({c}) AS {c}" for c in columns)
    keyed = " UNION ALL ".join(
        f"SELECT '{level}' AS level, {column} AS k, rank, residents, vaccinated, grid_id,"
        f" compound_id, {', '.join(f'p{r}' for r in RANKS)} FROM households"
        for level, column in keys.items()
    )
    people_by_rank = ", ".join(f"count(*) FILTER (WHERE rank = {r}) AS p{r}" for r in RANKS)
    sums = ", ".join(f"sum(p{r})::int AS p{r}" for r in RANKS)
    households_by_rank = ", ".join(
        f"count(*) FILTER (WHERE rank = {r})::int AS h{r}" for r in RANKS
    )
    rows = await db.fetch(
        f"""WITH active AS ({active_levels_sql(schema, "$2", residents_of(schema, area, "$1"))}),
            iso AS (SELECT person_id, max({level_rank_sql("level")}) AS rank
                    FROM active GROUP BY person_id),
            people AS (
                SELECT r.district, r.sub_district_id, r.community_id, r.grid_id, r.compound_id,
                       r.building_id, r.household_id,
                       greatest(coalesce(iso.rank, 0),
                                CASE WHEN coalesce(d.doses, 0) < $3
                                     THEN {UNVACCINATED_RANK} ELSE 0 END) AS rank,
                       coalesce(d.doses, 0) >= $3 AS vaccinated
                FROM {schema}.resident r
                LEFT JOIN {schema}.resident_dose d USING (person_id)
                LEFT JOIN iso USING (person_id)
                WHERE r.present AND r.{area.column} = $1),
            households AS MATERIALIZED (
                SELECT household_id, {kept}, max(rank) AS rank, {people_by_rank},
                       count(*) AS residents, count(*) FILTER (WHERE vaccinated) AS vaccinated
                FROM people GROUP BY household_id),
            keyed AS ({keyed})
            SELECT level, k, max(rank) AS colour, {households_by_rank}, {sums},
                   sum(residents)::int AS residents, sum(vaccinated)::int AS vaccinated,
                   max(grid_id) AS grid_id, max(compound_id) AS compound_id
            FROM keyed GROUP BY level, k""",
        area.id,
        at,
        full_doses,
    )
    out: dict[str, dict[str, dict[str, Any]]] = {level: {} for level in keys}
    for row in rows:
        residents, vaccinated = row["residents"], row["vaccinated"]
        out[row["level"]][row["k"]] = {
            "people": {c: row[f"p{r}"] for r, c in enumerate(COLOURS)},
            "residents": residents,
            "vaccinated": vaccinated,
            "colour": COLOURS[row["colour"]],
            "households": {c: row[f"h{r}"] for r, c in enumerate(COLOURS)},
            "card": card_colour(vaccinated, residents),
            "rate": round(vaccinated / residents, 4),
            "grid_id": row["grid_id"],
            "compound_id": row["compound_id"],
        }
    return out


def _figures(rollup: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in rollup.items() if k not in ("grid_id", "compound_id")}


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
    child = area.child_kind
    keys = {"totals": area.column}
    if child and child != "household":
        keys["children"] = RESIDENT_COLUMN[child]
    if area.kind in ("community", "grid", "compound", "building"):
        keys["buildings"] = "building_id"
    if area.kind == "building":
        keys["households"] = "household_id"
    levels = await rollups(db, schema, area, at, full_doses, keys)
    totals = levels["totals"].get(area.id)
    result: dict[str, Any] = {
        "area": area.as_json(),
        "at": at.isoformat(),
        "full_doses": full_doses,
        "totals": _figures(totals) if totals else _empty(),
    }
    if "children" in levels:
        children = levels["children"]
        labels = await names(db, schema, list(children))
        result["children"] = [
            {"id": k, "kind": child, "name": labels.get(k, k), **_figures(v)}
            for k, v in sorted(children.items())
        ]
    if "buildings" in levels:
        by_building = levels["buildings"]
        known = {b["building_id"]: b for b in await buildings_under(db, schema, area)}
        labels = await names(db, schema, list(set(by_building) | set(known)))
        buildings = []
        for building_id in sorted(set(by_building) | set(known)):
            lived_in = by_building.get(building_id)
            place = lived_in or known[building_id]
            buildings.append(
                {
                    "id": building_id,
                    "name": labels.get(building_id, building_id),
                    "grid_id": place["grid_id"],
                    "compound_id": place["compound_id"],
                    **(_figures(lived_in) if lived_in else _empty()),
                }
            )
        result["buildings"] = buildings
    if "households" in levels:
        result["households"] = [
            {"id": k, "name": k, **_figures(v)} for k, v in sorted(levels["households"].items())
        ]
    return result

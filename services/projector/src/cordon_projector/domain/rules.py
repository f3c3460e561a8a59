"""The dashboards' rules in plain Python: colours, the vaccination card and report days."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

COLOURS = ("none", "blue", "yellow", "brown", "red")
"""Four-colour map (四色图), weakest first: a person shows their strongest colour, a household
its strongest resident, a building its strongest household. A colour's rank is its index."""
UNVACCINATED_RANK = COLOURS.index("blue")
"""Fewer doses than a full course."""
LEVEL_RANK = {
    "monitoring": COLOURS.index("yellow"),
    "home": COLOURS.index("brown"),
    "centralized": COLOURS.index("red"),
}
"""居家健康监测 yellow, 居家隔离 brown, 集中隔离 red: each isolation level's rank."""

HIERARCHY = ("district", "sub_district", "community", "grid", "compound", "building", "household")
RESIDENT_COLUMN = {
    "district": "district",
    "sub_district": "sub_district_id",
    "community": "community_id",
    "grid": "grid_id",
    "compound": "compound_id",
    "building": "building_id",
    "household": "household_id",
}


def child_kind(kind: str) -> str | None:
    at = HIERARCHY.index(kind)
    return HIERARCHY[at + 1] if at + 1 < len(HIERARCHY) else None


def card_colour(vaccinated: int, residents: int) -> str | None:
    """Three-colour card (三色牌): green >= 95%, yellow 90% to 95%, red < 90%; None when
    nobody lives there."""
    if residents == 0:
        return None
    rate = vaccinated / residents
    if rate >= 0.95:
        return "green"
    return "yellow" if rate >= 0.90 else "red"


def day_bounds(day: date, timezone: ZoneInfo) -> tuple[datetime, datetime]:
    """The UTC instants a local report day starts and ends (midnight to midnight)."""
    start = datetime.combine(day, time(0), timezone)
    end = datetime.combine(day + timedelta(days=1), time(0), timezone)
    return start.astimezone(UTC), end.astimezone(UTC)

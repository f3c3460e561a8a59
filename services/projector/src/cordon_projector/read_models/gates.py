"""Live gates: per checkpoint and community, today's counts and a per-minute series."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from cordon_core.envelope import local_day
from cordon_projector.domain.rules import day_bounds
from cordon_projector.projections.live_gates import COUNTERS, minute_of
from cordon_projector.read_models.areas import Area, Db, communities_in

SUMS = ", ".join(f"coalesce(sum({c}), 0)::int AS {c}" for c in COUNTERS)


async def live_gates(
    db: Db, schema: str, area: Area, at: datetime, timezone: ZoneInfo, minutes: int = 60
) -> dict[str, Any]:
    communities = await communities_in(db, schema, area)
    start, end = day_bounds(local_day(at, timezone), timezone)
    today = dict(
        await db.fetchrow(
            f"SELECT {SUMS} FROM {schema}.gate_minute"
            " WHERE community_id = ANY($1) AND minute >= $2 AND minute < $3",
            communities,
            start,
            end,
        )
    )
    checkpoints = await db.fetch(
        f"""SELECT checkpoint_id, community_id, {SUMS} FROM {schema}.gate_minute
            WHERE community_id = ANY($1) AND minute >= $2 AND minute < $3
            GROUP BY checkpoint_id, community_id ORDER BY community_id, checkpoint_id""",
        communities,
        start,
        end,
    )
    reasons = await db.fetch(
        f"""SELECT reason, sum(denials)::int AS denials FROM {schema}.gate_denial_minute
            WHERE community_id = ANY($1) AND minute >= $2 AND minute < $3
            GROUP BY reason ORDER BY 2 DESC, 1""",
        communities,
        start,
        end,
    )
    first = minute_of(at) - timedelta(minutes=minutes - 1)
    series = await db.fetch(
        f"""SELECT m AS minute, {SUMS}
            FROM generate_series($2::timestamptz, $3::timestamptz, interval '1 minute') AS m
            LEFT JOIN {schema}.gate_minute g ON g.minute = m AND g.community_id = ANY($1)
            GROUP BY m ORDER BY m""",
        communities,
        first,
        minute_of(at),
    )
    return {
        "area": area.as_json(),
        "at": at.isoformat(),
        "day": local_day(at, timezone).isoformat(),
        "communities": communities,
        "today": today,
        "checkpoints": [dict(r) for r in checkpoints],
        "denials_by_reason": {r["reason"]: r["denials"] for r in reasons},
        "series": [{**dict(r), "minute": r["minute"].isoformat()} for r in series],
    }

"""Reading the scan context (``domain.context``): everything a batch of scans is decided
from, in one round trip."""

from __future__ import annotations

import hashlib
import json
import uuid
from collections import defaultdict
from collections.abc import Iterable, Sequence
from datetime import date

import asyncpg

from cordon_gate.domain.context import ScanContext
from cordon_gate.domain.restrictions import PersonRestrictions
from cordon_gate.domain.state import Checkpoint, GatePolicy, PassState, PersonStatus


def sha256(secret: str) -> bytes:
    return hashlib.sha256(secret.encode()).digest()


PASS_COLUMNS = """p.pass_id, p.kind, p.holder_person_id, p.community_id, p.valid_from,
    p.valid_until, p.daily_exit_quota, p.revoked, p.version"""


async def load_scan_context(
    conn: asyncpg.Connection,
    schema: str,
    event_ids: Sequence[uuid.UUID],
    checkpoint_ids: Iterable[str],
    pass_codes: Iterable[str],
    days: Iterable[date],
    person_ids: Iterable[str],
) -> ScanContext:
    """Everything a batch of scans is decided from, in one round trip: which of
    ``event_ids`` are stored already, the checkpoints, their communities' policies, the
    passes by code, and for the people scanned (``person_ids``: residents and visitors,
    and the holders of the passes) their status, restrictions, unrevoked passes and
    exits counted on ``days``."""
    by_hash = {sha256(code): code for code in pass_codes}
    row = await conn.fetchrow(
        f"""WITH who AS (
                -- One array, not an OR: the primary keys are searched with it, also
                -- in the generic plan a prepared statement gets after five runs.
                SELECT $5::text[] || ARRAY(
                    SELECT holder_person_id FROM {schema}.passes
                    WHERE code_sha256 = ANY($3::bytea[])) AS ids)
            SELECT
            array(SELECT event_id FROM {schema}.events
                  WHERE event_id = ANY($1::uuid[])) AS stored,
            array(SELECT row(checkpoint_id, community_id, compound_id, name, is_open,
                             requires_negative_test, negative_test_hours)
                  FROM {schema}.checkpoints
                  WHERE checkpoint_id = ANY($2::text[])) AS checkpoints,
            array(SELECT row(community_id, policy::text) FROM {schema}.policies
                  WHERE community_id IN (SELECT community_id FROM {schema}.checkpoints
                                         WHERE checkpoint_id = ANY($2::text[]))
                 ) AS policies,
            array(SELECT row(p.code_sha256, {PASS_COLUMNS})
                  FROM {schema}.passes p
                  WHERE p.code_sha256 = ANY($3::bytea[])) AS passes,
            array(SELECT row({PASS_COLUMNS})
                  FROM {schema}.passes p
                  WHERE p.holder_person_id = ANY((SELECT ids FROM who)::text[])
                    AND NOT p.revoked) AS held,
            array(SELECT row(person_id, community_id, isolation_level,
                             last_negative_test_at, as_of, residence_type)
                  FROM {schema}.person_status
                  WHERE person_id = ANY((SELECT ids FROM who)::text[])) AS people,
            array(SELECT row(person_id, community_id, barred, daily_exit_quota, version)
                  FROM {schema}.person_restrictions
                  WHERE person_id = ANY((SELECT ids FROM who)::text[])) AS restrictions,
            array(SELECT row(person_id, community_id, day, exits)
                  FROM {schema}.person_daily_exits
                  WHERE person_id = ANY((SELECT ids FROM who)::text[])
                    AND day = ANY($4::date[])) AS exits""",
        list(event_ids),
        list(set(checkpoint_ids)),
        list(by_hash),
        list(set(days)),
        list(set(person_ids)),
    )
    assert row is not None
    checkpoints = {r[0]: Checkpoint(*r) for r in row["checkpoints"]}
    found = {r[0]: GatePolicy(**json.loads(r[1])) for r in row["policies"]}
    held: dict[tuple[str, str], list[PassState]] = defaultdict(list)
    for r in row["held"]:
        pass_ = PassState(*r)
        held[(pass_.holder_person_id, pass_.community_id)].append(pass_)
    return ScanContext(
        stored=set(row["stored"]),
        checkpoints=checkpoints,
        policies={
            c.community_id: found.get(c.community_id, GatePolicy(c.community_id))
            for c in checkpoints.values()
        },
        passes={by_hash[r[0]]: PassState(*r[1:]) for r in row["passes"]},
        people={r[0]: PersonStatus(*r) for r in row["people"]},
        restrictions={(r[0], r[1]): PersonRestrictions(*r[2:]) for r in row["restrictions"]},
        held={k: tuple(v) for k, v in held.items()},
        exits={(r[0], r[1], r[2]): r[3] for r in row["exits"]},
    )

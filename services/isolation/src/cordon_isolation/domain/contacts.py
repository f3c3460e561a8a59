"""Close-contact candidates of a positive person, and how the policy ranks them: plain data
over what the read models found (shared passages, household, building)."""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

from cordon_contracts.isolation import ContactEvidence, ContactRankKey

EVIDENCE_SHOWN = 10
"""Shared passages listed per candidate, closest first (the count says how many in all)."""


@dataclass(frozen=True)
class SharedPassage:
    """The candidate passed ``checkpoint_id`` at ``their_at``, ``gap_s`` seconds from the
    positive person's passage at ``index_at`` (negative: before it)."""

    checkpoint_id: str
    their_at: datetime
    index_at: datetime
    gap_s: float


@dataclass(frozen=True)
class Candidate:
    candidate_id: str
    evidence: tuple[ContactEvidence, ...]
    subject_kind: str | None = None
    shared_passages: int = 0
    closest_gap_s: float | None = None
    passages: tuple[SharedPassage, ...] = ()
    via: str | None = None
    active_order: dict[str, str] | None = None
    decision: str | None = None


Pair = tuple[str, str, str, datetime, datetime]
"""(candidate id, subject kind, checkpoint, their time, the positive person's time)."""


def shared_candidates(pairs: Iterable[Pair], via: str | None = None) -> list[Candidate]:
    """One candidate per person found near the positive person's passages: how many of those
    passages they shared, the closest gap, and the closest ``EVIDENCE_SHOWN`` pairs."""
    by_person: dict[str, list[Pair]] = {}
    for pair in pairs:
        by_person.setdefault(pair[0], []).append(pair)
    found = []
    for person, theirs in by_person.items():
        # Sorted as plain tuples; only the pairs shown become objects (thousands of
        # candidates at busy gates).
        gaps = sorted(((at - index_at).total_seconds(), cp, at, index_at)
                      for _, _, cp, at, index_at in theirs)  # fmt: skip
        gaps.sort(key=lambda g: abs(g[0]))
        found.append(
            Candidate(
                candidate_id=person,
                evidence=("contact_of_contact",) if via else ("passage",),
                subject_kind=theirs[0][1],
                shared_passages=len({(p[2], p[4]) for p in theirs}),
                closest_gap_s=abs(gaps[0][0]),
                passages=tuple(
                    SharedPassage(cp, at, index_at, gap)
                    for gap, cp, at, index_at in gaps[:EVIDENCE_SHOWN]
                ),
                via=via,
            )
        )
    return found


def _key(candidate: Candidate, rank: ContactRankKey) -> float:
    if rank == "household":
        return 0 if "household" in candidate.evidence else 1
    if rank == "building":
        return 0 if "building" in candidate.evidence else 1
    if rank == "shared_passages":
        return -candidate.shared_passages
    gap = candidate.closest_gap_s
    return math.inf if gap is None else gap


def ranked(candidates: list[Candidate], ranking: tuple[ContactRankKey, ...]) -> list[Candidate]:
    """Ring one before ring two, then the policy's keys in its order, then the id (a stable
    answer for equal candidates)."""
    return sorted(
        candidates,
        key=lambda c: (c.via is not None, *(_key(c, r) for r in ranking), c.candidate_id),
    )


def as_json(candidate: Candidate) -> dict[str, Any]:
    """The candidate as the API answers it (``dataclasses.asdict`` and FastAPI's encoder
    took longer than the query for a few hundred candidates)."""
    c = candidate
    return {
        "candidate_id": c.candidate_id, "evidence": list(c.evidence),
        "subject_kind": c.subject_kind, "shared_passages": c.shared_passages,
        "closest_gap_s": c.closest_gap_s,
        "passages": [
            {"checkpoint_id": p.checkpoint_id, "their_at": p.their_at.isoformat(),
             "index_at": p.index_at.isoformat(), "gap_s": p.gap_s}
            for p in c.passages
        ],
        "via": c.via, "active_order": c.active_order, "decision": c.decision,
    }  # fmt: skip


@dataclass
class CandidateList:
    """Candidates by id, merged from each source as it is read (ring one first: a second-ring
    find of someone already listed adds nothing)."""

    person_id: str
    found: dict[str, Candidate] = field(default_factory=dict)

    def add(self, candidate: Candidate) -> None:
        known = self.found.get(candidate.candidate_id)
        if candidate.candidate_id == self.person_id:
            return
        if known is None:
            self.found[candidate.candidate_id] = candidate
        elif candidate.via is None:
            more = candidate if candidate.shared_passages else known
            self.found[candidate.candidate_id] = replace(
                more,
                evidence=tuple(dict.fromkeys((*known.evidence, *candidate.evidence))),
                subject_kind=known.subject_kind or candidate.subject_kind,
            )

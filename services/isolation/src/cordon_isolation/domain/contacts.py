"""Close-contact candidates of a positive person, and how the policy ranks them: plain data
over what the read models found (shared passages, household, building)."""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace
from datetime import datetime

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

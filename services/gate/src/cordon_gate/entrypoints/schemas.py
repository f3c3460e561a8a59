"""The shapes devices and the office send, validated field by field: a scan, a visitor's
document, an office note."""

from __future__ import annotations

import re
import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Annotated, Literal, Self

from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel, ConfigDict, Field, StringConstraints, model_validator

from cordon_contracts.gate import SubjectKind, VisitPurpose
from cordon_core.inputs import Flag, Moment, Number, Text
from cordon_core.schema_rules import exactly_one_of
from cordon_gate.adapters.pseudonyms import Pseudonymizer
from cordon_gate.domain.batch import IncomingScan, VisitorIdentity
from cordon_gate.domain.decisions import Scan
from cordon_gate.domain.windows import Windows

Id = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9_.-]{1,64}$")]
PHONE = re.compile(r"^\+?[0-9][0-9 -]{5,19}$")
PLATE = re.compile(r"^[\u4e00-\u9fa5A-Z][\u4e00-\u9fa5A-Z0-9·-]{1,9}$")


class VisitorIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    document_type: Literal["resident_id", "passport", "other"]
    document_number: Text = Field(min_length=4, max_length=40)
    name: Text = Field(min_length=1, max_length=60)
    phone: str = Field(pattern=PHONE.pattern, description="Digits, optionally with +, - or spaces.")
    reason: Text = Field(
        min_length=1,
        max_length=200,
        description="Why they came, in their words: kept in the gate's private register only.",
    )
    purpose: VisitPurpose = Field(
        default="other", description="Why they came, as the code published on the gate's events."
    )


class ScanIn(BaseModel):
    """One scan. Exactly one of ``person_id`` (a resident's QR code), ``pass_code`` or
    ``visitor`` says who it is."""

    model_config = ConfigDict(
        extra="forbid", json_schema_extra=exactly_one_of("person_id", "pass_code", "visitor")
    )

    scan_id: Id = Field(description="The device's own id; a retry with the same id is a no-op.")
    checkpoint_id: Id
    scanned_at: Moment
    direction: Literal["in", "out"]
    person_id: Id | None = None
    pass_code: Text | None = Field(default=None, min_length=8, max_length=64)
    visitor: VisitorIn | None = None
    temperature_c: Number = Field(ge=34.0, le=43.0, description="Body temperature in °C.")
    health_code: Literal["green", "yellow", "red"]
    itinerary_risk: Flag = Field(
        default=False, description="Itinerary code shows a medium/high-risk area in 14 days."
    )
    # Not Text: like the phone, the pattern admits only storable characters, and a pattern
    # applied over Text's validator would be missing from the published schema.
    vehicle_plate: str | None = Field(
        default=None,
        pattern=PLATE.pattern,
        description="A plate such as 京A12345: 2 to 10 letters, digits or Chinese characters "
        "(too short for a phone or ID number, since it is published).",
    )
    negative_test_at: Moment | None = Field(
        default=None,
        description="Collection time of a negative test certificate shown at the gate.",
    )

    @model_validator(mode="after")
    def exactly_one_subject(self) -> Self:
        given = [n for n in ("person_id", "pass_code", "visitor") if getattr(self, n) is not None]
        if len(given) != 1:
            raise ValueError(
                "exactly one of person_id, pass_code or visitor is required"
                + (f" (got {', '.join(given)})" if given else "")
            )
        return self

    def time_error(self, now: datetime, windows: Windows) -> str | None:
        return windows.scan_time_problem(self.scanned_at, now)

    def incoming(
        self,
        pseudonyms: Pseudonymizer,
        correlation_id: uuid.UUID | None,
        actor: str | None = None,
    ) -> IncomingScan:
        visitor = None
        subject_kind: SubjectKind
        if self.visitor is not None:
            v = self.visitor
            visitor = VisitorIdentity(v.document_type, v.document_number, v.name, v.phone)
            subject_kind, subject_id = (
                "visitor",
                pseudonyms.visitor_id(v.document_type, v.document_number),
            )
        elif self.pass_code is not None:
            subject_kind, subject_id = "pass_holder", self.pass_code
        else:
            assert self.person_id is not None
            subject_kind, subject_id = "resident", self.person_id
        scan = Scan(
            scan_id=self.scan_id,
            checkpoint_id=self.checkpoint_id,
            scanned_at=self.scanned_at,
            direction=self.direction,
            subject_kind=subject_kind,
            subject_id=subject_id,
            temperature_c=self.temperature_c,
            health_code=self.health_code,
            itinerary_risk=self.itinerary_risk,
            vehicle_plate=self.vehicle_plate,
            negative_test_at=self.negative_test_at,
            visit_reason=self.visitor.reason if self.visitor else None,
            visit_purpose=self.visitor.purpose if self.visitor else None,
        )
        return IncomingScan(scan, visitor, correlation_id, actor)


class ScanBatchIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    scans: list[ScanIn] = Field(min_length=1, max_length=1000)


class DecisionOut(BaseModel):
    scan_id: str
    checkpoint_id: str
    decision: Literal["allow", "deny"]
    reasons: list[str]
    alerts: list[str]
    event_id: uuid.UUID
    event_type: str
    policy_version: int
    status_as_of: datetime | None
    duplicate: bool = Field(description="True when this scan id was already decided.")


Note = Annotated[
    Text | None,
    Field(
        default=None,
        max_length=2000,
        description="The office's own words: kept in the gate's private notes, never published.",
    ),
]


class VisitorDocumentIn(BaseModel):
    """A visitor's document, which the gate turns into the visitor id it uses at the gate."""

    model_config = ConfigDict(extra="forbid")

    document_type: Literal["resident_id", "passport", "other"]
    document_number: Text = Field(min_length=4, max_length=40)


def field_error(loc: Sequence[str | int], msg: str) -> RequestValidationError:
    return RequestValidationError([{"loc": tuple(loc), "msg": msg, "type": "value_error"}])

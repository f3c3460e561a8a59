"""Staff members and what their role lets them do, in which community."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, get_args

from cordon_registry.domain.errors import AccessDenied, InvalidInput

Role = Literal["admin", "district_staff", "community_staff", "grid_worker"]
ROLES: tuple[str, ...] = get_args(Role)
Permission = Literal[
    "issue_tokens",
    "manage_district",
    "manage_community",
    "register_residents",
    "read_personal_data",
    "screen_households",
    "erase_personal_data",
    "read_audit",
    "read_places",
]

GRANTS: dict[str, frozenset[str]] = {
    "admin": frozenset(get_args(Permission)),
    "district_staff": frozenset(get_args(Permission)) - {"issue_tokens"},
    "community_staff": frozenset(
        {
            "manage_community",
            "register_residents",
            "read_personal_data",
            "screen_households",
            "read_places",
        }
    ),
    "grid_worker": frozenset({"read_personal_data", "screen_households", "read_places"}),
}
DISTRICT_ROLES = frozenset({"admin", "district_staff"})


@dataclass(frozen=True, slots=True)
class StaffMember:
    """Who is calling: district roles see every community, others only their own."""

    staff_id: str
    role: Role
    community_id: str | None

    def __post_init__(self) -> None:
        if self.role not in ROLES:
            raise InvalidInput("role", f"{self.role!r} is not one of {', '.join(ROLES)}")
        if self.role in DISTRICT_ROLES and self.community_id is not None:
            raise InvalidInput("community_id", f"a {self.role} serves the whole district")
        if self.role not in DISTRICT_ROLES and self.community_id is None:
            raise InvalidInput("community_id", f"a {self.role} belongs to one community")

    def require(self, permission: Permission, community_id: str | None = None) -> None:
        """Refuse unless the role grants ``permission`` in ``community_id`` (None: all)."""
        if permission not in GRANTS[self.role]:
            raise AccessDenied(
                "authorization", f"a {self.role} may not {permission.replace('_', ' ')}"
            )
        if self.role in DISTRICT_ROLES:
            return
        if community_id != self.community_id:
            where = community_id or "the whole district"
            raise AccessDenied(
                "authorization", f"{self.staff_id} serves {self.community_id}, not {where}"
            )

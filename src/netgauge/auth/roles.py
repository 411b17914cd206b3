"""Roles and what each allows: admin ⊃ operator ⊃ viewer."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class Role(StrEnum):
    """viewer reads; operator also changes inventory and jobs; admin also manages users."""

    VIEWER = "viewer"
    OPERATOR = "operator"
    ADMIN = "admin"

    def allows(self, needed: Role) -> bool:
        """Whether this role has at least the rights of ``needed``."""
        return _RANK[self] >= _RANK[needed]


_RANK = {Role.VIEWER: 0, Role.OPERATOR: 1, Role.ADMIN: 2}


@dataclass(frozen=True, slots=True)
class Principal:
    """Who is calling: a user (by password or session) or an API token, with its role."""

    name: str
    role: Role
    via: str  # "password", "session" or "token"

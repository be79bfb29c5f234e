"""Who is asking and what they may do: roles ordered ADMIN > OPERATOR > VIEWER, and principals."""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

from farmctl.errors import FarmctlError


class Role(Enum):
    """What a user or key may do. The values are what the database and the CLI spell."""

    ADMIN = "admin"  # everything, including users, keys and settings
    OPERATOR = "operator"  # run printers and the queue
    VIEWER = "viewer"  # read only

    @property
    def rank(self) -> int:
        return _RANK[self]

    def allows(self, required: Role) -> bool:
        """True when this role may do what ``required`` may: ``Role.ADMIN.allows(Role.VIEWER)``."""
        return self.rank >= required.rank

    @classmethod
    def parse(cls, text: str) -> Role:
        try:
            return cls(text.strip().lower())
        except ValueError:
            known = ", ".join(r.value for r in cls)
            raise FarmctlError(f"unknown role {text!r}; known roles: {known}") from None


_RANK = {Role.VIEWER: 0, Role.OPERATOR: 1, Role.ADMIN: 2}


@dataclass(frozen=True, slots=True)
class Principal:
    """An authenticated caller: by password (key_id None) or by API key; ``session`` once logged in."""

    user: str
    role: Role
    key_id: int | None = None
    session: str | None = None

    def allows(self, required: Role) -> bool:
        return self.role.allows(required)

"""Who is asking: the identity an authenticated request carries, with its role and scopes.

Authentication (access token, token cookie or API key) produces a :class:`Principal`; rate
limits, the tier feature matrix and the admin routes read it. Nothing here touches the
database, so every layer of the API can depend on it.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class Role(StrEnum):
    """A user's tier; ``admin`` has every enterprise right plus user management."""

    EXPLORER = "explorer"
    PROFESSIONAL = "professional"
    ENTERPRISE = "enterprise"
    ADMIN = "admin"


class Scope(StrEnum):
    """What a credential may do. Access tokens carry both; an API key carries those it was
    created with."""

    READ_DATA = "read:data"
    MANAGE_ACCOUNT = "manage:account"


ALL_SCOPES: frozenset[Scope] = frozenset(Scope)


@dataclass(frozen=True, slots=True)
class Principal:
    """The authenticated caller of one request."""

    user_id: int
    role: Role
    scopes: frozenset[Scope] = ALL_SCOPES
    #: Set when the request was authenticated with an API key (its id), else None.
    api_key_id: int | None = None

    @property
    def is_admin(self) -> bool:
        return self.role is Role.ADMIN

    def can(self, scope: Scope) -> bool:
        return scope in self.scopes


@dataclass(frozen=True, slots=True)
class Holder:
    """Who a valid credential (an API key, an access token) belongs to, and until when the
    credential is valid."""

    principal: Principal
    #: When the credential expires (``time.time()`` scale), or None when it does not.
    expires_at: float | None

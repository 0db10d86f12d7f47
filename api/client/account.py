"""The account endpoints: ``/auth`` (for callers who handle tokens themselves: the client's
own session does it for them), ``/me`` (account, API keys, two-factor) and ``/admin``."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Literal

from api.client.operations import When, body, operation
from api.client.resource import Resource
from api.client.results import Page, Result
from api.client.session import LOGIN, LOGOUT, REFRESH, REGISTER, VERIFY_2FA

Role = Literal["explorer", "professional", "enterprise", "admin"]
Scope = Literal["read:data", "manage:account"]

ME = operation("GET", "/me")
DELETE_ME = operation("DELETE", "/me")
PASSWORD = operation("POST", "/me/password")
EXPORT = operation("GET", "/me/export")
KEYS = operation("GET", "/me/keys")
CREATE_KEY = operation("POST", "/me/keys")
REVOKE_KEY = operation("DELETE", "/me/keys/{key_id}")
ENROL_2FA = operation("POST", "/me/2fa/enrol")
CONFIRM_2FA = operation("POST", "/me/2fa/confirm")
DISABLE_2FA = operation("POST", "/me/2fa/disable")
RECOVERY_CODES = operation("POST", "/me/2fa/recovery-codes")
USERS = operation("GET", "/admin/users", "role", "limit", "offset")
UPDATE_USER = operation("PATCH", "/admin/users/{user_id}")
AUDIT = operation(
    "GET",
    "/admin/audit",
    "action",
    "outcome",
    "user_id",
    "since",
    "until",
    "limit",
    "offset",
)
PIPELINE = operation("GET", "/admin/pipeline", rows="tables")


class Auth(Resource):
    """``client.auth``: the raw ``/auth`` calls (answers hold the tokens)."""

    def register(self, email: str, password: str) -> Result:
        """Always 202 with one message, taken email or not; then log in."""
        credentials = body(email=email, password=password)
        return self._result(REGISTER, json=credentials, authenticated=False)

    def login(self, email: str, password: str) -> Result:
        """A token pair, or ``{two_factor_required, challenge_token}``."""
        credentials = body(email=email, password=password)
        return self._result(LOGIN, json=credentials, authenticated=False)

    def verify_2fa(self, challenge_token: str, code: str) -> Result:
        answer = body(challenge_token=challenge_token, code=code)
        return self._result(VERIFY_2FA, json=answer, authenticated=False)

    def refresh(self, refresh_token: str) -> Result:
        """A new pair; ``refresh_token`` is used up (presenting it again ends the session)."""
        token = body(refresh_token=refresh_token)
        return self._result(REFRESH, json=token, authenticated=False)

    def logout(self, refresh_token: str) -> None:
        token = body(refresh_token=refresh_token)
        self._nothing(LOGOUT, json=token, authenticated=False)


class Me(Resource):
    """``client.me``: the signed-in account, its API keys and its second factor."""

    def get(self) -> Result:
        return self._result(ME)

    def delete(self, password: str) -> None:
        """Delete the account and everything it owns (irreversible)."""
        self._nothing(DELETE_ME, json=body(password=password))

    def change_password(self, current_password: str, new_password: str) -> Result:
        """Every other session ends; the answer is a fresh token pair."""
        change = body(current_password=current_password, new_password=new_password)
        return self._result(PASSWORD, json=change)

    def export(self) -> Result:
        """Everything the API holds about the account (GDPR export)."""
        return self._result(EXPORT)

    def keys(self) -> Result:
        return self._result(KEYS)

    def create_key(
        self,
        name: str,
        scopes: Iterable[Scope] = ("read:data",),
        expires_in_days: int | None = None,
    ) -> Result:
        """A new API key; its ``key`` is in this answer only."""
        spec = body(name=name, scopes=list(scopes), expires_in_days=expires_in_days)
        return self._result(CREATE_KEY, json=spec)

    def revoke_key(self, key_id: int) -> None:
        self._nothing(REVOKE_KEY, {"key_id": key_id})

    def enrol_2fa(self, password: str) -> Result:
        """A TOTP secret, its ``otpauth://`` URI and QR code; confirm with a first code."""
        return self._result(ENROL_2FA, json=body(password=password))

    def confirm_2fa(self, code: str) -> Result:
        """Turns 2FA on; the answer holds the recovery codes, shown this once."""
        return self._result(CONFIRM_2FA, json=body(code=code))

    def disable_2fa(self, password: str, code: str) -> None:
        self._nothing(DISABLE_2FA, json=body(password=password, code=code))

    def recovery_codes(self, code: str) -> Result:
        """Ten new recovery codes; the earlier ones stop working."""
        return self._result(RECOVERY_CODES, json=body(code=code))


class Admin(Resource):
    """``client.admin``: users, tiers and the audit log (admins only: 403 otherwise)."""

    def users(self, role: Role | None = None, *, limit: int | None = None, offset: int = 0) -> Page:
        """Users by id, a page at a time."""
        return self._page(USERS, None, {"role": role, "limit": limit, "offset": offset})

    def update_user(
        self, user_id: int, *, role: Role | None = None, is_active: bool | None = None
    ) -> Result:
        """Change a user's tier or (de)activate them."""
        change = body(role=role, is_active=is_active)
        return self._result(UPDATE_USER, {"user_id": user_id}, json=change)

    def audit(
        self,
        *,
        action: str | None = None,
        outcome: Literal["success", "failure", "denied"] | None = None,
        user_id: int | None = None,
        since: When | None = None,
        until: When | None = None,
        limit: int | None = None,
        offset: int = 0,
    ) -> Page:
        """The audit log, newest first, a page at a time."""
        query = {"action": action, "outcome": outcome, "user_id": user_id}
        window = {"since": since, "until": until, "limit": limit, "offset": offset}
        return self._page(AUDIT, None, {**query, **window})

    def pipeline(self) -> Result:
        """Freshness of every table, silver batches, quarantine and models."""
        return self._result(PIPELINE)

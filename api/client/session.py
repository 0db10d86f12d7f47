"""Credentials: an API key, a fixed access token, or an email and password whose session the
client keeps alive (log in, a TOTP code when the account asks for one, refresh-token
rotation before the access token expires and after a ``401``).

The ``/auth`` operations are declared here, the one place that calls them for the session;
:class:`~api.client.account.Auth` exposes the same operations for callers who manage tokens
themselves.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from api.client.errors import AuthenticationError
from api.client.operations import body, operation
from api.client.transport import Transport

REGISTER = operation("POST", "/auth/register")
LOGIN = operation("POST", "/auth/login")
VERIFY_2FA = operation("POST", "/auth/verify-2fa")
REFRESH = operation("POST", "/auth/refresh")
LOGOUT = operation("POST", "/auth/logout")

#: A TOTP code, or what gives one when the API asks (an authenticator, a recovery code).
TotpSource = str | Callable[[], str]


class ApiKey:
    """An API key (``rwa_…``), sent as ``X-API-Key``; it has nothing to refresh."""

    def __init__(self, key: str) -> None:
        self._key = key

    def headers(self, transport: Transport) -> dict[str, str]:
        return {"X-API-Key": self._key}

    def renew(self, transport: Transport) -> bool:
        return False

    def __repr__(self) -> str:  # never the key itself
        return "ApiKey(***)"


class AccessToken:
    """An access token obtained elsewhere, sent as a Bearer credential until it expires."""

    def __init__(self, token: str) -> None:
        self._token = token

    def headers(self, transport: Transport) -> dict[str, str]:
        return {"Authorization": f"Bearer {self._token}"}

    def renew(self, transport: Transport) -> bool:
        return False

    def __repr__(self) -> str:
        return "AccessToken(***)"


@dataclass
class TokenPair:
    # Kept out of repr: a printed client or a traceback must not show a credential.
    access_token: str = field(repr=False)
    refresh_token: str = field(repr=False)
    #: When the access token expires, by :func:`time.monotonic`.
    expires_at: float

    @classmethod
    def of(cls, answer: dict[str, Any]) -> TokenPair:
        return cls(
            answer["access_token"],
            answer["refresh_token"],
            time.monotonic() + float(answer["expires_in"]),
        )


class PasswordLogin:
    """An account's email and password: logs in on the first request, answers the second
    factor with ``totp`` (a code, or a callable asked each time, e.g.
    ``pyotp.TOTP(secret).now``), and rotates the refresh token ``leeway`` seconds before the
    access token expires or when the API refuses it. A refused refresh logs in again."""

    def __init__(
        self, email: str, password: str, totp: TotpSource | None = None, leeway: float = 30.0
    ) -> None:
        self.email = email
        self._password = password
        self._totp = totp
        self.leeway = leeway
        self.tokens: TokenPair | None = None
        # One login or refresh at a time: a refresh token may be presented once only.
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return f"PasswordLogin({self.email!r}, ***)"

    def headers(self, transport: Transport) -> dict[str, str]:
        with self._lock:
            if self.tokens is None:
                self.tokens = self._login(transport)
            elif time.monotonic() >= self.tokens.expires_at - self.leeway:
                self.tokens = self._refreshed(transport, self.tokens)
            return {"Authorization": f"Bearer {self.tokens.access_token}"}

    def renew(self, transport: Transport) -> bool:
        with self._lock:
            self.tokens = (
                self._login(transport)
                if self.tokens is None
                else self._refreshed(transport, self.tokens)
            )
        return True

    def logout(self, transport: Transport) -> None:
        """End the session on the API (its refresh tokens stop working)."""
        with self._lock:
            if self.tokens is not None:
                refresh = self.tokens.refresh_token
                transport.call(LOGOUT, json=body(refresh_token=refresh), authenticated=False)
                self.tokens = None

    def _login(self, transport: Transport) -> TokenPair:
        credentials = body(email=self.email, password=self._password)
        answer = transport.call(LOGIN, json=credentials, authenticated=False).json()
        if answer.get("two_factor_required"):
            if self._totp is None:
                raise AuthenticationError(
                    401, "the account has two-factor authentication: pass totp= to the client"
                )
            code = self._totp() if callable(self._totp) else self._totp
            second = body(challenge_token=answer["challenge_token"], code=code)
            answer = transport.call(VERIFY_2FA, json=second, authenticated=False).json()
        return TokenPair.of(answer)

    def _refreshed(self, transport: Transport, tokens: TokenPair) -> TokenPair:
        try:
            answer = transport.call(
                REFRESH, json=body(refresh_token=tokens.refresh_token), authenticated=False
            ).json()
        except AuthenticationError:
            # Expired, or the session was ended (password change, logout): start anew.
            return self._login(transport)
        return TokenPair.of(answer)
